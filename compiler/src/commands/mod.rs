//! One module per subcommand; each returns the process exit code.

mod build;
pub(crate) mod check;
mod diff;
mod explain;
mod fmt;
mod fuzz;
mod init;
mod review;
pub(crate) mod sandbox;
mod schema;
mod verify;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::exit;
use crate::sources::{self, SpecFile};

use crate::cli::{Cli, Command, Global, ReviewCommand, SandboxCommand};

pub fn run(cli: Cli) -> i32 {
    let global = &cli.global;
    match cli.command {
        Command::Check { paths, format } => check::run(&paths, format, global),
        Command::Fmt { check, paths } => fmt::run(&paths, check, global),
        Command::Schema { spec, tool, ir } => {
            schema::run(spec.as_deref(), tool.as_deref(), ir, global)
        }
        Command::Init { name, dir } => init::run(&name, &dir, global),
        Command::Explain { code } => explain::run(code.as_deref()),
        Command::Sandbox(SandboxCommand::Exec(args)) => sandbox::exec(args, global),
        Command::Build(args) => build::run(args, global),
        Command::Verify {
            format,
            backend,
            require_signoff,
            signers_from,
            fuzz,
            seed,
        } => {
            let signoff = require_signoff.then_some(signers_from.as_str());
            verify::run(format, backend, signoff, hardening(fuzz, seed), global)
        }
        Command::Test {
            names,
            backend,
            fuzz,
            seed,
        } => verify::test(&names, backend, hardening(fuzz, seed), global),
        Command::Diff {
            names,
            base,
            format,
            fail_on,
        } => diff::run(&names, &base, format, fail_on, global),
        Command::Review(ReviewCommand::Approve { name, key }) => {
            review::approve(&name, key.as_deref(), global)
        }
    }
}

/// `--fuzz N [--seed S]` as a hardening run's options.
fn hardening(count: Option<usize>, seed: Option<u64>) -> Option<crate::build::fuzz::run::Options> {
    count.map(|count| crate::build::fuzz::run::Options {
        count,
        seed: fuzz::seed(seed),
    })
}

/// How a walk over spec files went.
struct Walked {
    /// Files found.
    found: usize,
    /// Files that could not be read (each reported already).
    unreadable: usize,
}

/// Discover the specs under `paths` (default `specs/`), read each and hand it to `visit`.
/// Read errors are reported and counted, not fatal; a bad path, or no spec at all, is a usage
/// error returned as its exit code.
fn for_each_spec(paths: &[PathBuf], mut visit: impl FnMut(SpecFile)) -> Result<Walked, i32> {
    let specs = sources::discover(paths).map_err(|e| {
        error(e);
        exit::USAGE
    })?;
    if specs.is_empty() {
        error(format!("no .claw files found in {}", shown_paths(paths)));
        return Err(exit::USAGE);
    }
    let mut unreadable = 0;
    for path in &specs {
        match sources::read(path) {
            Ok(file) => visit(file),
            Err(e) => {
                error(e);
                unreadable += 1;
            }
        }
    }
    Ok(Walked {
        found: specs.len(),
        unreadable,
    })
}

fn shown_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return sources::DEFAULT_DIR.to_owned();
    }
    paths
        .iter()
        .map(|p| Path::display(p).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Write to stdout; a closed pipe (`clawc check | head`) is not an error worth a panic.
fn print_stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Messages for people: errors always, notes unless `-q`.
fn print_stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// The project around the working directory; an unreadable working directory is a usage
/// error (reported), returned as its exit code.
fn discover_project() -> Result<crate::build::project::Project, i32> {
    match std::env::current_dir() {
        Ok(cwd) => Ok(crate::build::project::Project::discover(&cwd)),
        Err(e) => {
            error(format!("the working directory: {e}"));
            Err(exit::USAGE)
        }
    }
}

fn error(message: impl std::fmt::Display) {
    print_stderr(&format!("error: {message}\n"));
}

fn note(global: &Global, message: impl std::fmt::Display) {
    if !global.quiet {
        print_stderr(&format!("{message}\n"));
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
