#!/usr/bin/env bash
# Regenerates docs/screenshot.png: DyPE Studio during a demo-model generation, grabbed from a virtual X server.
# Builds nothing: run scripts/build.sh first (or set DYPE_STUDIO to the binary). Needs xvfb-run (Debian: xvfb).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${DYPE_BUILD_DIR:-$root/build}"
studio="${DYPE_STUDIO:-$build/app/dype-studio}"
out="${1:-$root/docs/screenshot.png}"
if [ ! -x "$studio" ]; then
  echo "dype-studio not found at $studio: build it first (scripts/build.sh) or set DYPE_STUDIO" >&2
  exit 1
fi
command -v xvfb-run >/dev/null || { echo "xvfb-run not found (Debian: apt-get install xvfb)" >&2; exit 1; }

# A throw-away settings file, so that the picture does not depend on (or change) the user's settings.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 2048² on the demo model: DyPE is active (2× the 1024 px base grid), a step takes a moment on a CPU, and the
# grab happens after step 6 of 12 with the live preview and the plot's step marker showing.
QT_QPA_PLATFORM=xcb timeout 900 xvfb-run -a -s "-screen 0 1600x1000x24" \
  "$studio" --settings "$tmp/settings.ini" --model demo \
  --prompt "a lighthouse on a cliff above a stormy sea at dusk, ultra detailed" \
  --size 2048x2048 --steps 12 --seed 42 \
  --screenshot "$out" --screenshot-step 6
echo "wrote $out"
