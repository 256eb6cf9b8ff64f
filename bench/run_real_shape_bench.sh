#!/usr/bin/env bash
# Real-shape CPU benchmark of `dype generate`: writes random-valued checkpoints with the exact names, shapes and
# dtypes of the real FLUX.1 files (bench/make_real_checkpoint; no download), then runs one generation per
# variant × size under /usr/bin/time -v and prints one table: exit status, wall s, load s, encode s, s/step,
# decode s, peak RSS GiB. A run the app refuses (e.g. not enough memory) is a row with its message.
#
# Usage: bench/run_real_shape_bench.sh [options] [-- extra dype generate options]
#   --variants LIST   comma list of <dev|schnell>-<bf16|fp8|fp8-scaled-legacy|fp8-scaled-new|f32>
#                                                        (default schnell-fp8,schnell-bf16,dev-fp8,dev-bf16)
#   --sizes LIST      square image sizes in pixels, multiples of 16                  (default 256,512)
#   --steps N         sampling steps per run                                         (default 1)
#   --t5 DTYPE        T5-XXL file used by every run: fp8 (t5xxl_fp8_e4m3fn) or bf16, ... (default fp8)
#   --out DIR         where the checkpoints, images and logs go; never inside the repository
#                                                        (default /tmp/dype-realshape)
#   --prompt TEXT     (default "a lighthouse at dusk")   --seed N   (default 1)
#   --build-dir DIR   build folder with app/dype and bench/make_real_checkpoint     (default <repo>/build)
#   --scale-shapes F  pass to make_real_checkpoint (0 < F <= 1): small models through the same code path, for
#                     trying this script in seconds (e.g. --scale-shapes 1/16 --sizes 64 --out /tmp/dype-small)
#   --no-plan         do not print `dype generate --dry-run`'s memory plan before each run
#   --dry-run         write nothing and generate no image: print the files that would be written (and whether
#                     the disk has room) and, for files already there, dype's memory plan per run
#   --delete-after    delete each transformer file after its runs (disk needed: the largest one, not the sum)
#   --help
#
# Disk: real-shape files are flux1-<v> bf16 22.2 GiB, fp8 11.1 GiB; t5xxl fp8 4.4 GiB (bf16 8.9 GiB); clip_l and
# ae 0.4 GiB together. Files already present with the right header and size are kept (make_real_checkpoint
# --skip-existing), so a second run only generates images. The script refuses to start when the output folder's
# disk has not enough room for what is still to be written.
# Time: generation runs at disk speed (here about 2 minutes for the 41 GB of schnell-fp8 + dev-bf16 + T5 fp8);
# a real-shape step on a 2-core CPU takes minutes at 512², and memory decides what can run at all (NOTES.md).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
variants="schnell-fp8,schnell-bf16,dev-fp8,dev-bf16"
sizes="256,512"
steps=1
t5=fp8
out=/tmp/dype-realshape
prompt="a lighthouse at dusk"
seed=1
build="$root/build"
scale=""
plan=1
dry_run=0
delete_after=0
extra=()

die() { echo "run_real_shape_bench.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --variants) variants="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --t5) t5="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --prompt) prompt="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --scale-shapes) scale="$2"; shift 2 ;;
    --no-plan) plan=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    --delete-after) delete_after=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

dype="$build/app/dype"
gen="$build/bench/make_real_checkpoint"
for b in "$dype" "$gen"; do
  [[ -x "$b" ]] || die "$b is missing: build it first (cmake --build $build --target dype make_real_checkpoint)"
done
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || die "--steps expects a positive integer, got '$steps'"

