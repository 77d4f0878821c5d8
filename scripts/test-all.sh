#!/usr/bin/env bash
# The README's test command: install what the tests need, then run every suite. Real parts
# (bubblewrap, a Docker engine) are required: their absence fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

export CLAWC_REQUIRE_BACKENDS=1
echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== release build (what users run: clawc and the small init it uses from beside itself)"
cargo build --release -p clawc -p claw-runtime --bin clawc --bin claw-sandbox-init --locked
# Every sandbox test as root uses the released init clawc picks by default; the unprivileged run
# below and the cgroup v2 VM use clawc itself as init (what clawc does with no init beside it).
export CLAWC_SANDBOX_INIT="$PWD/target/release/claw-sandbox-init"
# The claude-code generator's CLI, as scripts/setup.sh installed it.
export CLAWC_CLAUDE="$PWD/.cache/claude-code/node_modules/@anthropic-ai/claude-code/bin/claude.exe"

echo "== clawc verify --fuzz 200: every pin against claw.lock, every example re-run, then a hardening run"
# A fresh seed each run (printed; a failure's reproduce line names it). About 15 s more than a
# plain verify on 2 cores: 24 tools x 200 inputs, one sandbox per tool.
target/release/clawc verify --fuzz 200

echo "== cgroup v2 in a qemu VM (this machine's cgroups are hybrid; software emulation, budget 480 s)"
scripts/cgroup-v2-vm.sh --clawc "$PWD/target/release/clawc"

echo "== tests (as $(id -un))"
cargo test --workspace --locked

echo "== native-backend attack tests as an unprivileged user"
scripts/attacks-unprivileged.sh
