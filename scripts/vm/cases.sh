#!/usr/bin/env bash
# The cgroup cases, run as root inside the cgroup v2 VM (scripts/cgroup-v2-vm.sh, started by
# scripts/vm/init). Each case prints one `PASS name` or `FAIL name: why` line. Where clawc runs
# decides which of its v2 paths is taken:
#   root           root, in the root cgroup: controllers are enabled at the root (exempt from
#                  the "no internal processes" rule) and sandboxes are made beside it
#   root-leaf      root, alone in a cgroup of its own (a service): clawc moves into a leaf
#   nobody-deleg   nobody, alone in a cgroup delegated to it (what `systemd-run --user --scope
#                  -p Delegate=yes` or a `Delegate=yes` unit gives): same path, without root
#   nobody-plain   nobody in a cgroup it does not own: no cgroup, limits reported Unenforced
#   nobody-shared  nobody in a delegated cgroup that another process shares: the same
#   root-shared    root in a cgroup that another process shares (a service without Delegate=)
#   root-cgroupns  root in a container's view: its own cgroup namespace with cgroup2 mounted
#                  inside, whose root is not exempt from "no internal processes"
# The limits are proven from outside the sandbox: killed_by is read by clawc from the cgroup's
# own counters (memory.events, pids.events), a sampler reads the live cgroup's cpu.max and
# cpu.stat, and the program prints its RLIMIT_NPROC so that the pids layer that stopped a fork
# bomb is known.
set -u
CLAWC=/share/clawc
CG=/sys/fs/cgroup
NOBODY=65534
RUN_TIMEOUT=90
failures=0
work=$(mktemp -d)

case_start=$SECONDS
took() { echo "$((SECONDS - case_start))s"; }
pass() { echo "PASS $1 [$(took)]${2:+ ($2)}"; }
fail() {
    echo "FAIL $1 [$(took)]: $2"
    echo "----- stdout"; cat "$work/out" 2>/dev/null
    echo "----- stderr"; cat "$work/err" 2>/dev/null
    echo "-----"
    failures=$((failures + 1))
}

MEM_PROG='
chunks = []
for i in range(20):
    chunks.append(b"x" * (10 << 20))
    print("allocated", (i + 1) * 10, "MiB", flush=True)
print("DONE allocated 200 MiB", flush=True)
'
PIDS_PROG='
import os, resource, sys, time
print("RLIMIT_NPROC", resource.getrlimit(resource.RLIMIT_NPROC)[0], flush=True)
n = 0
while n < 200:
    try:
        pid = os.fork()
    except OSError as e:
        print("forked", n, "then errno", e.errno, flush=True)
        sys.exit(3)
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    n += 1
print("DONE forked", n, flush=True)
'
CPU_PROG='
import time
start = time.monotonic()
c0 = time.process_time()
while time.monotonic() - start < 4.0:
    pass
wall = time.monotonic() - start
print("cpu/wall %.2f" % ((time.process_time() - c0) / wall), flush=True)
'

# prepare WHERE: sets $parent, the cgroup under which the next clawc_run makes its
# sandboxes: the root cgroup, or a fresh $CG/WHERE-N (delegated to nobody for the delegated
# placements, see the top).
prepare() {
    where=$1
    if [ "$where" = root ]; then
        parent=$CG
        return
    fi
    # What a service manager does at boot: the controllers are available one level down.
    # (The root placement comes first and leaves this to clawc itself.)
    local controller
    for controller in memory pids cpu; do
        echo "+$controller" >"$CG/cgroup.subtree_control"
    done
    parent=$CG/$where-$RANDOM
    mkdir "$parent" || exit 1
    case "$where" in
        nobody-deleg | nobody-shared)
            # Delegation as the kernel's cgroup-v2.rst describes it: the directory and its
            # cgroup.procs, cgroup.threads and cgroup.subtree_control.
            chown "$NOBODY:$NOBODY" "$parent" "$parent/cgroup.procs" "$parent/cgroup.threads" \
                "$parent/cgroup.subtree_control"
            ;;
    esac
}

