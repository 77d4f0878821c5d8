//! `clawc`: the command-line edge. Diagnostics are rendered (miette) here and only here.
#![allow(
    clippy::disallowed_methods,
    reason = "the CLI is where IO happens; the IO ban in clippy.toml is for spec-lang"
)]

mod cli;
mod commands;
mod exit;
mod lower;
mod render;
mod sources;

use std::process::ExitCode;

use clap::Parser;

// `check` allocates many small, short-lived nodes per spec; mimalloc cuts its instruction count
// by about a sixth against glibc's malloc (callgrind, `cargo bench -p clawc --bench check`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The sandbox init runs *inside* a sandbox from this same executable: no clap, no logging.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == commands::INIT_SUBCOMMAND)
    {
        let code = claw_runtime::init::run_from_args(std::env::args_os().skip(2).collect());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }

    let cli = cli::Cli::parse();
    cli.global.install_logging();
    let code = commands::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
