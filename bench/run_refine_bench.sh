#!/usr/bin/env bash
# Peak memory and time of a two-pass hi-res refine against a single-pass text-to-image run of the same output size,
# on the demo model (bench/NOTES.md "Two-pass refine"). Both runs: same prompt, seed and DyPE settings, `--steps S`;
# the refine run generates pass 1 at the auto base size (the DyPE base area with the output's aspect), upscales it
# (Lanczos), encodes it with the tiled VAE encode and re-denoises `--refine-steps R --refine-strength X` at the
# output size (ceil(R·X) steps; the defaults R = 5, X = 0.4 run 2 steps from sigma[3], as many model calls at the
# output size as the text-to-image run's 2). Prints one table: wall time, per-pass times (the CLI's final line), peak RSS
# (/usr/bin/time -v), the difference, and the memory plan's estimate of the picture + tiled encode working set.
#
# Usage: bench/run_refine_bench.sh [--size 4096] [--steps 2] [--refine-steps 5] [--refine-strength 0.4]
#                                  [--build-dir DIR] [--out DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size=4096
steps=2
refine_steps=5
refine_strength=0.4
build="$root/build"
out="${TMPDIR:-/tmp}/dype-refine-bench"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --refine-steps) refine_steps="$2"; shift 2 ;;
    --refine-strength) refine_strength="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run_refine_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
dype="$build/app/dype"
[[ -x "$dype" ]] || { echo "run_refine_bench.sh: $dype not built (scripts/build.sh)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "run_refine_bench.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
mkdir -p "$out"
common=(--model demo --prompt "a lighthouse at dusk" --seed 1 --width "$size" --height "$size" --steps "$steps")

run() {  # name, extra args...
  local name="$1"; shift
  /usr/bin/time -v "$dype" generate "${common[@]}" "$@" --output "$out/$name.png" >"$out/$name.log" 2>&1 || {
    echo "run_refine_bench.sh: the $name run failed:" >&2; tail -5 "$out/$name.log" >&2; exit 1; }
}
rss_kib() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
wall() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1"; }
final() { grep '^wrote ' "$1" | tail -1; }

refine=(--refine auto --refine-steps "$refine_steps" --refine-strength "$refine_strength")
"$dype" generate "${common[@]}" "${refine[@]}" --dry-run >"$out/plan.txt"
run t2i
run refine "${refine[@]}"

t2i_rss=$(rss_kib "$out/t2i.log")
ref_rss=$(rss_kib "$out/refine.log")
printf '| run (%sx%s, demo) | wall | peak RSS GiB |\n|---|---:|---:|\n' "$size" "$size"
printf '| text-to-image, %s steps | %s | %.2f |\n' "$steps" "$(wall "$out/t2i.log")" "$(echo "$t2i_rss/1048576" | bc -l)"
printf '| refine (auto base, %s steps + %s of %s at strength %s) | %s | %.2f |\n' "$steps" \
  "$(sed -n 's/^pass 2: [0-9x]*, \([0-9]*\) of.*/\1/p' "$out/plan.txt")" "$refine_steps" "$refine_strength" "$(wall "$out/refine.log")" \
  "$(echo "$ref_rss/1048576" | bc -l)"
printf '\nrefine - text-to-image peak RSS: %+.0f MiB\n' "$(echo "($ref_rss-$t2i_rss)/1024" | bc -l)"
echo "memory plan's picture + tiled encode estimate: $(grep 'image encode' "$out/plan.txt" | sed 's/^ *//')"
echo "t2i:    $(final "$out/t2i.log")"
echo "refine: $(final "$out/refine.log")"
