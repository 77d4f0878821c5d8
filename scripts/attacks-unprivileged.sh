#!/bin/sh
# Runs the native backend's attack suite as an UNPRIVILEGED user (default: nobody), the way
# most users run clawc: bubblewrap in user namespaces, no writable cgroup, rlimits instead.
#
#   scripts/attacks-unprivileged.sh [USER]
#
# Must be started as root (it uses runuser). It builds the runtime's test binary and the
# release clawc, copies both to a world-readable temporary directory (a build under /root is
# invisible to `nobody`), and runs `<test binary> attacks::native` as USER, with
# CLAWC_SANDBOX_INIT pointing at a copy of the release clawc (the init users run). The Docker half of the suite is not run here:
# talking to the Docker engine is root-equivalent, so those cases run as root only.
#
# Set CI=true (as CI does) to make a missing bubblewrap a failure instead of a skip.
set -eu

user="${1:-nobody}"
repo="$(cd "$(dirname "$0")/.." && pwd)"

if [ "$(id -u)" != 0 ]; then
    echo "attacks-unprivileged.sh: run as root (it switches to '$user' with runuser)" >&2
    exit 2
fi
command -v runuser >/dev/null || { echo "runuser not found (apt-get install util-linux)" >&2; exit 2; }

# Build once; cargo's JSON messages name the exact artifacts (test binary hashes change).
# --workspace: the same feature set as the main test run, so nothing is rebuilt.
artifacts="$(cd "$repo" && cargo test --workspace --no-run --message-format=json)"
pick() {
    # $1: target kind ("test" or "bin"), $2: target name; only claw-runtime's (every crate's
    # test binary is called `it`)
    printf '%s\n' "$artifacts" | python3 -c '
import json, sys
kind, name = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    target = msg.get("target") or {}
    if "#claw-runtime@" not in msg.get("package_id", ""):
        continue
    if msg.get("reason") == "compiler-artifact" and kind in target.get("kind", []) \
            and target.get("name") == name and msg.get("executable"):
        print(msg["executable"])
' "$1" "$2" | tail -n 1
}
test_bin="$(pick test it)"
[ -n "$test_bin" ] || { echo "could not find the claw-runtime test binary in cargo's output" >&2; exit 2; }
# The in-sandbox init is the RELEASED clawc acting as its own init (what it does when no
# claw-sandbox-init is installed beside it); the root run uses the released claw-sandbox-init.
(cd "$repo" && cargo build --release -p clawc --locked)
init_bin="${CARGO_TARGET_DIR:-$repo/target}/release/clawc"
[ -x "$init_bin" ] || { echo "release clawc not found at $init_bin" >&2; exit 2; }

work="$(mktemp -d /tmp/clawc-attacks.XXXXXX)"
trap 'rm -rf "$work"' EXIT INT TERM
cp "$test_bin" "$work/it"
cp "$init_bin" "$work/clawc"
chmod 755 "$work" "$work/it" "$work/clawc"

echo "running the native attack suite as '$user' ($(id -u "$user")) from $work"
cd "$work"
# A clean environment: nothing of root's environment (tokens, HOME) reaches the run.
runuser -u "$user" -- env -i \
    PATH=/usr/local/bin:/usr/bin:/bin \
    HOME="$work" \
    TMPDIR=/tmp \
    CI="${CI:-}" \
    CLAWC_REQUIRE_BACKENDS="${CLAWC_REQUIRE_BACKENDS:-}" \
    CLAWC_SANDBOX_INIT="$work/clawc" \
    "$work/it" attacks::native
