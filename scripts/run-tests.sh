#!/usr/bin/env bash
# Checks the include floors (scripts/check-layers.sh), installs what is missing, checks the formatting
# (scripts/check-format.sh), builds, and runs the whole test suite with ctest (unit, golden, gui, acceptance).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The include floors first (DESIGN.md §1): a layering violation fails CI before minutes of building.
bash "$root/scripts/check-layers.sh"
"$root/scripts/install-deps.sh" --gui --tests
# Formatting next (it needs clang-format from the install): also seconds, before the build.
bash "$root/scripts/check-format.sh"
"$root/scripts/build.sh"
cd "${DYPE_BUILD_DIR:-$root/build}"
ctest --output-on-failure --no-tests=error "$@"
