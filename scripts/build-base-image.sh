#!/usr/bin/env bash
# Build the Docker backend's base image offline: Debian bookworm minbase + python3 (with its full
# standard library), made by debootstrap from the Debian mirror apt already uses, then imported
# with `docker import`. No registry is contacted. Idempotent: does nothing when the image exists,
# unless --force.
#
# The image tag lives in runtime/src/docker/BASE_IMAGE, which the Rust backend also compiles in.
# Environment: CLAWC_DEBIAN_MIRROR overrides the mirror found in /etc/apt/sources.list*.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="$(tr -d '[:space:]' <"$repo_root/runtime/src/docker/BASE_IMAGE")"
suite=bookworm

say() { echo "build-base-image: $*" >&2; }

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) echo "usage: $0 [--force]   (builds $image)"; exit 0 ;;
        *) say "unknown argument: $arg"; exit 2 ;;
    esac
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ "$force" -eq 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    say "$image already exists (use --force to rebuild)"
    exit 0
fi

# The first enabled apt source that serves the plain "$suite" suite, in either format:
# one-line `deb URI SUITE COMPONENTS` (*.list) or deb822 stanzas (*.sources).
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
             if ($(i + 1) == s) { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '
            function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " s " ") && uri != "") print uri
                               types = ""; suites = ""; uri = ""; enabled = "" }
            /^[[:space:]]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { $1 = ""; types = substr($0, 2) }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { $1 = ""; suites = substr($0, 2) }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { flush() }' "$f"
    done
}

mirror="${CLAWC_DEBIAN_MIRROR:-$(find_mirror | head -n 1)}"
if [ -z "$mirror" ]; then
    say "no apt source for '$suite' in /etc/apt/sources.list*; set CLAWC_DEBIAN_MIRROR"
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/clawc-rootfs.XXXXXX")"
cleanup() { as_root rm -rf --one-file-system "$rootfs"; }
trap cleanup EXIT

say "debootstrap $suite from $mirror into $rootfs"
as_root debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
# Package caches are dead weight in an image that never installs anything.
as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

say "importing as $image"
as_root tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
docker run --rm --network none "$image" python3 -c 'import ctypes, http.client, urllib.request' \
    || { say "image $image lacks python3's standard library"; exit 1; }
say "built $image ($(docker image inspect --format '{{.Size}}' "$image") bytes)"