# clawc_run CLAWC-ARGS... -- PROGRAM...: one `clawc sandbox exec` placed as the last
# `prepare` said; sets $rc and leaves stdout and stderr in $work/out and $work/err.
clawc_run() {
    local user=() sharer=
    case "$where" in
        nobody-*) user=(setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups --) ;;
    esac
    if [ "$where" = nobody-shared ] || [ "$where" = root-shared ]; then
        # Another process of the same user in the same cgroup (a login shell, say).
        bash -c 'echo $$ >"$1/cgroup.procs" && exec "${@:2}"' _ "$parent" "${user[@]}" sleep 600 &
        sharer=$!
    fi
    if [ "$where" = root ]; then
        timeout -k 5 "$RUN_TIMEOUT" "$CLAWC" sandbox exec "$@" >"$work/out" 2>"$work/err"
    elif [ "$where" = root-cgroupns ]; then
        # As a container engine starts its payload: moved into the container's cgroup, then
        # a cgroup namespace rooted there, with cgroup2 mounted afresh in a mount namespace.
        timeout -k 5 "$RUN_TIMEOUT" bash -c 'echo $$ >"$1/cgroup.procs" &&
            exec unshare --cgroup --mount --propagation private sh -c "umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec \"\$@\"" _ "${@:2}"' _ \
            "$parent" "$CLAWC" sandbox exec "$@" >"$work/out" 2>"$work/err"
    else
        # Moved in by root before dropping to nobody, as a service manager does; `timeout`
        # stays outside, so that clawc is alone in its cgroup.
        timeout -k 5 "$RUN_TIMEOUT" bash -c 'echo $$ >"$1/cgroup.procs" && exec "${@:2}"' _ \
            "$parent" "${user[@]}" "$CLAWC" sandbox exec "$@" >"$work/out" 2>"$work/err"
    fi
    rc=$?
    if [ -n "$sharer" ]; then
        kill "$sharer" 2>/dev/null
        wait "$sharer" 2>/dev/null
    fi
}

# Sandbox cgroups (not clawc's own supervisor leaf) left under $1.
leftovers() {
    find "$1" -mindepth 1 -maxdepth 1 -type d -regex '.*/clawc-[0-9]+-[0-9]+-[0-9]+' 2>/dev/null
}

