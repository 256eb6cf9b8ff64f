#!/usr/bin/env bash
# One-call GPU check (issue 7), for a machine with CUDA PyTorch 2.x, nvcc, CMake and ninja but no Qt and no network.
# Prepare on a Debian machine first: bench/fetch_gpu_deps.sh (third_party/deb, third_party/golden; carry both).
#
#  1. configures core + CLI + benchmarks (+ core tests when Qt Test is there) against the LibTorch inside the
#     installed PyTorch, DYPE_BUILD_GUI=OFF, and builds what the check runs;
#  2. golden checks on the device: every B_transformer_* and C_vae_decode_* case in float32 (tolerance: each case's
#     rel_l2_loose, 5e-5) and bf16 (3e-2), plus ctest -L gpu when the tests were built;
#  3. our fused QK-RMSNorm + RoPE kernel: check against the plain LibTorch path, timing at 1 / 4 / 16 MP;
#  4. numeric equality of our forward and the PyTorch eager baseline (bench/pytorch_flux.py) on the same weights
#     and inputs (dev-shaped, 1 double + 1 single block, 1 MP);
#  5. one denoising step (= one transformer forward: FLUX.1-dev is guidance-distilled) of the full-depth dev-shaped
#     random model (19 + 38 blocks, 11.9 B parameters) at 1 / 4 / 16 MP in bf16, ours vs PyTorch eager;
#  6. tiled VAE decode at 16 MP (FLUX.1 autoencoder shape, random weights, bf16);
#  7. a table: tokens, ms/step ours, ms/step PyTorch, ratio, TFLOP/s (2·params·tokens for the linears + 4·L²·d per
#     attention layer), peak GiB.
# Designed to finish in about 5 minutes on an H100 (build ≈ 2–3 min of it).
#
# --device cpu runs the same steps at small sizes (tiny model, 1+1 blocks at 256 / 1,024 image tokens, float32) so
# that the script can be checked on a machine without a GPU.
#
# Usage: bench/gpu_check.sh [--device cuda|cpu] [--build-dir DIR] [--jobs N] [--skip-build]
# Output: the table last; logs and JSON lines under $OUT (when set) or the build folder.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
device=cuda
build=""
jobs="$(nproc)"
skip_build=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$device" == cuda || "$device" == cpu ]] || { echo "gpu_check.sh: --device cuda|cpu" >&2; exit 2; }
build="${build:-$root/build-gpu-$device}"
logs="${OUT:-$build/gpu-check}"
mkdir -p "$logs"
t_start=$(date +%s)
failures=()
step() { echo; echo "== [$(( $(date +%s) - t_start ))s] $*"; }
fail() { failures+=("$1"); echo "!! $1"; }

find_python() {
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, numpy' >/dev/null 2>&1; then
      echo "$p"; return 0
    fi
  done
  return 1
}
py="$(find_python)" || { echo "gpu_check.sh: no python3 with torch and numpy (set PYTHON)" >&2; exit 1; }
if [[ "$device" == cuda ]] && ! "$py" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu_check.sh: $py sees no CUDA device; use --device cpu on a machine without a GPU" >&2
  exit 1
fi
"$py" - <<'EOF'
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device:",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader

