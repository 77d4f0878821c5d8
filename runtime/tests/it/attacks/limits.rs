//! Resource attacks: a fork bomb, a memory hog, filling `/tmp`, an endless loop. Each attack is
//! *bounded* (it stops by itself well short of hurting the machine), so that a missing limit
//! shows up as the bound being reached instead of as a dead test host.
//!
//! Every case proves its program ran (a progress line, or its completion line when the limit
//! lets it finish) and names the layer expected to stop it. Where a backend cannot enforce a
//! cgroup limit (an unprivileged user with no writable cgroup) it must say so through
//! `SandboxChild::unenforced`; the case then requires the fallback layer (rlimits) to hold, with
//! the error that layer gives. As root under CI, nothing may be unenforced (checked in
//! `Ctx::run`).

use std::time::Duration;

use claw_runtime::sandbox::LimitKind;

use super::harness::{base_policy, Ctx, Script};
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
    let ran = cx
        .run_result(&Script::py(FORK_BOMB).arg(BOMB_BOUND), &policy)
        .await;
    // Whatever the program managed, nothing of it may survive the sandbox.
    let survivors = survivors_after_grace(&marker, Duration::from_secs(2));
    assert!(
        survivors.is_empty(),
        "fork-bomb processes outlived the sandbox: {} left",
        survivors.len()
    );
    let out = match ran {
        Ok(out) => out,
        // Under gVisor the engine's pids limit counts gVisor's own threads (reported as
        // unenforced at every spawn): a bomb can take gVisor's kernel down with the program,
        // which still ends the sandbox, as the survivor check above proves.
        Err(e) if cx.backend.delegated_layers().contains(&"pids") => {
            eprintln!(
                "[{}] the sandbox's kernel died under the bomb: {e}",
                cx.case
            );
            return;
        }
        Err(e) => panic!("{}: sandbox wait: {e}", cx.case),
    };
    // Both layers (the pids cgroup, or RLIMIT_NPROC where there is none) answer fork with
    // EAGAIN; the program then reports and finishes, and the sandbox takes its children.
    out.assert_completed();
    let forked: u32 = out.result("forked").parse().expect("a fork count");
    assert!(
        forked < PIDS_LIMIT,
        "forked {forked} processes under --pids {PIDS_LIMIT}:\n{out:?}"
    );
    assert_eq!(out.result("fork_failed"), "EAGAIN", "{out:?}");
    assert_eq!(out.report().killed_by, None, "{out:?}");
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
    // It ran: at least one chunk fits under the limit.
    let allocated: u64 = out
        .result("allocated_mib")
        .parse()
        .expect("a running total");
    if out.reported_unenforced("memory") {
        // No memory cgroup: RLIMIT_DATA makes the allocation fail inside the program.
        out.assert_completed();
        assert!(
            allocated << 20 <= MEMORY_LIMIT,
            "allocated {allocated} MiB under {MEMORY_LIMIT} bytes:\n{out:?}"
        );
        out.result("memory_error");
    } else {
        // The memory cgroup kills the program when it goes past the limit.
        assert_eq!(out.report().killed_by, Some(LimitKind::Memory), "{out:?}");
        assert!(
            allocated << 20 <= MEMORY_LIMIT,
            "allocated {allocated} MiB under {MEMORY_LIMIT} bytes:\n{out:?}"
        );
        assert!(
            !out.results().contains_key("done"),
            "the hog finished under the memory cgroup:\n{out:?}"
        );
    }
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
    assert_eq!(report.killed_by, Some(LimitKind::Timeout));
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

const OUTPUT_LIMIT: u64 = 64 << 10;

/// Writes 4 KiB lines to stdout, up to 1 MiB, after a first RESULT line. (One stream: the
/// budget is shared, and which of two pipes is read first is the reader's business.)
const OUTPUT_FLOOD: &str = r#"
result("flooding", "yes")
line = "x" * 4095 + "\n"
for i in range(256):
    sys.stdout.write(line)
    sys.stdout.flush()
"#;

pub async fn output_flood_under_output(cx: Ctx) {
    let mut policy = base_policy();
    policy.limits.output_bytes = Some(OUTPUT_LIMIT);
    let out = cx.run(&Script::py(OUTPUT_FLOOD), &policy).await;
    assert_eq!(out.result("flooding"), "yes");
    assert_eq!(out.report().killed_by, Some(LimitKind::Output), "{out:?}");
    assert_eq!(out.report().exit_code(), 137);
    let delivered = (out.stdout.len() + out.stderr.len()) as u64;
    assert!(
        delivered <= OUTPUT_LIMIT,
        "{delivered} bytes delivered under an output cap of {OUTPUT_LIMIT}"
    );
    assert!(
        !out.results().contains_key("done"),
        "the flood's end was delivered past the cap"
    );
}
