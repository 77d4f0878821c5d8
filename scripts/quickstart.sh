#!/usr/bin/env bash
# The README's main command: the whole pipeline on a fresh machine, with no API key and no
# Docker. Checks every bundled spec, then re-derives every pinned integration from its recorded
# transcript into a scratch folder (`clawc build --generator replay --out DIR`), running every
# example in native sandboxes and comparing the bytes with golden/. Installs bubblewrap (the
# native sandbox) when it is missing, as the test command does.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v bwrap >/dev/null; then
  echo "quickstart: installing bubblewrap (the native sandbox backend)"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap
fi

cargo build --release --locked -p clawc -p claw-runtime --bin clawc --bin claw-sandbox-init
clawc=target/release/clawc

echo "== clawc check specs"
"$clawc" check specs

out="${1:-$(mktemp -d -t clawc-quickstart-XXXXXX)}"
echo "== clawc build --generator replay --out $out   (every example, in native sandboxes)"
"$clawc" build --generator replay --out "$out"
echo "re-derived into $out; golden/ and claw.lock are unchanged (git status shows nothing)"