deb="$root/third_party/deb"
golden="$root/../shared/golden"
[[ -d "$golden/cases" ]] || golden="$root/third_party/golden"
[[ -d "$golden/cases" ]] || golden=""
# Libraries unpacked from .debs (libpng) are found at run time through this path.
export LD_LIBRARY_PATH="$deb/usr/lib/x86_64-linux-gnu:$deb/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---------------------------------------------------------------------------------------------------------------
if [[ $skip_build == 0 ]]; then
  step "configure + build ($build)"
  torch_prefix="$("$py" -c 'import torch;print(torch.utils.cmake_prefix_path)')"
  cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDYPE_BUILD_GUI=OFF
              -DDYPE_BUILD_TESTS=ON -DDYPE_BUILD_BENCH=ON "-DCMAKE_PREFIX_PATH=$torch_prefix;$deb/usr")
  [[ -n "$golden" ]] && cmake_args+=("-DDYPE_GOLDEN_DIR=$golden")
  if ! cmake "${cmake_args[@]}" >"$logs/configure.log" 2>&1; then
    tail -40 "$logs/configure.log"; echo "gpu_check.sh: configure failed (log: $logs/configure.log)"; exit 1
  fi
  grep -E "CUDA kernels|golden" "$logs/configure.log" || true
  targets=(dype bench_transformer_sizes bench_golden_device bench_qk_norm_rope bench_vae_device)
  for t in test_gpu_qk_norm_rope; do
    ninja -C "$build" -t targets all 2>/dev/null | grep -q "^$t:" && targets+=("$t")
  done
  if ! ninja -C "$build" -j"$jobs" "${targets[@]}" >"$logs/build.log" 2>&1; then
    grep -E "error|FAILED" "$logs/build.log" | head -30; echo "gpu_check.sh: build failed (log: $logs/build.log)"; exit 1
  fi
fi
B="$build/bench"

# ---------------------------------------------------------------------------------------------------------------
if [[ -n "$golden" ]]; then
  for dt in f32 bf16; do
    step "golden cases on $device, $dt"
    "$B/bench_golden_device" --golden "$golden" --device "$device" --dtype "$dt" | tee "$logs/golden_$dt.log" |
      grep -E "FAIL|^GOLDEN"
    [[ ${PIPESTATUS[0]} == 0 ]] || fail "golden $device $dt"
  done
  if [[ "$device" == cuda && -x "$build/tests/test_gpu_qk_norm_rope" ]]; then
    step "ctest -L gpu"
    # --no-tests=error: zero GPU tests is a failure, not a pass (it once hid that none were registered).
    (cd "$build" && ctest -L gpu --no-tests=error --output-on-failure) >"$logs/ctest_gpu.log" 2>&1 || fail "ctest -L gpu"
    tail -3 "$logs/ctest_gpu.log"
  fi
else
  echo "(no golden folder: golden checks skipped; run bench/fetch_gpu_deps.sh and carry third_party/golden)"
fi

# ---------------------------------------------------------------------------------------------------------------
step "fused QK-RMSNorm + RoPE kernel vs the plain LibTorch path"
if [[ "$device" == cuda ]]; then qk_sizes=4096,16384,65536; else qk_sizes=256,1024; fi
for dt in bf16 f32; do
  "$B/bench_qk_norm_rope" --device "$device" --dtype "$dt" --img-tokens "$qk_sizes" ${golden:+--golden "$golden"} |
    tee -a "$logs/qk_norm_rope.log" | cut -c1-220
  [[ ${PIPESTATUS[0]} == 0 ]] || fail "qk_norm_rope $dt"
done

# ---------------------------------------------------------------------------------------------------------------
tmp="$build/gpu-check-data"
mkdir -p "$tmp"
if [[ "$device" == cuda ]]; then eq_tokens=4096; eq_dtypes="f32 bf16"; else eq_tokens=256; eq_dtypes="f32"; fi
for dt in $eq_dtypes; do
  step "ours vs PyTorch eager: same weights and inputs (dev-shaped 1+1 blocks, $eq_tokens image tokens, $dt)"
  "$B/bench_transformer_sizes" --config dev --double 1 --single 1 --img-tokens "$eq_tokens" --device "$device" \
    --dtype "$dt" --write-weights "$tmp/w.safetensors" --save-io "$tmp/io.safetensors" --warmup 1 --iters 3 \
    --json "$logs/eq_ours_$dt.jsonl" | grep '^OURS' | cut -c1-200 || fail "equality run ours $dt"
  "$py" "$root/bench/pytorch_flux.py" compare --weights "$tmp/w.safetensors" --io "$tmp/io.safetensors" \
    --device "$device" --dtype "$dt" --warmup 1 --iters 3 --json "$logs/eq_torch_$dt.jsonl" | cut -c1-200 ||
    fail "equality run PyTorch $dt"
done
rm -f "$tmp/w.safetensors" "$tmp/io.safetensors"

