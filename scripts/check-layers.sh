#!/usr/bin/env bash
# Layering check (DESIGN.md §1: one direction of dependency, app → ui → core). Fails, listing file:line, when a
# file includes a project header from a higher floor, when core/ includes anything from ui/ or app/, or when
# core/ includes a Qt header. Floors, low to high:
#   common < {io, image, sampling, dype, cuda, shapes} < {flux, text, vae} < {pipeline, train} < ui < app
# Folders on the same floor may include each other (DESIGN.md does not restrict them). A new core/ folder must be
# given a floor here (and in DESIGN.md) before it passes. Plain bash + grep; run from anywhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# The floor of a layer name; empty for an unknown one.
floor_of() {
  case "$1" in
    common) echo 0 ;;
    io | image | sampling | dype | cuda | shapes) echo 1 ;;
    flux | text | vae) echo 2 ;;
    pipeline | train) echo 3 ;;
    ui) echo 4 ;;
    app) echo 5 ;;
    *) echo "" ;;
  esac
}

# The layer of a path inside the tree (a source file, or what an #include "..." names).
layer_of() {
  local p="$1"
  case "$p" in
    core/*/*) p="${p#core/}"; echo "${p%%/*}" ;;
    core/*) echo common ;;  # core/pch.h: LibTorch and the standard library only
    ui/*) echo ui ;;
    app/*) echo app ;;
    *) echo "" ;;
  esac
}

problems=()
while IFS= read -r file; do
  from="$(layer_of "$file")"
  from_floor="$(floor_of "$from")"
  if [[ -z "$from_floor" ]]; then
    problems+=("$file: folder core/$from has no floor in scripts/check-layers.sh (give it one, and in DESIGN.md)")
    continue
  fi
  # "file:line:text" for every include line of the file.
  while IFS= read -r hit; do
    line="${hit%%:*}"
    text="${hit#*:}"
    if [[ "$from" != ui && "$from" != app ]] &&
       [[ "$text" =~ \#[[:space:]]*include[[:space:]]*[\<\"](Q[A-Za-z0-9_]*|Qt[A-Za-z0-9_]*/[^\>\"]*)[\>\"] ]]; then
      problems+=("$file:$line: core includes a Qt header (${BASH_REMATCH[1]}): core/ is Qt-free")
      continue
    fi
    [[ "$text" =~ \#[[:space:]]*include[[:space:]]*\"((core|ui|app)/[^\"]*)\" ]] || continue
    target="${BASH_REMATCH[1]}"
    to="$(layer_of "$target")"
    to_floor="$(floor_of "$to")"
    if [[ "$file" == core/* && ( "$to" == ui || "$to" == app ) ]]; then
      problems+=("$file:$line: core includes \"$target\": core/ never includes ui/ or app/")
    elif [[ -z "$to_floor" ]]; then
      problems+=("$file:$line: \"$target\" is in core/$to, which has no floor in scripts/check-layers.sh")
    elif (( to_floor > from_floor )); then
      problems+=("$file:$line: $from (floor $from_floor) includes \"$target\" from $to (floor $to_floor), higher")
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$file" || true)
done < <(find core ui app -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.cc' -o -name '*.cu' \
                                      -o -name '*.cuh' \) | LC_ALL=C sort)

if (( ${#problems[@]} > 0 )); then
  echo "check-layers: ${#problems[@]} include(s) against the floors (common < io/image/sampling/dype/cuda <" \
       "flux/text/vae < pipeline < ui < app):" >&2
  printf '  %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "check-layers: ok (no include reaches a higher floor; core/ has no Qt or ui/app include)"
