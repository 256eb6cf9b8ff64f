#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest (unit, golden, gui, acceptance).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" --gui --tests
"$root/scripts/build.sh"
cd "${DYPE_BUILD_DIR:-$root/build}"
ctest --output-on-failure --no-tests=error "$@"
