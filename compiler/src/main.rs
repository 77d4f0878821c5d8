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
    // Started as `/run/clawc/init` (its path inside every sandbox) or with the hidden
    // subcommand.
    let mut args = std::env::args_os();
    let argv0 = args.next();
    let as_init = if argv0.is_some_and(|a| a == claw_runtime::init::PATH_INSIDE) {
        Some(args.collect())
    } else if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == commands::INIT_SUBCOMMAND)
    {
        Some(std::env::args_os().skip(2).collect())
    } else {
        None
    };
    if let Some(init_args) = as_init {
        let code = claw_runtime::init::run_from_args(init_args);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }

    let cli = cli::Cli::parse();
    cli.global.install_logging();
    let code = commands::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
