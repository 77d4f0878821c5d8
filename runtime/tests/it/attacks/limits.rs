//! Resource attacks: a fork bomb, a memory hog, filling `/tmp`, an endless loop. Each attack is
//! *bounded* (it stops by itself well short of hurting the machine), so that a missing limit
//! shows up as the bound being reached instead of as a dead test host.
//!
//! Where a backend cannot enforce a limit here (an unprivileged user with no writable cgroup),
//! it must say so through `SandboxChild::unenforced`; the case then checks whichever layer does
//! hold (rlimits, the pid namespace) and fails if neither holds and nothing was reported.

use std::time::Duration;

use super::harness::{base_policy, Ctx, Outcome, Script};
use super::host::{survivors_after_grace, token};

const PIDS_LIMIT: u32 = 16;
const BOMB_BOUND: u32 = 300;

/// Forks sleeping children until fork fails or the bound is reached.
const FORK_BOMB: &str = r#"
import time
bound, forked = int(ARGS[0]), 0
while forked < bound:
    try:
        pid = os.fork()
    except OSError as e:
        result("fork_failed", err_name(e))
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    forked += 1
result("forked", forked)
"#;

pub async fn fork_bomb_under_pids(cx: Ctx) {
    let marker = token("forkbomb");
    let mut policy = base_policy();
    policy.limits.pids = PIDS_LIMIT;
    policy.env.insert("CLAW_MARKER".into(), marker.clone());
    let out = cx
        .run(&Script::py(FORK_BOMB).arg(BOMB_BOUND), &policy)
        .await;
    // Whatever the program managed, nothing of it may survive the sandbox.
    let survivors = survivors_after_grace(&marker, Duration::from_secs(2));
    assert!(
        survivors.is_empty(),
        "fork-bomb processes outlived the sandbox: {} left",
        survivors.len()
    );
    assert_limit_held(
        &out,
        "pids",
        |out| {
            out.results()
                .get("forked")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n < PIDS_LIMIT)
        },
        "the fork bomb exceeded --pids",
    );
}

const MEMORY_LIMIT: u64 = 64 << 20;

/// Allocates and touches 16 MiB at a time, up to 256 MiB, reporting the running total.
const MEMORY_HOG: &str = r#"
chunks, total = [], 0
while total < 256:
    try:
        chunks.append(bytearray(16 << 20))  # zero-filled: every page is touched
    except MemoryError:
        result("memory_error", total)
        break
    total += 16
    result("allocated_mib", total)
"#;

pub async fn memory_hog_under_memory(cx: Ctx) {
    let mut policy = base_policy();
    policy.limits.memory_bytes = MEMORY_LIMIT;
    let out = cx.run(&Script::py(MEMORY_HOG), &policy).await;
    assert_limit_held(
        &out,
        "memory",
        |out| {
            let allocated: u64 = out
                .results()
                .get("allocated_mib")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            allocated << 20 <= MEMORY_LIMIT
        },
        "the memory hog got past --memory",
    );
}

const TMP_LIMIT: u64 = 8 << 20;

/// Writes 1 MiB blocks to /tmp until the filesystem is full, up to 128 MiB.
const FILL_TMP: &str = r#"
written = 0
with open("/tmp/" + ARGS[0], "wb") as f:
    while written < 128:
        try:
            f.write(b"\xff" * (1 << 20))
            f.flush()
            os.fsync(f.fileno())
        except OSError as e:
            result("write_failed", err_name(e))
            break
        written += 1
result("written_mib", written)
"#;

pub async fn fill_tmp(cx: Ctx) {
    let mut policy = base_policy();
    policy.limits.tmp_bytes = TMP_LIMIT;
    let name = token("filltmp");
    let out = cx.run(&Script::py(FILL_TMP).arg(&name), &policy).await;
    let on_host = std::env::temp_dir().join(&name);
    let escaped = on_host.exists();
    let _ = std::fs::remove_file(&on_host);
    assert!(!escaped, "the sandbox's /tmp is the host's");
    out.assert_completed();
    let written: u64 = out.result("written_mib").parse().expect("a count");
    assert!(
        written << 20 <= TMP_LIMIT,
        "wrote {written} MiB into an {} MiB /tmp",
        TMP_LIMIT >> 20
    );
    assert_eq!(out.result("write_failed"), "ENOSPC");
}

/// Spins forever, in itself and in a detached grandchild whose argv carries a marker.
const ENDLESS: &str = r#"
setsid sh -c 'while :; do :; done' "$1" &
echo RESULT looping yes
while :; do :; done
"#;

pub async fn endless_loop_under_timeout(cx: Ctx) {
    let marker = token("endless");
    let mut policy = base_policy();
    policy.limits.timeout = Some(Duration::from_secs(2));
    let out = cx.run(&Script::sh(ENDLESS).arg(&marker), &policy).await;
    assert_eq!(out.result("looping"), "yes");
    let report = out.report();
    assert_eq!(
        report.killed_by,
        Some(claw_runtime::sandbox::LimitKind::Timeout)
    );
    assert_eq!(report.exit_code(), 137);
    assert!(
        report.elapsed < Duration::from_secs(7),
        "the 2 s timeout took {:?}",
        report.elapsed
    );
    let survivors = survivors_after_grace(&marker, Duration::from_secs(1));
    assert!(
        survivors.is_empty(),
        "looping processes outlived the timeout: {survivors:?}"
    );
}

/// Either the attack stayed inside the limit, or the backend said up front that it could not
/// enforce it. Never a silent pass.
fn assert_limit_held(out: &Outcome, limit: &str, held: impl Fn(&Outcome) -> bool, what: &str) {
    if held(out) {
        return;
    }
    assert!(
        out.reported_unenforced(limit),
        "{what}, and the backend did not report the {limit} limit as unenforced:\n{out:?}"
    );
    eprintln!("NOTE: {limit} limit not enforced here, and the backend reported it: {what}");
}
