//! `clawc`: the command-line edge. Diagnostics are rendered (miette) here and only here.
#![allow(
    clippy::disallowed_methods,
    reason = "the CLI is where IO happens; the IO ban in clippy.toml is for spec-lang"
)]

mod build;
mod cli;
mod commands;
mod exit;
mod lower;
mod render;
mod review;
mod sources;

use std::process::ExitCode;

use clap::Parser;

// `check` allocates many small, short-lived nodes per spec; mimalloc cuts its instruction count
// by about a sixth against glibc's malloc (callgrind, `cargo bench -p clawc --bench check`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Where no `claw-sandbox-init` is installed beside it, clawc is its own sandbox init: started
    // as `/run/clawc/init` (its path in every sandbox), it acts as init — no clap, no logging.
    let mut args = std::env::args_os();
    if args
        .next()
        .is_some_and(|argv0| argv0 == claw_runtime::init::PATH_INSIDE)
    {
        let code = claw_runtime::init::run_from_args(args.collect());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }

    let cli = cli::Cli::parse();
    cli.global.install_logging();
    let code = commands::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
