#!/usr/bin/env bash
# One command for the CPU benchmark of the FLUX transformer against our PyTorch eager baseline (bench/NOTES.md):
# builds the bench targets, checks both implementations on the golden cases, then per size runs OUR forward
# (bench_transformer_sizes, which saves weights, inputs and output), checks the PyTorch baseline's output against
# ours and times it on the same data, and prints a table: tokens, ms ours, ms PyTorch, ratio, max rel diff.
#
# Sizes: tiny = the golden tiny-dev model (1,024 image + 512 text tokens); 1, 4, 16 = FLUX.1-dev-shaped random
# model (hidden 3072, 24 heads, bf16-exact weights) at reduced depth (--double/--single, default 1 + 1) with
# 4,608 / 16,896 / 66,048 tokens (4,096 / 16,384 / 65,536 image + 512 text). On a 2-core machine one 1+1 forward
# takes about 1.5 min at 1 MP, 7 min at 4 MP and an hour at 16 MP (and ~15 GB of RAM per process): 16 is not in
# the default list.
#
# Usage: bench/run_cpu_bench.sh [--sizes tiny,1,4] [--threads N] [--iters N] [--double N] [--single N]
#                               [--build-dir DIR] [--jobs N]
# Environment: PYTHON (a python3 with torch; default: the first of python3, /usr/bin/python3 that imports torch).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sizes="tiny,1,4"
threads=1
iters=2
double=1
single=1
build="$root/build-bench"
jobs=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --iters) iters="$2"; shift 2 ;;
    --double) double="$2"; shift 2 ;;
    --single) single="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run_cpu_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

find_python() {
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, numpy' >/dev/null 2>&1; then
      echo "$p"; return 0
    fi
  done
  echo "run_cpu_bench.sh: no python3 with torch and numpy found (set PYTHON)" >&2
  return 1
}
py="$(find_python)"

# Same thread count for both sides: LibTorch's intra-op pool and OpenBLAS (which both processes load) alike.
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"

echo "== build ($build)"
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C "$build" -j"$jobs" bench_transformer_sizes bench_golden_device >/dev/null

data="$build/bench-data"
mkdir -p "$data"
results="$data/results.jsonl"
: >"$results"

golden="$root/../shared/golden"
[[ -d "$golden/cases" ]] || golden="$root/third_party/golden"
if [[ -d "$golden/cases" ]]; then
  echo "== golden check of both implementations (tiny model, CPU float32)"
  "$py" "$root/bench/pytorch_flux.py" check-golden --golden "$golden" | tail -1
  "$build/bench/bench_golden_device" --golden "$golden" --device cpu --dtype f32 | tail -1
fi

weights="$data/dev_${double}x${single}.safetensors"
IFS=',' read -r -a size_list <<<"$sizes"
for s in "${size_list[@]}"; do
  case "$s" in
    tiny) img=1024; wfile="$golden/models/tiny-dev/comfy/flux.safetensors"; wargs=(--weights "$wfile"); it=10 ;;
    1) img=4096 ;;
    4) img=16384 ;;
    16) img=65536 ;;
    *) echo "run_cpu_bench.sh: unknown size $s (tiny, 1, 4, 16)" >&2; exit 2 ;;
  esac
  if [[ "$s" != tiny ]]; then
    it="$iters"
    wfile="$weights"
    if [[ -f "$weights" ]]; then wargs=(--weights "$weights"); else wargs=(--config dev --double "$double" --single "$single" --write-weights "$weights"); fi
  fi
  io="$data/io_${s}.safetensors"
  echo "== size $s: $img image + 512 text tokens (ours)"
  "$build/bench/bench_transformer_sizes" "${wargs[@]}" --img-tokens "$img" --txt-tokens 512 --threads "$threads" \
    --warmup 0 --iters "$it" --save-io "$io" --json "$results.ours" | grep '^OURS' | cut -c1-200
  echo "== size $s (PyTorch eager, $("$py" -c 'import torch;print(torch.__version__)'))"
  "$py" "$root/bench/pytorch_flux.py" compare --weights "$wfile" --io "$io" --threads "$threads" \
    --warmup 0 --iters "$it" --json "$results.torch" | cut -c1-200
  paste -d'\t' <(tail -1 "$results.ours") <(tail -1 "$results.torch") | sed "s/^/$s\t/" >>"$results"
  rm -f "$io"
done

"$py" - "$results" "$threads" <<'EOF'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print(f"\nCPU, {sys.argv[2]} thread(s). ms = process CPU time of one forward (fastest timed run; on this shared "
      "machine wall time depends on the scheduler), wall = elapsed; ratio = ours / PyTorch (CPU time)")
print(f"{'size':>5} {'tokens':>7} {'blocks':>6} {'ms ours':>10} {'ms PyTorch':>11} {'ratio':>6} {'ms/block ours':>14} "
      f"{'max rel diff':>13} {'wall ours/PT':>17} {'GFLOP/s ours':>13} {'RSS GiB ours/PT':>16}")
for size, o, t in rows:
    o, t = json.loads(o), json.loads(t)
    blocks = o["double"] + o["single"]
    print(f"{size:>5} {o['tokens']:>7} {o['double']}+{o['single']:<4} {o['cpu_ms_min']:>10.1f} {t['cpu_ms_min']:>11.1f} "
          f"{o['cpu_ms_min'] / t['cpu_ms_min']:>6.3f} {o['cpu_ms_min'] / blocks:>14.1f} "
          f"{t.get('max_rel_diff', float('nan')):>13.2e} {o['ms_min']:>8.0f}/{t['ms_min']:<8.0f} "
          f"{o['gflop'] / o['cpu_ms_min'] * 1e3:>13.1f} {o['peak_rss_gib']:>7.2f}/{t['peak_rss_gib']:<7.2f}")
EOF
