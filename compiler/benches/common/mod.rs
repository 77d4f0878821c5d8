//! What the benchmarks share: a corpus of pinned-ready specs, running the real `clawc`, and
//! timing by median.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[path = "../../tests/it/echo.rs"]
pub mod echo;
#[path = "../../tests/it/hand.rs"]
mod hand;

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    f(); // warm-up: page cache, the fingerprint cache's first write
    let mut times: Vec<Duration> = (0..runs.max(1)).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

pub fn clawc(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_clawc"))
        .args(args)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .output()
        .expect("run clawc")
}

/// `count` copies of `clawc init`'s spec, renamed `echo_0000`…, unpinned.
pub fn make_specs(root: &Path, count: usize) {
    let init = clawc(root, &["init", "echo"]);
    assert!(init.status.success());
    let spec = std::fs::read_to_string(root.join("specs/echo.claw")).expect("spec");
    std::fs::remove_file(root.join("specs/echo.claw")).expect("rm");
    for i in 0..count {
        let name = format!("echo_{i:04}");
        let text = spec.replacen("integration echo ", &format!("integration {name} "), 1);
        std::fs::write(root.join(format!("specs/{name}.claw")), text).expect("write spec");
    }
}

/// `count` copies of `clawc init`'s spec, renamed, each with a hand-authored transcript of
/// code that passes its examples.
pub fn make_corpus(root: &Path, count: usize) {
    make_specs(root, count);
    for i in 0..count {
        let name = format!("echo_{i:04}");
        let golden = root.join("golden").join(&name);
        std::fs::create_dir_all(&golden).expect("mkdir");
        let text = hand::hand_transcript(&name, &[("generated/tools.py", echo::TOOLS_PY)]);
        std::fs::write(golden.join("transcript.jsonl"), text).expect("write transcript");
    }
}
