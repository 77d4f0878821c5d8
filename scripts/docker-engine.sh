#!/usr/bin/env bash
# Make a Docker engine answer on this machine: install docker.io when it is missing, start dockerd
# in the background when nothing answers, and wait (bounded) until `docker info` works.
# Idempotent: on a machine whose engine already answers it only checks and exits 0.
#
# Environment: DOCKERD_LOG (default /var/log/dockerd.log), DOCKER_WAIT_SECS (default 60).
set -euo pipefail

log="${DOCKERD_LOG:-/var/log/dockerd.log}"
wait_secs="${DOCKER_WAIT_SECS:-60}"

say() { echo "docker-engine: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

engine_answers() { docker info >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    say "installing docker.io (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if engine_answers; then
    say "engine already answering"
    exit 0
fi

# A dockerd that is still starting up (e.g. launched by a parallel run) owns the pid file; wait for
# it instead of starting a second daemon that would fail on the same socket.
if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "starting dockerd (log: $log)"
    as_root mkdir -p "$(dirname "$log")"
    # setsid + nohup: the daemon must outlive this script and the CI step that ran it.
    as_root sh -c "setsid nohup dockerd >>'$log' 2>&1 </dev/null &"
fi

deadline=$((SECONDS + wait_secs))
until engine_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        say "dockerd did not answer within ${wait_secs}s; last lines of $log:"
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
    sleep 0.5
done
say "engine ready: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
