//! Cold start to exit, medians over repeated runs in one run of this benchmark: the bare process,
//! the native backend, the `docker run --rm` CLI on the same image, and the Docker backend; then
//! the resident memory of idle native sandboxes.
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
    let docker = runtime.block_on(DockerSandbox::connect(DockerConfig::default()));
    let native = NativeSandbox::new(InitExe {
        path: env!("CARGO_BIN_EXE_claw-sandbox-init").into(),
        leading_args: Vec::new(),
    });

    println!("cold start to exit, {runs} runs each (median / min / max, ms)\n");
    println!(
        "{:<17} {:<22} {:>8} {:>8} {:>8}",
        "workload", "runner", "median", "min", "max"
    );
    for (label, argv) in WORKLOADS {
        let mut medians = Vec::new();
        let mut row = |runner: &str, result: Result<Vec<Duration>, String>| match result {
            Ok(samples) => {
                let stats = Stats::of(samples);
                println!(
                    "{label:<17} {runner:<22} {:>8.1} {:>8.1} {:>8.1}",
                    ms(stats.median),
                    ms(stats.min),
                    ms(stats.max)
                );
                medians.push((runner.to_string(), stats.median));
            }
            Err(why) => println!("{label:<17} {runner:<22} skipped: {why}"),
        };
        row("bare process", repeat(runs, || bare(argv)));
        row(
            "native backend",
            match &native {
                Ok(sandbox) => runtime.block_on(repeat_async(runs, || backend(sandbox, argv))),
                Err(e) => Err(e.to_string()),
            },
        );
        row("docker run --rm (CLI)", repeat(runs, || docker_cli(argv)));
        row(
            "docker backend",
            match &docker {
                Ok(sandbox) => runtime.block_on(repeat_async(runs, || backend(sandbox, argv))),
                Err(e) => Err(e.to_string()),
            },
        );
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
         PSS {:.2} MiB (target < 3 MB)",
        usage.processes,
        per(usage.rss_kib),
        per(usage.pss_kib)
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

fn repeat(
    runs: usize,
    mut once: impl FnMut() -> Result<(), String>,
) -> Result<Vec<Duration>, String> {
    // One unmeasured warm-up: page cache and engine state are "cold start" for a user too only
    // the very first time on a machine, which no repeated median can show.
    once()?;
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            once().map(|()| start.elapsed())
        })
        .collect()
}

async fn repeat_async<F, Fut>(runs: usize, mut once: F) -> Result<Vec<Duration>, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    once().await?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        once().await?;
        samples.push(start.elapsed());
    }
    Ok(samples)
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