# ---------------------------------------------------------------------------------------------------------------
if [[ "$device" == cuda ]]; then
  depth=(--double 19 --single 38); step_dtype=bf16; sizes=(4096 16384 65536)
else
  depth=(--double 1 --single 1); step_dtype=f32; sizes=(256 1024)
fi
: >"$logs/step_ours.jsonl"
: >"$logs/step_torch.jsonl"
for n in "${sizes[@]}"; do
  iters=3
  [[ $n -ge 65536 ]] && iters=2
  step "one step, dev-shaped ${depth[1]}+${depth[3]} blocks, $n image + 512 text tokens, $step_dtype: ours"
  "$B/bench_transformer_sizes" --config dev "${depth[@]}" --img-tokens "$n" --device "$device" \
    --dtype "$step_dtype" --warmup 1 --iters "$iters" --json "$logs/step_ours.jsonl" | grep '^OURS' | cut -c1-200 ||
    fail "step ours $n"
  step "same, PyTorch eager"
  "$py" "$root/bench/pytorch_flux.py" time-random "${depth[@]}" --tokens "$n" --device "$device" \
    --dtype "$step_dtype" --warmup 1 --iters "$iters" --json "$logs/step_torch.jsonl" | cut -c1-200 ||
    fail "step PyTorch $n"
done

# ---------------------------------------------------------------------------------------------------------------
step "tiled VAE decode"
if [[ "$device" == cuda ]]; then vae_args=(--device cuda --dtype bf16 --px 4096); else vae_args=(--device cpu --px 512 --config tiny); fi
"$B/bench_vae_device" "${vae_args[@]}" | tee "$logs/vae.log" | cut -c1-260
[[ ${PIPESTATUS[0]} == 0 ]] || fail "tiled VAE decode"

# ---------------------------------------------------------------------------------------------------------------
step "summary"
"$py" - "$logs" "$device" <<'EOF'
import json, os, sys
logs, device = sys.argv[1], sys.argv[2]
def load(name):
    p = os.path.join(logs, name)
    return [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []
for dt in ("f32", "bf16"):
    o, t = load(f"eq_ours_{dt}.jsonl"), load(f"eq_torch_{dt}.jsonl")
    if o and t:
        print(f"equality ({dt}, {o[-1]['double']}+{o[-1]['single']} blocks, {o[-1]['tokens']} tokens): "
              f"max rel diff {t[-1].get('max_rel_diff', float('nan')):.2e}, rel_l2 {t[-1].get('rel_l2', float('nan')):.2e}")
ours, torch_ = load("step_ours.jsonl"), load("step_torch.jsonl")
print(f"\none denoising step ({device}, {ours[0]['dtype'] if ours else '?'}, {ours[0]['double'] if ours else '?'}+"
      f"{ours[0]['single'] if ours else '?'} blocks); ms = median of the timed steps")
print(f"{'tokens':>7} {'ms/step ours':>13} {'ms/step PyTorch':>16} {'ratio':>6} {'TFLOP/s ours':>13} "
      f"{'TFLOP/s PT':>11} {'peak GiB ours':>14} {'peak GiB PT':>12}")
for o in ours:
    t = next((x for x in torch_ if x["tokens"] == o["tokens"]), None)
    tm = t["ms"] if t else float("nan")
    pk = lambda r: r.get("peak_gib", -1) if r and r.get("peak_gib", -1) >= 0 else (r or {}).get("peak_rss_gib", float("nan"))
    print(f"{o['tokens']:>7} {o['ms']:>13.1f} {tm:>16.1f} {o['ms'] / tm:>6.3f} {o['gflop'] / o['ms']:>13.1f} "
          f"{(t['gflop'] / tm) if t else float('nan'):>11.1f} {pk(o):>14.2f} {pk(t):>12.2f}")
if device == "cpu":
    print("(CPU: peak = RSS; TFLOP/s column in TFLOP/s as well)")
EOF
echo
echo "total $(( $(date +%s) - t_start )) s; logs in $logs"
if [[ ${#failures[@]} -gt 0 ]]; then
  echo "FAILED: ${failures[*]}"
  exit 1
fi
echo "gpu_check: all checks passed"