# The output folder must not be inside the repository (files of 5-24 GB).
abs_out="$(realpath -m "$out")"
case "$abs_out/" in
  "$root"/*) die "--out '$out' is inside the repository ($root): choose a folder outside it, e.g. /tmp/dype-realshape" ;;
esac
out="$abs_out"

# File names as make_real_checkpoint writes them (see its --help).
flux_suffix() {
  case "$1" in
    bf16) echo "" ;; fp8) echo "-fp8" ;; fp8-scaled-legacy) echo "-fp8-scaled" ;;
    fp8-scaled-new) echo "-fp8-scaled-new" ;; f32) echo "-f32" ;; *) return 1 ;;
  esac
}
t5_file() {
  case "$1" in
    bf16) echo t5xxl_bf16 ;; fp8) echo t5xxl_fp8_e4m3fn ;; fp8-scaled-legacy) echo t5xxl_fp8_e4m3fn_scaled ;;
    fp8-scaled-new) echo t5xxl_fp8_e4m3fn_scaled_new ;; f32) echo t5xxl_f32 ;; *) return 1 ;;
  esac
}
t5_file "$t5" >/dev/null || die "unknown --t5 '$t5' (bf16, fp8, fp8-scaled-legacy, fp8-scaled-new, f32)"

IFS=, read -r -a variant_list <<<"$variants"
IFS=, read -r -a size_list <<<"$sizes"
for v in "${variant_list[@]}"; do
  m="${v%%-*}"; d="${v#*-}"
  [[ ("$m" == dev || "$m" == schnell) && "$v" == *-* ]] && flux_suffix "$d" >/dev/null ||
    die "unknown variant '$v' (<dev|schnell>-<bf16|fp8|fp8-scaled-legacy|fp8-scaled-new|f32>)"
done
for s in "${size_list[@]}"; do
  [[ "$s" =~ ^[0-9]+$ && $((s % 16)) -eq 0 && "$s" -gt 0 ]] || die "size '$s' is not a positive multiple of 16"
done

# ---- what to generate: one make_real_checkpoint call per transformer variant, the T5 file, then CLIP + VAE.
gen_common=(--out "$out" --skip-existing)
[[ -n "$scale" ]] && gen_common+=(--scale-shapes "$scale")
gen_calls=()    # each entry: the arguments of one call, '|'-separated
flux_calls=()   # same entries, for the transformers only (for --delete-after)
for v in "${variant_list[@]}"; do
  call="--what|flux-${v%%-*}|--dtype|${v#*-}|--no-tokenizers"
  [[ " ${flux_calls[*]-} " == *" $call "* ]] || flux_calls+=("$call")
done
shared_calls=("--what|t5xxl|--dtype|$t5|--no-tokenizers" "--what|clip-l,vae|--dtype|bf16")
gen_calls=("${shared_calls[@]}" "${flux_calls[@]}")

bytes_to_write() {  # $1: '|'-separated call -> bytes still to write for it
  local -a a; IFS='|' read -r -a a <<<"$1"
  local b
  b=$("$gen" "${a[@]}" "${gen_common[@]}" --dry-run | sed -n 's/^bytes_to_write=//p')
  [[ -n "$b" ]] || die "make_real_checkpoint ${a[*]} --dry-run failed"
  echo "$b"
}

echo "== files in $out"
need=0; largest=0
for c in "${shared_calls[@]}"; do b=$(bytes_to_write "$c"); need=$((need + b)); done
for c in "${flux_calls[@]}"; do
  b=$(bytes_to_write "$c")
  if [[ $delete_after -eq 1 ]]; then ((b > largest)) && largest=$b; else need=$((need + b)); fi
done
need=$((need + largest))
existing="$out"; while [[ ! -d "$existing" ]]; do existing="$(dirname "$existing")"; done
df -h "$existing"
avail=$(( $(df -Pk "$existing" | awk 'NR == 2 { print $4 }') * 1024 ))
margin=$((1 << 30))
gib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1073741824 }'; }
echo "to write: $(gib "$need") GiB; available: $(gib "$avail") GiB"
if ((need + margin > avail)); then
  echo "run_real_shape_bench.sh: not enough disk space in $existing: $(gib "$need") GiB to write (+1 GiB spare)," \
       "$(gib "$avail") GiB available. Free space, choose --out on a bigger disk, ask for fewer --variants," \
       "or use --delete-after." >&2
  [[ $dry_run -eq 1 ]] || exit 1
fi

if [[ $dry_run -eq 1 ]]; then
  for c in "${gen_calls[@]}"; do
    IFS='|' read -r -a a <<<"$c"
    "$gen" "${a[@]}" "${gen_common[@]}" --dry-run | grep '^plan .*\.safetensors' | sed 's/^/   /'
  done
else
  mkdir -p "$out/logs"
  echo "== generating missing checkpoints"
  for c in "${gen_calls[@]}"; do
    IFS='|' read -r -a a <<<"$c"
    /usr/bin/time -f "   (make_real_checkpoint: %e s wall, peak RSS %M KB)" "$gen" "${a[@]}" "${gen_common[@]}" 2>&1 |
      grep -v '^bytes_to_write=' | sed 's/^/   /'
  done
fi

# ---- runs
supports_dry_run=0
"$dype" generate --help 2>/dev/null | grep -q -- '--dry-run' && supports_dry_run=1
if [[ $supports_dry_run -eq 0 && ($plan -eq 1 || $dry_run -eq 1) ]]; then
  echo "note: this dype has no 'generate --dry-run' yet: no memory plans shown"
fi

# Seconds from "h:mm:ss" / "m:ss.ss" (time -v's wall clock).
to_seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }' <<<"$1"; }

rows=()
for v in "${variant_list[@]}"; do
  m="${v%%-*}"; d="${v#*-}"
  model="$out/flux1-$m$(flux_suffix "$d").safetensors"
  args=(generate --model "$model" --vae "$out/ae.safetensors" --clip "$out/clip_l.safetensors"
        --t5 "$out/$(t5_file "$t5").safetensors" --tokenizers "$out" --steps "$steps" --prompt "$prompt"
        --seed "$seed" ${extra[@]+"${extra[@]}"})
  for s in "${size_list[@]}"; do
    png="$out/logs/$v-$s.png"
    echo "== $v ${s}x$s ($steps step(s))"
    if [[ ! -f "$model" ]]; then
      echo "   $model is not there (yet)"
      rows+=("$v|$s|-|-|-|-|-|-|-|checkpoint not written (dry run?)")
      continue
    fi
    if [[ $supports_dry_run -eq 1 && ($plan -eq 1 || $dry_run -eq 1) ]]; then
      "$dype" "${args[@]}" --width "$s" --height "$s" --output "$png" --dry-run 2>&1 | sed 's/^/   plan: /' || true
    fi
    [[ $dry_run -eq 1 ]] && continue

    log="$out/logs/$v-$s.log"; tv="$out/logs/$v-$s.time"
    t0=$EPOCHREALTIME
    set +e
    # stderr lines are time-stamped as they arrive: the load time is read off them (dype prints no load figure).
    /usr/bin/time -v -o "$tv" "$dype" "${args[@]}" --width "$s" --height "$s" --output "$png" 2>&1 >/dev/null |
      while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$log"
    rc=${PIPESTATUS[0]}
    set -e
    sed 's/^[0-9.]* /   /' "$log" | grep -v '^   step .* · block' || true

    wall=$(to_seconds "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tv")")
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tv")
    rss=$(awk -v k="${rss_kb:-0}" 'BEGIN { printf "%.2f", k / 1048576 }')
    load=$(awk -v t0="$t0" '/loaded in [0-9.]+ s/ { match($0, /loaded in [0-9.]+/); print substr($0, RSTART + 10, RLENGTH - 10); exit }
                            / model: / { printf "%.1f", $1 - t0; exit }' "$log")
    wrote=$(grep ' wrote .* (encode ' "$log" || true)
    num() { sed -n "s/.*$1 \\([0-9.]*\\) s.*/\\1/p" <<<"$wrote"; }
    enc=$(num encode); den=$(num denoise); dec=$(num decode)
    per_step=-
    [[ -n "$den" ]] && per_step=$(awk -v d="$den" -v n="$steps" 'BEGIN { printf "%.1f", d / n }')
    note=""
    if [[ $rc -ne 0 ]]; then
      note=$(sed -n 's/^[0-9.]* //; s/.*error: //p' "$log" | head -1)
      [[ -z "$note" ]] && note=$(sed 's/^[0-9.]* //' "$log" | grep -v '^\s*$' | tail -1)
      [[ $rc -eq 137 ]] && note="killed (out of memory?) ${note}"
      note="${note:0:110} (log: $log)"
    fi
    rows+=("$v|$s|$rc|$wall|${load:--}|${enc:--}|$per_step|${dec:--}|$rss|$note")
  done
  if [[ $delete_after -eq 1 && $dry_run -eq 0 ]]; then
    echo "   deleting $model (--delete-after)"
    rm -f "$model"
  fi
done

[[ $dry_run -eq 1 ]] && exit 0
echo
echo "== $(uname -n), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)," \
     "$steps step(s), T5 $(t5_file "$t5"), scale-shapes ${scale:-1}"
fmt="%-24s %5s %5s %8s %7s %9s %8s %9s %9s  %s\n"
printf "$fmt" variant px exit "wall s" "load s" "encode s" "s/step" "decode s" "RSS GiB" note
for r in "${rows[@]}"; do
  IFS='|' read -r v s rc wall load enc ps dec rss note <<<"$r"
  printf "$fmt" "$v" "$s" "$rc" "$wall" "$load" "$enc" "$ps" "$dec" "$rss" "$note"
done
echo "load s: from process start to dype's 'model:' line (stderr time stamps); encode/decode/s-step: dype's own" \
     "figures; wall and peak RSS: /usr/bin/time -v. Logs and images: $out/logs"
