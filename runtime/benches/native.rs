//! What the native sandbox costs: start-to-exit of `/bin/true` and `python3 -c pass`, bare vs
//! sandboxed (medians, interleaved so both see the same machine load), the CPU time that goes
//! with it, and the memory an idle sandbox adds (PSS of bubblewrap and init; the program's own
//! memory is not overhead).
//!
//! Run: `cargo bench -p claw-runtime --bench native` (as root it includes cgroup setup; as an
//! unprivileged user, set `CLAWC_SANDBOX_INIT` to a copy of `claw-sandbox-init` it can read).
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a benchmark reports its figures and measures time"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use claw_runtime::init::InitExe;
use claw_runtime::native::NativeSandbox;
use claw_runtime::policy::Policy;
use claw_runtime::sandbox::{Sandbox, SandboxCommand};

const RUNS: usize = 100;

/// CPU time (user + system) of this process and its reaped descendants.
fn cpu_time() -> Duration {
    [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN]
        .into_iter()
        .map(|who| {
            // SAFETY: getrusage fills a zeroed, correctly typed struct.
            let usage = unsafe {
                let mut usage: libc::rusage = std::mem::zeroed();
                libc::getrusage(who, &mut usage);
                usage
            };
            [usage.ru_utime, usage.ru_stime]
                .into_iter()
                .map(|tv| {
                    Duration::from_secs(tv.tv_sec.unsigned_abs())
                        + Duration::from_micros(tv.tv_usec.unsigned_abs())
                })
                .sum::<Duration>()
        })
        .sum()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct Figures {
    wall: Vec<Duration>,
    cpu: Duration,
}

impl Figures {
    fn new() -> Self {
        Figures {
            wall: Vec::new(),
            cpu: Duration::ZERO,
        }
    }

    fn report(self, label: &str) -> Duration {
        let wall = median(self.wall);
        let cpu = self.cpu / u32::try_from(RUNS).unwrap_or(u32::MAX);
        println!(
            "  {label:<8} median {:>8.2} ms   cpu/run {:>6.2} ms",
            ms(wall),
            ms(cpu)
        );
        wall
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn startup(sandbox: &NativeSandbox, program: &str, args: &[&str]) {
    let policy = Policy::default();
    let mut bare = Figures::new();
    let mut native = Figures::new();
    for _ in 0..RUNS {
        let (cpu, start) = (cpu_time(), Instant::now());
        let status = tokio::process::Command::new(program)
            .args(args)
            .status()
            .await
            .expect("bare run");
        assert!(status.success());
        bare.wall.push(start.elapsed());
        bare.cpu += cpu_time() - cpu;

        let (cpu, start) = (cpu_time(), Instant::now());
        let command = SandboxCommand::new(program, args.iter().copied());
        let mut child = sandbox.spawn(command, &policy).await.expect("spawn");
        let report = child.wait().await.expect("wait");
        assert_eq!(report.exit_code(), 0);
        native.wall.push(start.elapsed());
        native.cpu += cpu_time() - cpu;
    }
    println!("{program} {} ({RUNS} runs, interleaved)", args.join(" "));
    let bare = bare.report("bare");
    let native = native.report("native");
    println!("  added    {:>8.2} ms", ms(native.saturating_sub(bare)));
}

/// Proportional set size of a process, in KiB.
fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("Pss:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// Children of `pid` (needs CONFIG_PROC_CHILDREN, as Debian has).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// bubblewrap's own pid: the one direct child of this process running `bwrap`.
fn bwrap_pids() -> Vec<u32> {
    children(std::process::id())
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "bwrap")
        })
        .collect()
}

async fn idle_overhead(sandbox: &NativeSandbox) {
    let mut child = sandbox
        .spawn(SandboxCommand::new("sleep", ["30"]), &Policy::default())
        .await
        .expect("spawn");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut overhead = 0;
    for bwrap in bwrap_pids() {
        overhead += pss_kib(bwrap);
        // The sandbox's PID 1 is init; the program is init's child and not counted.
        overhead += children(bwrap).into_iter().map(pss_kib).sum::<u64>();
    }
    println!("idle sandbox overhead (PSS of bubblewrap + init): {overhead} KiB");
    child.kill().await.expect("kill");
    child.wait().await.expect("wait");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let init = InitExe {
        path: PathBuf::from(env!("CARGO_BIN_EXE_claw-sandbox-init")),
        leading_args: Vec::new(),
    };
    let sandbox = NativeSandbox::new(init).expect("native sandbox (is bubblewrap installed?)");
    let mut probe = sandbox
        .spawn(SandboxCommand::new("true", [""; 0]), &Policy::default())
        .await
        .expect("spawn");
    for gap in probe.unenforced() {
        println!("note: {} not enforced here: {}", gap.limit, gap.reason);
    }
    probe.wait().await.expect("wait");
    startup(&sandbox, "/bin/true", &[]).await;
    startup(&sandbox, "/usr/bin/python3", &["-c", "pass"]).await;
    idle_overhead(&sandbox).await;
}
