#!/usr/bin/env bash
# Time from Ctrl-C to exit during a real-shape denoising step: starts `dype generate` on the real-shape files that
# bench/run_real_shape_bench.sh writes, waits until it prints "denoising...", sleeps AFTER seconds, sends SIGINT and
# measures how long the process takes to exit. Passes when it exits with 130 and leaves no output file.
#
# Usage: bench/real_shape_cancel.sh [--variant schnell-fp8] [--size 256] [--after 5] [--out DIR] [--build-dir DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
variant=schnell-fp8; size=256; after=5; out=/tmp/dype-realshape; build="$root/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --variant) variant="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --after) after="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --help|-h) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "real_shape_cancel.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
v="${variant%%-*}"; d="${variant#*-}"
model="$out/flux1-$v.safetensors"; [[ "$d" == bf16 ]] || model="$out/flux1-$v-$d.safetensors"
for f in "$model" "$out/t5xxl_fp8_e4m3fn.safetensors" "$out/clip_l.safetensors" "$out/ae.safetensors"; do
  [[ -f "$f" ]] || { echo "missing $f: run bench/run_real_shape_bench.sh --variants $variant first" >&2; exit 2; }
done
png="$out/cancel-test-$variant-$size.png"; log="$out/cancel-test-$variant-$size.log"
rm -f "$png"
"$build/app/dype" generate --model "$model" --vae "$out/ae.safetensors" --clip "$out/clip_l.safetensors" \
  --t5 "$out/t5xxl_fp8_e4m3fn.safetensors" --tokenizers "$out" --width "$size" --height "$size" --steps 1 \
  --prompt "a lighthouse at dusk" --output "$png" > "$log" 2>&1 &
pid=$!
until grep -q "denoising" "$log" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { echo "dype exited before denoising:"; cat "$log"; exit 1; }
  sleep 0.2
done
sleep "$after"
t0=$(date +%s.%N)
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
t1=$(date +%s.%N)
latency=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "variant $variant ${size}x${size}: SIGINT ${after} s into denoising -> exit $rc after ${latency} s; output file: $([[ -e "$png" ]] && echo PRESENT || echo none)"
tail -n 2 "$log"
[[ $rc -eq 130 && ! -e "$png" ]]
