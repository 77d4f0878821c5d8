//! Cold start to exit, medians over repeated runs in one run of this benchmark: the bare process,
//! bubblewrap alone (the floor under the native backend), the native backend, the `docker run
//! --rm` CLI on the same image, and the Docker backend; then the resident memory of idle native
//! sandboxes.
//!
//! `cargo bench -p claw-runtime --bench startup`; `CLAWC_BENCH_RUNS=N` sets the repetitions
//! (default 20; CI uses a handful), `CLAWC_BENCH_IDLE=N` the idle sandboxes measured (default 10).
//! Runners whose real part is missing print why and are skipped.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::print_stdout,
    reason = "a benchmark runs processes, reads the clock and prints its table"
)]

use std::process::{Command, Stdio as ProcessStdio};
use std::time::{Duration, Instant};

use claw_runtime::docker::{DockerConfig, DockerSandbox};
use claw_runtime::init::InitExe;
use claw_runtime::native::NativeSandbox;
use claw_runtime::sandbox::{SandboxCommand, Stdio};
use claw_runtime::{Policy, Sandbox, SandboxChild};

#[path = "startup/idle.rs"]
mod idle;

const DEFAULT_RUNS: usize = 20;
const DEFAULT_IDLE: usize = 10;

/// The workloads: (label, argv).
const WORKLOADS: [(&str, &[&str]); 2] = [
    ("/bin/true", &["/bin/true"]),
    ("python3 -c pass", &["/usr/bin/python3", "-c", "pass"]),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = count_from_env("CLAWC_BENCH_RUNS", DEFAULT_RUNS)?;
    let idle = count_from_env("CLAWC_BENCH_IDLE", DEFAULT_IDLE)?;
    let runtime = tokio::runtime::Runtime::new()?;
    // The small init `clawc` uses from beside itself, on both backends.
    let init = InitExe {
        path: env!("CARGO_BIN_EXE_claw-sandbox-init").into(),
    };
    let docker = runtime.block_on(DockerSandbox::connect(DockerConfig {
        init: Some(init.clone()),
        ..DockerConfig::default()
    }));
    let native = NativeSandbox::new(init);
    // Two groups, each interleaved within itself: the engine goes on tearing a container down
    // (its network namespace, overlay mounts) after the call that ran it has returned, and that
    // leftover work would be billed to whichever runner came next (here, bubblewrap started
    // right after a `docker run --rm` took about 1 ms longer, median of 10).
    let local = [
        ("bare process", Ok(Runner::Bare)),
        ("bubblewrap alone", Ok(Runner::Bwrap)),
        (
            "native backend",
            native.as_ref().map(|s| Runner::Backend(s as &dyn Sandbox)),
        ),
    ];
    let engine = [
        ("docker run --rm (CLI)", Ok(Runner::DockerCli)),
        (
            "docker backend",
            docker.as_ref().map(|s| Runner::Backend(s as &dyn Sandbox)),
        ),
    ];

    println!(
        "cold start to exit, {runs} runs each; bare, bubblewrap and native interleaved, then the \
         two Docker runners interleaved (median / min / max, ms)\n"
    );
    println!(
        "{:<17} {:<22} {:>8} {:>8} {:>8}",
        "workload", "runner", "median", "min", "max"
    );
    for (label, argv) in WORKLOADS {
        let mut medians = Vec::new();
        for group in [&local[..], &engine[..]] {
            let results = runtime.block_on(measure(group, argv, runs));
            for ((name, _), result) in group.iter().zip(results) {
                match result {
                    Ok(samples) => {
                        let stats = Stats::of(samples);
                        println!(
                            "{label:<17} {name:<22} {:>8.1} {:>8.1} {:>8.1}",
                            ms(stats.median),
                            ms(stats.min),
                            ms(stats.max)
                        );
                        medians.push((name.to_string(), stats.median));
                    }
                    Err(why) => println!("{label:<17} {name:<22} skipped: {why}"),
                }
            }
        }
        compare(&medians);
        println!();
    }

    match &native {
        Ok(sandbox) => match runtime.block_on(idle_overhead(sandbox, idle)) {
            Ok(line) => println!("{line}"),
            Err(why) => println!("idle native sandboxes: skipped: {why}"),
        },
        Err(e) => println!("idle native sandboxes: skipped: {e}"),
    }
    Ok(())
}

/// One way of running a program to its end.
enum Runner<'a> {
    Bare,
    /// bubblewrap with the namespaces and mounts the native backend asks for, but without its
    /// seccomp filter, init, cgroups and status plumbing: what the backend cannot go below.
    Bwrap,
    DockerCli,
    Backend(&'a dyn Sandbox),
}

impl Runner<'_> {
    async fn once(&self, argv: &[&str]) -> Result<(), String> {
        match self {
            Runner::Bare => bare(argv),
            Runner::Bwrap => bwrap_alone(argv),
            Runner::DockerCli => docker_cli(argv),
            Runner::Backend(sandbox) => backend(*sandbox, argv).await,
        }
    }
}

