#!/usr/bin/env bash
# Installs what DyPE Studio needs on Debian 12 (as root, or through sudo). Already-installed packages are left
# alone; nothing is downloaded outside Debian's registry. Usage: scripts/install-deps.sh [--gui] [--tests]
set -euo pipefail
want_gui=0; want_tests=0
for a in "$@"; do
  case "$a" in --gui) want_gui=1 ;; --tests) want_tests=1 ;; *) echo "unknown option $a" >&2; exit 2 ;; esac
done
pkgs=(build-essential cmake ninja-build pkg-config ccache
      libtorch-dev libopenblas0-pthread  # without OpenBLAS LibTorch falls back to reference BLAS (~50x slower)
      nlohmann-json3-dev libpng-dev libjpeg62-turbo-dev
      qt6-base-dev qt6-svg-dev libgl-dev)  # Qt Core/Test also drive the unit tests
if [ "$want_gui" = 1 ]; then pkgs+=(libqcustomplot-dev xvfb xauth); fi
if [ "$want_tests" = 1 ]; then pkgs+=(libqcustomplot-dev xvfb xauth python3-numpy python3-pil python3-torch clang clang-format libclang-rt-14-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
