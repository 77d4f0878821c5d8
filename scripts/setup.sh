#!/usr/bin/env bash
# Install and start everything the test suites need on a fresh Debian 12 machine (as root, or
# with sudo). Idempotent: a second run only checks.
#   bubblewrap      the native sandbox backend
#   docker.io       the Docker backend: installed and started by scripts/docker-engine.sh
#   debootstrap     builds the Docker base image offline (scripts/build-base-image.sh)
#   util-linux      runuser, for the unprivileged attack run
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v runuser >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

scripts/docker-engine.sh
scripts/build-base-image.sh