# Waits until a sandbox cgroup exists under $1 and prints its path.
wait_sandbox_cgroup() {
    local i
    for i in $(seq 1 300); do
        local found
        found=$(leftovers "$1" | head -n1)
        if [ -n "$found" ]; then
            echo "$found"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

unenforced() { grep -q "cannot enforce this limit limit=\"$1\"" "$work/err"; }
killed_by() { grep -q "clawc: killed: $1 limit reached" "$work/err"; }

# Each enforced case also asserts that none of the cgroup limits was reported unenforced.
none_unenforced() {
    local limit
    for limit in memory pids cpu; do
        if unenforced "$limit"; then
            echo "$limit reported unenforced"
            return 0
        fi
    done
    return 1
}

case_memory() {
    local name="memory-kill/$1"
    prepare "$1"
    clawc_run --memory $((32 << 20)) -- python3 -c "$MEM_PROG"
    if why=$(none_unenforced); then fail "$name" "$why"; return; fi
    if ! grep -q '^allocated 10 MiB' "$work/out"; then fail "$name" "the program never ran"; return; fi
    if grep -q '^DONE' "$work/out"; then fail "$name" "200 MiB allocated under a 32 MiB limit"; return; fi
    if [ "$rc" != 137 ] || ! killed_by Memory; then
        fail "$name" "exit $rc, expected 137 with killed_by Memory"
        return
    fi
    if [ -n "$(leftovers "$parent")" ]; then fail "$name" "cgroup left behind: $(leftovers "$parent")"; return; fi
    pass "$name" "$(grep -c '^allocated' "$work/out")0 MiB reached, then killed by memory; cgroup removed"
}

case_pids() {
    local name="pids-forkbomb/$1"
    prepare "$1"
    clawc_run --pids 16 -- python3 -c "$PIDS_PROG"
    if why=$(none_unenforced); then fail "$name" "$why"; return; fi
    local nproc forked
    nproc=$(awk '/^RLIMIT_NPROC/ {print $2}' "$work/out")
    forked=$(awk '/^forked/ {print $2}' "$work/out")
    if [ -z "$nproc" ]; then fail "$name" "the program never ran"; return; fi
    if [ -z "$forked" ]; then fail "$name" "the fork bomb was not stopped"; return; fi
    if [ "$forked" -gt 16 ]; then fail "$name" "forked $forked under --pids 16"; return; fi
    # The cgroup, not RLIMIT_NPROC, must be what held: clawc sets no RLIMIT_NPROC when the
    # cgroup covers pids (the default one is in the thousands), and as root it would not bind.
    if [ "$nproc" != -1 ] && [ "$nproc" -le 1000 ]; then
        fail "$name" "RLIMIT_NPROC is $nproc: the rlimit, not the cgroup, may have held"
        return
    fi
    if [ "$rc" != 137 ] || ! killed_by Pids; then
        fail "$name" "exit $rc, expected 137 with killed_by Pids (from pids.events)"
        return
    fi
    if [ -n "$(leftovers "$parent")" ]; then fail "$name" "cgroup left behind"; return; fi
    pass "$name" "$forked forks, then EAGAIN from pids.max; RLIMIT_NPROC $nproc; killed_by Pids"
}

case_cpu() {
    local name="cpu-quota/$1"
    prepare "$1"
    rm -f "$work/sample"
    # The sampler runs beside clawc and reads the live sandbox cgroup halfway through.
    (
        dir=$(wait_sandbox_cgroup "$parent") || exit 0
        sleep 2.5
        {
            echo "max $(cat "$dir/cpu.max" 2>/dev/null)"
            awk '/^nr_throttled/ {print "throttled", $2}' "$dir/cpu.stat" 2>/dev/null
        } >"$work/sample"
    ) &
    local sampler=$!
    # A wall limit of its own: under software emulation at a fifth of a CPU, python's start-up
    # alone can take most of the default 30 s (a run was killed at 33 s); the case measures the
    # quota, not the timeout.
    clawc_run --cpu 0.2 --timeout 80 -- python3 -c "$CPU_PROG"
    wait "$sampler"
    if why=$(none_unenforced); then fail "$name" "$why"; return; fi
    local ratio max throttled
    ratio=$(awk '/^cpu\/wall/ {print $2}' "$work/out")
    max=$(awk '/^max/ {print $2, $3}' "$work/sample" 2>/dev/null)
    throttled=$(awk '/^throttled/ {print $2}' "$work/sample" 2>/dev/null)
    if [ -z "$ratio" ] || [ "$rc" != 0 ]; then fail "$name" "exit $rc, no ratio printed"; return; fi
    if [ "$max" != "20000 100000" ]; then fail "$name" "cpu.max of the sandbox cgroup is '$max'"; return; fi
    if [ -z "$throttled" ] || [ "$throttled" -eq 0 ]; then fail "$name" "never throttled"; return; fi
    if ! awk -v r="$ratio" 'BEGIN {exit !(r < 0.35)}'; then fail "$name" "used $ratio of a CPU under 0.2"; return; fi
    if [ -n "$(leftovers "$parent")" ]; then fail "$name" "cgroup left behind"; return; fi
    pass "$name" "cpu/wall $ratio under 0.2; cpu.max $max; throttled $throttled times"
}

# The supervisor leaf: clawc alone in a non-root cgroup moves into a leaf of its own.
case_moved_into_leaf() {
    local name="own-leaf/$1"
    prepare "$1"
    clawc_run --memory $((64 << 20)) -- /bin/true
    local leaf
    leaf=$(find "$parent" -mindepth 1 -maxdepth 1 -type d -name 'clawc-*-supervisor')
    if [ "$rc" != 0 ]; then fail "$name" "exit $rc"; return; fi
    if why=$(none_unenforced); then fail "$name" "$why"; return; fi
    if [ -z "$leaf" ]; then fail "$name" "no supervisor leaf under $parent"; return; fi
    if ! grep -qw memory "$parent/cgroup.subtree_control"; then fail "$name" "memory not enabled for children"; return; fi
    pass "$name" "clawc moved into ${leaf#"$CG"/}; $(cat "$parent/cgroup.subtree_control") enabled"
}

# A clawc killed with SIGKILL leaves its sandbox cgroup; the next run reaps it, killing a
# process still inside.
case_reap() {
    local name="reap-after-kill/root"
    "$CLAWC" sandbox exec -- /usr/bin/sleep 300 >/dev/null 2>&1 &
    local victim=$!
    local dir
    if ! dir=$(wait_sandbox_cgroup "$CG"); then
        kill -9 "$victim"
        fail "$name" "the sandbox cgroup never appeared"
        return
    fi
    kill -9 "$victim"
    wait "$victim" 2>/dev/null
    sleep 0.5
    if [ ! -d "$dir" ]; then fail "$name" "the killed run's cgroup vanished by itself"; return; fi
    # Something still inside, as when the kill came between fork and teardown.
    sleep 300 &
    local straggler=$!
    echo "$straggler" >"$dir/cgroup.procs"
    prepare root
    clawc_run -- /bin/true
    local straggler_alive=no
    kill -0 "$straggler" 2>/dev/null && straggler_alive=yes
    kill -9 "$straggler" 2>/dev/null
    wait "$straggler" 2>/dev/null
    if [ "$rc" != 0 ]; then fail "$name" "the next run failed: exit $rc"; return; fi
    if [ -d "$dir" ]; then fail "$name" "${dir#"$CG"/} still there after the next run"; return; fi
    if [ "$straggler_alive" = yes ]; then fail "$name" "the process inside survived the reaping"; return; fi
    pass "$name" "${dir#"$CG"/} and the process inside were reaped by the next run"
}

# No usable cgroup: clawc must say so (memory, cpu) and fall back to RLIMIT_DATA and
# RLIMIT_NPROC, which still hold.
case_unenforced() {
    local name="reported-unenforced/$1"
    prepare "$1"
    clawc_run --memory $((32 << 20)) --cpu 0.2 -- python3 -c "$MEM_PROG"
    if ! unenforced memory || ! unenforced cpu; then
        fail "$name" "memory and cpu not reported unenforced"
        return
    fi
    if grep -q '^DONE' "$work/out"; then fail "$name" "200 MiB allocated under RLIMIT_DATA 32 MiB"; return; fi
    if ! grep -q '^allocated 10 MiB' "$work/out"; then fail "$name" "the program never ran"; return; fi
    local reason
    reason=$(grep -o 'limit="memory" reason=[^;]*' "$work/err" | head -n1)
    prepare "$1"
    clawc_run --pids 16 -- python3 -c "$PIDS_PROG"
    local nproc forked
    nproc=$(awk '/^RLIMIT_NPROC/ {print $2}' "$work/out")
    forked=$(awk '/^forked/ {print $2}' "$work/out")
    if [ -z "$nproc" ]; then fail "$name" "the fork bomb never ran"; return; fi
    if unenforced pids; then
        pass "$name" "$reason; pids reported unenforced too (RLIMIT_NPROC does not bind root)"
        return
    fi
    if [ -z "$forked" ] || [ "$forked" -gt 16 ]; then
        fail "$name" "fork bomb: forked ${forked:-200, all it tried,} under --pids 16, and pids not reported unenforced"
        return
    fi
    if [ "$nproc" = -1 ] || [ "$nproc" -gt 32 ]; then fail "$name" "RLIMIT_NPROC is '$nproc'"; return; fi
    pass "$name" "$reason; RLIMIT_NPROC $nproc held the fork bomb at $forked"
}

echo "== cgroup v2 cases: kernel $(uname -r), $(nproc) CPUs, controllers: $(cat "$CG/cgroup.controllers")"
if [ ! -e "$CG/cgroup.controllers" ]; then
    echo "FAIL vm-setup: no cgroup v2 hierarchy at $CG"
    exit 1
fi
t0=$SECONDS
# run NAME FUNCTION ARG...: one case, unless CLAWC_VM_ONLY (from the kernel command line,
# see --only) names others.
run() {
    local name=$1
    shift
    if [ -n "${CLAWC_VM_ONLY:-}" ] && [[ ",$CLAWC_VM_ONLY," != *",$name,"* ]]; then
        return
    fi
    case_start=$SECONDS
    "$@"
}
# Root first, while the root cgroup's subtree_control is still empty: clawc enables it.
run memory-kill/root case_memory root
run pids-forkbomb/root case_pids root
run cpu-quota/root case_cpu root
run reap-after-kill/root case_reap
run own-leaf/root-leaf case_moved_into_leaf root-leaf
run own-leaf/nobody-deleg case_moved_into_leaf nobody-deleg
run memory-kill/nobody-deleg case_memory nobody-deleg
run pids-forkbomb/nobody-deleg case_pids nobody-deleg
run cpu-quota/nobody-deleg case_cpu nobody-deleg
run reported-unenforced/nobody-plain case_unenforced nobody-plain
run reported-unenforced/nobody-shared case_unenforced nobody-shared
run reported-unenforced/root-shared case_unenforced root-shared
run own-leaf/root-cgroupns case_moved_into_leaf root-cgroupns
run memory-kill/root-cgroupns case_memory root-cgroupns
echo "== cases took $((SECONDS - t0))s"
exit $((failures > 0))
