//! `cargo bench -p clawc --bench check`: how fast `clawc check` is.
//!
//! 1. Throughput: the real `clawc` binary checks a directory of 1,000 realistic specs (copies of
//!    `specs/*.claw`, renamed), pinned to one core with `taskset` when it exists. Target: at
//!    least 2,000 specs per second.
//! 2. Scaling: parse+check in-process of one spec grown 1×, 10× and 100× (more tools, types
//!    and examples); time per KiB should stay flat (linear in input size).
//!
//! Prints a table; `CLAWC_BENCH_RUNS` sets the repetitions (default 7).
#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    reason = "a benchmark reports on stdout and does IO"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CORPUS_SIZE: usize = 1_000;

fn main() {
    let runs: usize = std::env::var("CLAWC_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let corpus = build_corpus();
    let (files, bytes) = corpus_size(corpus.path());
    println!(
        "corpus: {files} specs, {} KiB, in {}",
        bytes / 1024,
        corpus.path().display()
    );

    let cli = median(runs, || run_check(corpus.path()));
    let rate = files as f64 / cli.as_secs_f64();
    println!(
        "clawc check (1 core): median {:.1} ms for {files} specs = {rate:.0} specs/s (target >= 2000, {:.1}x the target)",
        ms(cli),
        rate / 2000.0
    );

    println!("\nparse+check scaling (in-process, one spec):");
    println!(
        "{:>6} {:>10} {:>12} {:>12}",
        "scale", "KiB", "median", "us/KiB"
    );
    for scale in [1, 10, 100] {
        let source = grown_spec(scale);
        let time = median(runs, || {
            let start = Instant::now();
            let checked = spec_lang::check("grown", &source, &spec_lang::NoFiles);
            assert!(
                !checked.has_errors(),
                "the grown spec must be valid: {:?}",
                checked.diagnostics.first()
            );
            start.elapsed()
        });
        let kib = source.len() as f64 / 1024.0;
        println!(
            "{scale:>5}x {kib:>10.1} {:>9.3} ms {:>12.1}",
            ms(time),
            time.as_secs_f64() * 1e6 / kib
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    f(); // warm-up: page cache, allocator
    let mut times: Vec<Duration> = (0..runs.max(1)).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

fn run_check(dir: &Path) -> Duration {
    let clawc = env!("CARGO_BIN_EXE_clawc");
    let mut cmd = if Path::new("/usr/bin/taskset").exists() {
        let mut c = Command::new("/usr/bin/taskset");
        c.args(["-c", "0", clawc]);
        c
    } else {
        Command::new(clawc)
    };
    cmd.args(["check", "-q", "--format", "json"]).arg(dir);
    let start = Instant::now();
    let out = cmd.output().expect("run clawc");
    let elapsed = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "corpus must check clean: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    elapsed
}

/// 1,000 specs: the real ones, round-robin, each renamed (file and integration) so that every
/// file is distinct, with the fixtures they read.
fn build_corpus() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let mut originals: Vec<(String, String)> = std::fs::read_dir(&root)
        .expect("specs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "claw"))
        .map(|p| {
            let stem = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (stem, std::fs::read_to_string(&p).expect("read spec"))
        })
        .collect();
    originals.sort();
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root.join("fixtures"), &dir.path().join("fixtures"));
    for i in 0..CORPUS_SIZE {
        let (stem, text) = &originals[i % originals.len()];
        let name = format!("{stem}_{i:04}");
        let renamed = text.replacen(
            &format!("integration {stem} "),
            &format!("integration {name} "),
            1,
        );
        std::fs::write(dir.path().join(format!("{name}.claw")), renamed).expect("write");
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixtures") {
        let path: PathBuf = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

fn corpus_size(dir: &Path) -> (usize, u64) {
    std::fs::read_dir(dir)
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "claw"))
        .fold((0, 0), |(n, b), p| {
            (
                n + 1,
                b + std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0),
            )
        })
}

/// A valid spec with `scale` groups of (type, tool, example), so its size grows linearly.
fn grown_spec(scale: usize) -> String {
    let mut s = String::from(
        "integration grown {\n  version \"1.0.0\"\n  summary \"Grown for benchmarking.\"\n  target python\n  \
         network { allow \"api.example.com:443\" }\n  limits { memory 128MiB pids 32 cpu 0.5 timeout 20s }\n  \
         intent \"\"\"\n    Calls https://api.example.com.\n    \"\"\"\n",
    );
    for i in 0..scale {
        let _ = write!(
            s,
            r#"
  type Item{i} {{
    id: int min(1)
    name: string min_len(1) max_len(200)
    state: "open" | "closed"
    tags: [string] max_items(20)
    note?: string
  }}
  tool get_item{i} {{
    description "Fetch item {i}."
    input {{ id: int min(1), verbose: bool = false }}
    output {{ item: Item{i}, related: [Item{i}] }}
    rate 10 per minute
  }}
  example "item {i}" {{
    call get_item{i} {{ id: 7 }}
    http GET "https://api.example.com/items{i}/7" -> 200 json {{ id: 7, name: "seven" }}
    expect {{ item: {{ id: 7, name: "seven", state: "open", tags: ["a", "b"] }}, related: [] }}
  }}
"#
        );
    }
    s.push_str("}\n");
    s
}
