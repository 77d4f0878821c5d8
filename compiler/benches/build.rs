//! `cargo bench -p clawc --bench build`: how fast `clawc build` is when there is little or
//! nothing to do, and what acceptance costs.
//!
//! 1. No-op build over 1,000 pinned specs (the real `clawc` binary; copies of the `clawc init`
//!    spec, renamed, each pinned through the replay generator in a setup step): target under
//!    300 ms. The anchor is cargo's own no-op build of this workspace, timed in the same run.
//! 2. Acceptance: the setup's replay build of the 1,000 specs (2,000 examples, each in a fresh
//!    native sandbox) as time per example, and `clawc test` of one integration.
//! 3. Parallel generation: 16 stale specs at `--jobs 8` with the `anthropic` generator against
//!    the scripted Messages API adding 1 s to every response (two per spec: write the code,
//!    then stop). Target: within 1.3x the ideal, two batches x the time of one spec alone.
//!    The same with `claude-code` (the real CLI, `CLAWC_CLAUDE`) when it is installed, and what
//!    the generator's sandbox adds to starting it.
//!
//! 4. `clawc verify` over the bundled project (the repository's `specs/` and `golden/`): the
//!    total, and the share spent starting sandboxes. verify starts one fresh sandbox per
//!    example; one start is timed as `clawc sandbox exec` of `/bin/true` under a comparable
//!    policy (the egress proxy, a read-only mount, the specs' usual limits) less `clawc
//!    --version` (the process's own start), and multiplied by the examples verify ran. Then
//!    `clawc verify --fuzz 200` (seed 1) with the hardening run's own account of its sandbox
//!    starts (spawn to the server's `initialize` answer, Python's start included).
//!
//! Prints a table; `CLAWC_BENCH_RUNS` sets the repetitions (default 7), `CLAWC_BENCH_SPECS`
//! the corpus size (default 1,000); `CLAWC_BENCH_ONLY=verify` runs section 4 alone.
#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    reason = "a benchmark reports on stdout and does IO"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
#[path = "../tests/it/messages_api.rs"]
mod messages_api;

use common::echo::TOOLS_PY;
use common::{clawc, env_number, make_corpus, make_specs, median, ms};

use messages_api::{Match, MessagesApi, Reply, Script};

