#!/usr/bin/env bash
# Installs what is missing, builds, and starts DyPE Studio. With no display it explains the CLI and runs the
# CLI demo generation instead, so the command still does the main job.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" --gui
"$root/scripts/build.sh"
build="${DYPE_BUILD_DIR:-$root/build}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$build/app/dype-studio" "$@"
fi
echo "No display found (DISPLAY/WAYLAND_DISPLAY unset): running the command-line demo instead."
echo "Command line help: $build/app/dype --help"
out="${DYPE_DEMO_OUTPUT:-$root/dype-demo.png}"
exec "$build/app/dype" generate --model demo --prompt "a red star on a blue background, top left" \
  --width 512 --height 512 --output "$out"
