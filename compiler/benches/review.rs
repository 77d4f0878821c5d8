//! `cargo bench -p clawc --bench review`: how fast `clawc diff` is over a pull request that
//! touches many integrations a little.
//!
//! A git repository of 100 pinned integrations (copies of the `clawc init` spec, pinned
//! through the replay generator), committed; then every spec gets a small change (a raised
//! memory limit, a widening) and is re-pinned. Timed: `clawc diff` (text, markdown, json) of
//! all 100 against `HEAD` — target under 200 ms — with `git diff --stat HEAD` of the same
//! change, timed in the same run, as the anchor.
//!
//! `CLAWC_BENCH_RUNS` sets the repetitions (default 7), `CLAWC_BENCH_SPECS` the count (100);
//! `CLAWC_BENCH_KEEP=1` keeps the repository (to profile in).
#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    reason = "a benchmark reports on stdout and does IO"
)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod common;

use common::{clawc, env_number, make_corpus, median, ms};

fn main() {
    let runs = env_number("CLAWC_BENCH_RUNS", 7);
    let count = env_number("CLAWC_BENCH_SPECS", 100);
    let project = tempfile::tempdir().expect("tempdir");
    let root = project.path();
    make_corpus(root, count);
    std::fs::write(root.join(".gitignore"), ".clawc/\n").expect("gitignore");
    build(root);
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    for i in 0..count {
        let path = root.join(format!("specs/echo_{i:04}.claw"));
        let spec = std::fs::read_to_string(&path).expect("spec");
        std::fs::write(&path, spec.replacen("memory 128MiB", "memory 256MiB", 1)).expect("edit");
    }
    build(root);

    let time = |args: &[&str]| {
        median(runs, || {
            let start = Instant::now();
            let out = clawc(root, args);
            let elapsed = start.elapsed();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let shown = String::from_utf8_lossy(&out.stdout);
            assert!(shown.contains("memory raised"), "{args:?} shows the change");
            elapsed
        })
    };
    let text = time(&["diff"]);
    let markdown = time(&["diff", "--format", "markdown"]);
    let json = time(&["diff", "--format", "json"]);
    let git_stat = median(runs, || {
        let start = Instant::now();
        git(root, &["diff", "--stat", "HEAD"]);
        start.elapsed()
    });
    if std::env::var_os("CLAWC_BENCH_KEEP").is_some() {
        println!("kept: {}", project.keep().display());
    }
    println!(
        "clawc diff of {count} integrations, each with a raised limit and re-pinned: median text {:.1} ms, markdown {:.1} ms, json {:.1} ms (target < 200 ms: {:.2}x of it); git diff --stat HEAD {:.1} ms (clawc/git = {:.1})",
        ms(text),
        ms(markdown),
        ms(json),
        ms(text.max(markdown).max(json)) / 200.0,
        ms(git_stat),
        ms(text) / ms(git_stat)
    );
}

fn build(root: &Path) {
    let out = clawc(
        root,
        &["build", "--generator", "replay", "--jobs", "4", "-q"],
    );
    assert!(
        out.status.success(),
        "build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(root)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
