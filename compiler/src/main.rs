//! `clawc`: the command-line edge. Diagnostics are rendered (miette) here and only here.
fn main() {}
