#!/usr/bin/env bash
# Make a Docker engine answer on this machine: install docker.io when it is missing, start dockerd
# in the background when nothing answers, and wait (bounded) until `docker info` works.
# Then register gVisor as the OCI runtime `clawc-runsc` (installing Debian's `runsc` when it is
# missing) and reload dockerd so it takes effect.
# Idempotent: on a machine whose engine already answers and knows `clawc-runsc` it only checks.
#
# Environment: DOCKERD_LOG (default /var/log/dockerd.log), DOCKER_WAIT_SECS (default 60),
# DOCKER_DAEMON_JSON (default /etc/docker/daemon.json), CLAWC_RUNSC=0 to skip gVisor.
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

daemon_json="${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}"
# clawc's own runtime name: a user's existing `runsc` entry (with their own flags) is left alone.
runtime_name="clawc-runsc"

# gVisor, registered before dockerd starts so a fresh daemon reads it at once.
# `--network=none`: runsc refuses a container without a network namespace of its own otherwise
# (the sandbox has none anyway: network_mode none). `--host-uds=open`: the egress socket and
# init's lifeline to clawc are host Unix sockets bind-mounted into the container.
register_runsc() {
    if [ "${CLAWC_RUNSC:-1}" = 0 ]; then echo skipped; return; fi
    if ! command -v runsc >/dev/null 2>&1; then
        say "installing runsc (gVisor, apt-get)"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >&2
    fi
    local runsc
    runsc="$(command -v runsc)"
    as_root mkdir -p "$(dirname "$daemon_json")"
    # Merge: every other key of the user's daemon.json, and every other runtime, stays as it was.
    # Prints whether the file changed.
    as_root /usr/bin/python3 - "$daemon_json" "$runtime_name" "$runsc" <<'PY'
import json, os, sys
path, name, runsc = sys.argv[1:4]
try:
    with open(path) as f:
        text = f.read()
    config = json.loads(text) if text.strip() else {}
except FileNotFoundError:
    config = {}
if not isinstance(config, dict):
    sys.exit(f"{path}: not a JSON object; not touching it")
entry = {"path": runsc, "runtimeArgs": ["--network=none", "--host-uds=open"]}
runtimes = config.setdefault("runtimes", {})
if not isinstance(runtimes, dict):
    sys.exit(f"{path}: \"runtimes\" is not an object; not touching it")
if runtimes.get(name) == entry:
    print("unchanged")
    sys.exit(0)
runtimes[name] = entry
tmp = path + ".clawc-tmp"
with open(tmp, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
if os.path.exists(path):
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
os.replace(tmp, path)
print("changed")
PY
}

runtime_listed() {
    docker info --format '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}' 2>/dev/null |
        tr ' ' '\n' | grep -qx "$runtime_name"
}

registration="$(register_runsc)"
changed=0
if [ "$registration" = changed ]; then changed=1; fi

if engine_answers; then
    if [ "$changed" = 1 ] || { [ "${CLAWC_RUNSC:-1}" != 0 ] && ! runtime_listed; }; then
        # dockerd reloads `runtimes` from daemon.json on SIGHUP, without restarting containers.
        say "reloading dockerd ($daemon_json changed)"
        as_root kill -HUP "$(cat "${DOCKERD_PIDFILE:-/var/run/docker.pid}")"
        deadline=$((SECONDS + wait_secs))
        until runtime_listed; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                say "dockerd does not list $runtime_name after the reload; last lines of $log:"
                tail -n 20 "$log" >&2 || true
                exit 1
            fi
            sleep 0.2
        done
        say "runtime $runtime_name registered"
    fi
    say "engine already answering"
    exit 0
fi

# A dockerd that is still starting up (e.g. launched by a parallel run) owns the pid file; wait for
# it instead of starting a second daemon that would fail on the same socket.
if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "starting dockerd (log: $log)"
    as_root mkdir -p "$(dirname "$log")"
    # setsid + nohup: the daemon must outlive this script and the CI step that ran it.
    as_root sh -c "setsid nohup dockerd --config-file '$daemon_json' >>'$log' 2>&1 </dev/null &"
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
if [ "${CLAWC_RUNSC:-1}" != 0 ] && ! runtime_listed; then
    say "dockerd started but does not list $runtime_name (see $daemon_json and $log)"
    exit 1
fi
say "engine ready: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
