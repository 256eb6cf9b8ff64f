#!/usr/bin/env bash
# Fails when a C++/CUDA file of the tree differs from what clang-format makes of it (.clang-format at the root).
# Fix with: clang-format -i $(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
# The version is pinned to Debian 12's clang-format 14: other versions wrap a few lines differently.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
fmt="$(command -v clang-format-14 || command -v clang-format || true)"
if [ -z "$fmt" ]; then
  echo "check-format: clang-format not found (scripts/install-deps.sh --tests installs it)" >&2
  exit 1
fi
# Tracked files and new ones git does not ignore (a file about to be committed is checked too).
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.h' '*.cu' '*.cuh' 2>/dev/null || find app bench core tests ui \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \))
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  # Generated tables (core/text/gen_unicode_tables.py) keep the generator's layout: regenerating must not need a
  # formatting pass.
  head -c 12 "$f" | grep -q '^// GENERATED' && continue
  "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
  echo "check-format: ${#bad[@]} file(s) not formatted with $("$fmt" --version | head -1):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix: $fmt -i ${bad[*]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
