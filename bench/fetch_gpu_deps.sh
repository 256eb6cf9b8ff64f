#!/usr/bin/env bash
# Prepares, on a Debian machine with apt (this one), what bench/gpu_check.sh needs on a GPU machine that has CUDA
# PyTorch, nvcc, CMake and ninja but no package registry and no Qt:
#   third_party/deb/     headers and libraries unpacked from Debian .debs (never installed): nlohmann-json
#                        (header-only), libpng + zlib (headers and libraries). cmake/DypeDependencies.cmake and
#                        gpu_check.sh look there.
#   third_party/golden/  the part of ../shared/golden the GPU checks read (tiny-dev transformer + autoencoder,
#                        the B_transformer_* and C_vae_* cases), since ../shared does not travel with the tree.
# Both folders are git-ignored; a device run must name them in `carry` (about 20 MB together).
#
# Usage: bench/fetch_gpu_deps.sh [--golden DIR]      (default DIR: ../shared/golden beside the checkout)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
golden_src="$root/../shared/golden"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --golden) golden_src="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "fetch_gpu_deps.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Runtime libraries first, then the -dev packages (headers, unversioned .so links, CMake/pkg-config files).
packages=(nlohmann-json3-dev libpng16-16 libpng-dev zlib1g zlib1g-dev)

deb_dir="$root/third_party/deb"
dl="$root/third_party/deb-download"
rm -rf "$dl" "$deb_dir"
mkdir -p "$dl" "$deb_dir"
(cd "$dl" && apt-get download "${packages[@]}")
for f in "$dl"/*.deb; do
  dpkg-deb -x "$f" "$deb_dir"
done
rm -rf "$dl"
# Drop what no build needs (documentation, manuals) to keep the carried tree small.
rm -rf "$deb_dir/usr/share/doc" "$deb_dir/usr/share/man" "$deb_dir/usr/share/lintian"
# Some -dev packages' unversioned .so are absolute symlinks (/lib/...): point them into the unpacked tree.
find "$deb_dir" -type l | while read -r link; do
  target="$(readlink "$link")"
  if [[ "$target" == /* ]]; then
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$deb_dir$target")" "$link"
  fi
done

if [[ -d "$golden_src" ]]; then
  g="$root/third_party/golden"
  rm -rf "$g"
  mkdir -p "$g/models/tiny-dev/comfy" "$g/cases"
  cp "$golden_src/README.md" "$g/"
  cp "$golden_src/models/tiny-dev/README.md" "$g/models/tiny-dev/"
  cp "$golden_src/models/tiny-dev/comfy/"{flux.safetensors,flux_f8_e4m3.safetensors,ae.safetensors} \
     "$g/models/tiny-dev/comfy/"
  for c in "$golden_src"/cases/B_transformer_* "$golden_src"/cases/C_vae_decode_*; do
    cp -r "$c" "$g/cases/"
  done
  chmod -R u+w "$g"
else
  echo "fetch_gpu_deps.sh: no golden folder at $golden_src: the GPU golden checks will be skipped" >&2
fi

du -sh "$root/third_party/deb" "$root/third_party/golden" 2>/dev/null || true
echo "carry these paths in the device run: third_party/deb third_party/golden"
