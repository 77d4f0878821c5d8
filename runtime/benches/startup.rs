//! Cold start to exit, medians over repeated runs in one run of this benchmark: the bare process,
//! the `docker run --rm` CLI on the same image, and the Docker backend.
//!
//! `cargo bench -p claw-runtime --bench startup`; `CLAWC_BENCH_RUNS=N` sets the repetitions
//! (default 20; CI uses a handful). Runners whose real part is missing print why and are skipped.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::print_stdout,
    reason = "a benchmark runs processes, reads the clock and prints its table"
)]

use std::process::{Command, Stdio as ProcessStdio};
use std::time::{Duration, Instant};

use claw_runtime::docker::{DockerConfig, DockerSandbox};
use claw_runtime::sandbox::{SandboxCommand, Stdio};
use claw_runtime::{Policy, Sandbox};

const DEFAULT_RUNS: usize = 20;

/// The workloads: (label, argv).
const WORKLOADS: [(&str, &[&str]); 2] = [
    ("/bin/true", &["/bin/true"]),
    ("python3 -c pass", &["/usr/bin/python3", "-c", "pass"]),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = match std::env::var("CLAWC_BENCH_RUNS") {
        Ok(n) => n.parse::<usize>()?.max(1),
        Err(_) => DEFAULT_RUNS,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let docker = runtime.block_on(DockerSandbox::connect(DockerConfig::default()));

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
    Ok(())
}

/// Ratios the issue sets targets for, between whichever runners ran.
fn compare(medians: &[(String, Duration)]) {
    let find = |name: &str| medians.iter().find(|(n, _)| n == name).map(|(_, d)| *d);
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

async fn backend(sandbox: &DockerSandbox, argv: &[&str]) -> Result<(), String> {
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