/// Samples per runner. Runs are interleaved (each round runs every runner of the group once),
/// so a load spike on this shared machine hits all of them alike instead of skewing one. One
/// unmeasured warm-up round first; a runner that fails once is dropped with its reason.
async fn measure<E: std::fmt::Display>(
    runners: &[(&str, Result<Runner<'_>, E>)],
    argv: &[&str],
    runs: usize,
) -> Vec<Result<Vec<Duration>, String>> {
    let mut results: Vec<Result<Vec<Duration>, String>> = runners
        .iter()
        .map(|(_, runner)| {
            runner
                .as_ref()
                .map(|_| Vec::with_capacity(runs))
                .map_err(|e| e.to_string())
        })
        .collect();
    for round in 0..=runs {
        for ((_, runner), result) in runners.iter().zip(results.iter_mut()) {
            let (Ok(runner), Ok(samples)) = (runner, result.as_mut()) else {
                continue;
            };
            let start = Instant::now();
            match runner.once(argv).await {
                Ok(()) if round > 0 => samples.push(start.elapsed()),
                Ok(()) => {}
                Err(why) => *result = Err(why),
            }
        }
    }
    results
}

fn count_from_env(name: &str, default: usize) -> Result<usize, std::num::ParseIntError> {
    match std::env::var(name) {
        Ok(n) => Ok(n.parse::<usize>()?.max(1)),
        Err(_) => Ok(default),
    }
}

/// Start `count` sandboxes that sit in `sleep`, and measure what the sandbox machinery (bwrap
/// and init, everything in our process tree except the program itself) keeps resident.
async fn idle_overhead(sandbox: &NativeSandbox, count: usize) -> Result<String, String> {
    let mut children: Vec<Box<dyn SandboxChild>> = Vec::with_capacity(count);
    for _ in 0..count {
        let mut command = SandboxCommand::new("/bin/sleep", ["60"]);
        command.stdout = Stdio::Null;
        command.stderr = Stdio::Null;
        children.push(
            sandbox
                .spawn(command, &Policy::default())
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    // Let every init reach its idle state (bridge not served, program started).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let measured = idle::machinery_memory(std::process::id(), "sleep");
    for child in &mut children {
        let _ = child.kill().await;
        let _ = child.wait().await;
    }
    let usage = measured.map_err(|e| e.to_string())?;
    let per = |kib: u64| kib as f64 / 1024.0 / count as f64;
    Ok(format!(
        "idle native sandboxes: {count} running, {} sandbox processes; per sandbox: RSS {:.2} MiB, \
         PSS {:.2} MiB, USS {:.2} MiB (target < 3 MB; RSS counts the C library's shared pages once \
         per process, PSS and USS do not)",
        usage.processes,
        per(usage.rss_kib),
        per(usage.pss_kib),
        per(usage.uss_kib)
    ))
}

/// Ratios the issue sets targets for, between whichever runners ran.
fn compare(medians: &[(String, Duration)]) {
    let find = |name: &str| medians.iter().find(|(n, _)| n == name).map(|(_, d)| *d);
    if let (Some(bare), Some(native)) = (find("bare process"), find("native backend")) {
        println!(
            "{:<17} native - bare = {:.1} ms (target <= 10)",
            "",
            ms(native.saturating_sub(bare))
        );
    }
    if let (Some(floor), Some(native)) = (find("bubblewrap alone"), find("native backend")) {
        println!(
            "{:<17} native - bubblewrap alone = {:.1} ms (the backend's own share); native / bubblewrap alone = {:.2}x (target <= 1.5)",
            "",
            ms(native.saturating_sub(floor)),
            native.as_secs_f64() / floor.as_secs_f64().max(f64::EPSILON)
        );
    }
    if let (Some(native), Some(cli)) = (find("native backend"), find("docker run --rm (CLI)")) {
        println!(
            "{:<17} docker CLI / native = {:.1}x (target >= 10)",
            "",
            cli.as_secs_f64() / native.as_secs_f64()
        );
    }
    if let (Some(cli), Some(backend)) = (find("docker run --rm (CLI)"), find("docker backend")) {
        println!(
            "{:<17} docker backend / docker CLI = {:.2} (target <= 1)",
            "",
            backend.as_secs_f64() / cli.as_secs_f64()
        );
    }
}

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let min = samples.first().copied().unwrap_or_default();
        let max = samples.last().copied().unwrap_or_default();
        Self {
            median: samples.get(samples.len() / 2).copied().unwrap_or_default(),
            min,
            max,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn succeed(mut command: Command) -> Result<(), String> {
    let status = command
        .stdin(ProcessStdio::null())
        .stdout(ProcessStdio::null())
        .stderr(ProcessStdio::null())
        .status()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} exited with {status}"))
    }
}

fn bare(argv: &[&str]) -> Result<(), String> {
    let mut command = Command::new(argv[0]);
    command.args(&argv[1..]);
    succeed(command)
}

fn bwrap_alone(argv: &[&str]) -> Result<(), String> {
    let mut command = Command::new("bwrap");
    command
        .args(["--unshare-all", "--unshare-user", "--disable-userns"])
        .args(["--die-with-parent", "--new-session", "--cap-drop", "ALL"])
        .args(["--ro-bind", "/usr", "/usr"])
        .args([
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
        ])
        .args(["--symlink", "usr/lib64", "/lib64"])
        .args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"])
        .args(["--remount-ro", "/", "--chdir", "/tmp", "--clearenv", "--"])
        .args(argv);
    succeed(command)
}

fn docker_cli(argv: &[&str]) -> Result<(), String> {
    let mut command = Command::new("docker");
    command
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            claw_runtime::docker::BASE_IMAGE,
        ])
        .args(argv);
    succeed(command)
}

async fn backend(sandbox: &dyn Sandbox, argv: &[&str]) -> Result<(), String> {
    let mut command = SandboxCommand::new(argv[0], argv[1..].iter().copied());
    command.stdout = Stdio::Null;
    command.stderr = Stdio::Null;
    let mut child = sandbox
        .spawn(command, &Policy::default())
        .await
        .map_err(|e| e.to_string())?;
    let report = child.wait().await.map_err(|e| e.to_string())?;
    match report.exit_code() {
        0 => Ok(()),
        code => Err(format!("exited with {code}")),
    }
}
