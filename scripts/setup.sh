#!/usr/bin/env bash
# Install and start everything the test suites need on a fresh Debian 12 machine (as root, or
# with sudo). Idempotent: a second run only checks.
#   bubblewrap      the native sandbox backend
#   docker.io       the Docker backend: installed and started by scripts/docker-engine.sh
#   debootstrap     builds the Docker base image offline (scripts/build-base-image.sh)
#   util-linux      runuser, for the unprivileged attack run
#   npm             installs Claude Code (the claude-code generator's CLI) at the version
#                   compiler/src/build/claude_code.rs pins, into .cache/claude-code/ (not committed)
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v runuser >/dev/null || missing+=(util-linux)
command -v npm >/dev/null || missing+=(npm)
command -v git >/dev/null || missing+=(git)
# ssh-keygen signs and checks capability sign-offs (clawc review approve, verify --require-signoff).
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

scripts/docker-engine.sh
scripts/build-base-image.sh

# Claude Code from npm, at the one pinned version (the generator's source names it). The package
# ships a native binary (bin/claude.exe, from a platform optional dependency); no Node.js runs it.
claude_version=$(sed -n 's/^pub const CLAUDE_CODE_VERSION: &str = "\(.*\)";$/\1/p' \
  compiler/src/build/claude_code.rs)
[ -n "$claude_version" ] || { echo "setup: no CLAUDE_CODE_VERSION in claude_code.rs" >&2; exit 1; }
claude_dir=.cache/claude-code
claude_pkg=$claude_dir/node_modules/@anthropic-ai/claude-code
claude_installed() { "$claude_pkg/bin/claude.exe" --version 2>/dev/null | grep -qx "$claude_version (Claude Code)"; }
if ! claude_installed; then
  echo "setup: installing Claude Code $claude_version into $claude_dir"
  npm install --prefix "$claude_dir" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$claude_version"
  # Its postinstall puts the platform binary in place of bin/claude.exe; run it again when
  # npm skipped install scripts.
  claude_installed || (cd "$claude_pkg" && node install.cjs)
  claude_installed || { echo "setup: Claude Code $claude_version does not run" >&2; exit 1; }
fi
