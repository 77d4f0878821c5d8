//! `clawc`: the command-line edge. Diagnostics are rendered (miette) here and only here.
#![allow(
    clippy::disallowed_methods,
    reason = "the CLI is where IO happens; the IO ban in clippy.toml is for spec-lang"
)]

mod cli;
mod commands;
mod exit;
mod render;
mod sources;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli.global.install_logging();
    let code = commands::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