fn main() {
    let runs: usize = env_number("CLAWC_BENCH_RUNS", 7);
    if std::env::var("CLAWC_BENCH_ONLY").is_ok_and(|only| only == "verify") {
        bundled_verify(runs);
        return;
    }
    let count: usize = env_number("CLAWC_BENCH_SPECS", 1_000);
    let project = tempfile::tempdir().expect("tempdir");
    let root = project.path();
    println!("corpus: {count} specs in {}", root.display());
    make_corpus(root, count);

    let start = Instant::now();
    let setup = clawc(
        root,
        &["build", "--generator", "replay", "--jobs", "4", "-q"],
    );
    let setup_time = start.elapsed();
    assert!(
        setup.status.success(),
        "setup build: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let examples = count * 2;
    println!(
        "setup: replay build of {count} specs, {examples} examples, --jobs 4: {:.1} s = {:.1} ms per example (each in a fresh native sandbox)",
        setup_time.as_secs_f64(),
        ms(setup_time) / examples as f64
    );

    let noop = median(runs, || {
        let start = Instant::now();
        let out = clawc(root, &["build", "-q"]);
        let elapsed = start.elapsed();
        assert!(
            out.status.success(),
            "no-op: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        elapsed
    });
    let cargo = median(runs, || {
        let start = Instant::now();
        let out = Command::new(env!("CARGO"))
            .args(["build", "--release", "-q", "-p", "clawc"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo");
        let elapsed = start.elapsed();
        assert!(out.status.success());
        elapsed
    });
    println!(
        "no-op clawc build, {count} pinned specs: median {:.1} ms (target < 300 ms: {:.2}x of it); cargo's no-op build of clawc: {:.1} ms (clawc/cargo = {:.2})",
        ms(noop),
        ms(noop) / 300.0,
        ms(cargo),
        ms(noop) / ms(cargo)
    );

    let test = median(runs, || {
        let start = Instant::now();
        let out = clawc(root, &["test", "-q", "echo_0000"]);
        let elapsed = start.elapsed();
        assert!(
            out.status.success(),
            "test: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        elapsed
    });
    println!(
        "clawc test of one integration (2 examples, verified pin first): median {:.1} ms = {:.1} ms per example",
        ms(test),
        ms(test) / 2.0
    );

    parallel_generation("anthropic", &[], anthropic_script);
    match std::env::var("CLAWC_CLAUDE") {
        Ok(cli) => {
            generator_sandbox_start(&cli, runs);
            parallel_generation("claude-code", &[("CLAWC_CLAUDE", &cli)], claude_code_script);
        }
        Err(_) => println!("claude-code: CLAWC_CLAUDE is not set; its rows are skipped"),
    }
    bundled_verify(runs);
}

/// Section 4: `clawc verify` (and `--fuzz 200`) over the repository's own project.
fn bundled_verify(runs: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Each verify takes seconds; three runs give a median without taking minutes.
    let runs = runs.min(3);
    let mut examples = 0;
    let verify = median(runs, || {
        let start = Instant::now();
        let out = clawc(&root, &["verify"]);
        let elapsed = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "verify: {stderr}");
        // "verified 9 pinned integrations; 47 examples pass"
        examples = stderr
            .split("; ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("verify names the examples it ran");
        elapsed
    });
    let mounted = tempfile::tempdir().expect("tempdir");
    let mount = format!("{}:/opt/clawc/integration:ro", mounted.path().display());
    let timed = |args: &[&str]| {
        median(runs.max(7), || {
            let start = Instant::now();
            let out = clawc(&root, args);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            start.elapsed()
        })
    };
    let sandboxed = timed(&[
        "sandbox",
        "exec",
        "--allow",
        "api.example.com:443",
        "--mount",
        &mount,
        "--memory",
        "134217728",
        "--pids",
        "32",
        "--",
        "/bin/true",
    ]);
    let process = timed(&["--version"]);
    let start = sandboxed.saturating_sub(process);
    let starting = start * u32::try_from(examples).unwrap_or(u32::MAX);
    println!(
        "clawc verify, bundled project ({examples} examples, a fresh sandbox each): median {:.2} s; starting sandboxes {:.1} ms each ({:.1} ms exec of /bin/true less {:.1} ms process start) = {:.2} s, {:.0}% of it",
        verify.as_secs_f64(),
        ms(start),
        ms(sandboxed),
        ms(process),
        starting.as_secs_f64(),
        100.0 * starting.as_secs_f64() / verify.as_secs_f64()
    );
    let begin = Instant::now();
    let out = clawc(&root, &["verify", "--fuzz", "200", "--seed", "1"]);
    let fuzzed = begin.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify --fuzz 200: {stderr}");
    let account = stderr
        .lines()
        .rfind(|line| line.starts_with("hardening run: ") && line.contains("sandbox start"))
        .unwrap_or("(no account)");
    println!(
        "clawc verify --fuzz 200 --seed 1, bundled project: {:.2} s ({account})",
        fuzzed.as_secs_f64()
    );
}

/// The `anthropic` loop's script: write the code, then stop.
fn anthropic_script(script: Script) -> Script {
    script
        .rule(Match::tool_result_for("write_file"), Reply::text("Done."))
        .rule(
            Match::offers_tool("write_file"),
            Reply::tool_use(
                "write_file",
                serde_json::json!({"path": "generated/tools.py", "content": TOOLS_PY}),
            ),
        )
}

/// Claude Code's: its `Write` tool, then stop; its auxiliary calls get the default reply.
fn claude_code_script(script: Script) -> Script {
    script
        .rule(
            Match::last_tool_result_contains("Write", "tools.py"),
            Reply::text("Done."),
        )
        .rule(
            Match::offers_tool("Write").and(Match::any_text_contains("get_item")),
            Reply::tool_use(
                "Write",
                serde_json::json!({"file_path": "/workspace/generated/tools.py", "content": TOOLS_PY}),
            ),
        )
}

/// What the generator's sandbox adds to starting Claude Code: `claude --version` on the host
/// against the same in `clawc sandbox exec` with its package mounted read-only.
fn generator_sandbox_start(cli: &str, runs: usize) {
    let package = Path::new(cli)
        .canonicalize()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .expect("the claude package folder");
    let timed = |command: &mut Command| {
        let start = Instant::now();
        let out = command.output().expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        start.elapsed()
    };
    let host = median(runs, || timed(Command::new(cli).arg("--version")));
    let mount = format!("{}:/opt/claude:ro", package.display());
    let sandboxed = median(runs, || {
        timed(
            Command::new(env!("CARGO_BIN_EXE_clawc"))
                .args(["sandbox", "exec", "--memory", "1073741824", "--pids", "256"])
                .args([
                    "--mount",
                    &mount,
                    "--",
                    "/opt/claude/bin/claude.exe",
                    "--version",
                ]),
        )
    });
    println!(
        "generator sandbox start: claude --version {:.1} ms on the host, {:.1} ms in a native sandbox (+{:.1} ms)",
        ms(host),
        ms(sandboxed),
        ms(sandboxed) - ms(host)
    );
}

/// Section 3 for one generator: one stale spec alone, then 16 at `--jobs 8`.
fn parallel_generation(generator: &str, env: &[(&str, &str)], script: fn(Script) -> Script) {
    let key = "sk-bench-not-a-real-key";
    let api = MessagesApi::spawn(
        script(
            Script::new()
                .expect_key(key)
                .latency(Duration::from_secs(1)),
        )
        .default_reply(Reply::text("ok")),
    )
    .expect("scripted API");
    let time = |count: usize, jobs: &str| {
        let project = tempfile::tempdir().expect("tempdir");
        make_specs(project.path(), count);
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_clawc"))
            .args(["build", "-q", "--generator", generator, "--jobs", jobs])
            .current_dir(project.path())
            .env("ANTHROPIC_BASE_URL", api.base_url())
            .env("ANTHROPIC_API_KEY", key)
            .envs(env.iter().copied())
            .output()
            .expect("clawc build");
        let elapsed = start.elapsed();
        assert!(
            out.status.success(),
            "{generator}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        elapsed
    };
    let one = time(1, "1");
    let sixteen = time(16, "8");
    let ideal = one * 2;
    println!(
        "{generator}, 1 s per model response: one spec alone {:.2} s; 16 specs --jobs 8 {:.2} s = {:.2}x the ideal 2 x {:.2} s (target <= 1.3x)",
        one.as_secs_f64(),
        sixteen.as_secs_f64(),
        sixteen.as_secs_f64() / ideal.as_secs_f64(),
        one.as_secs_f64()
    );
    assert!(!api.saw_wrong_key(), "the scripted API saw a wrong key");
}
