#!/usr/bin/env bash
# Builds the .deb with CPack from an existing build folder and checks it: the files a user gets (the two binaries,
# the desktop entry, the icons, the AppStream metadata), that the desktop entry's Exec and Icon resolve inside the
# package, and the declared dependencies. Exits 1 listing everything that is missing.
#
#   scripts/check-deb.sh [--no-build] [BUILD_DIR]      (default: $DYPE_BUILD_DIR, else build/)
#
# It first builds only the installed executables (dype, and dype-studio when the build has the GUI), never `all`;
# --no-build packages them as they are. The package lands in BUILD_DIR/deb/. Needs cpack and dpkg-deb (dpkg).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
no_build=0
if [[ "${1:-}" == --no-build ]]; then no_build=1; shift; fi
build="$(cd "${1:-${DYPE_BUILD_DIR:-$root/build}}" && pwd)"
start=$SECONDS

for tool in cmake cpack dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "check-deb: $tool not found" >&2; exit 1; }
done
[[ -f "$build/CMakeCache.txt" ]] || { echo "check-deb: $build is not a configured build folder" >&2; exit 1; }
gui=$(sed -n 's/^DYPE_BUILD_GUI:BOOL=//p' "$build/CMakeCache.txt")

targets=(dype)
[[ "$gui" == ON ]] && targets+=(dype-studio)
if ((no_build)); then
  echo "== packaging ${targets[*]} as built"
else
  echo "== building ${targets[*]}"
  cmake --build "$build" --target "${targets[@]}" >"$build/check-deb.build.log" 2>&1 || {
    grep -m20 -E 'error|FAILED' "$build/check-deb.build.log" >&2
    echo "check-deb: building ${targets[*]} failed (log: $build/check-deb.build.log)" >&2
    exit 1
  }
fi

echo "== cpack -G DEB"
out="$build/deb"
rm -rf "$out"
(cd "$build" && cpack -G DEB -B "$out" >"$build/check-deb.cpack.log" 2>&1) || {
  tail -20 "$build/check-deb.cpack.log" >&2
  echo "check-deb: cpack failed (log: $build/check-deb.cpack.log)" >&2
  exit 1
}
debs=("$out"/*.deb)
if [[ ! -f "${debs[0]}" || ${#debs[@]} -ne 1 ]]; then
  echo "check-deb: expected one .deb in $out, found: ${debs[*]}" >&2
  exit 1
fi
deb="${debs[0]}"
echo "package: $deb ($(du -h "$deb" | cut -f1))"

missing=()
listing="$(dpkg-deb -c "$deb")"
# `dpkg-deb -c` prints tar lines ending in ./path; keep mode and path.
paths="$(awk '{print $1, $NF}' <<<"$listing")"
has() { grep -Eq "^[^ ]+ \./$1\$" <<<"$paths"; }
executable() { grep -Eq "^-rwx[^ ]* \./$1\$" <<<"$paths"; }

expect_exe=(usr/bin/dype)
expect=(usr/share/doc/dype-studio/README.md)
if [[ "$gui" == ON ]]; then
  expect_exe+=(usr/bin/dype-studio)
  expect+=(usr/share/applications/dype-studio.desktop
           usr/share/icons/hicolor/scalable/apps/dype-studio.svg
           usr/share/icons/hicolor/256x256/apps/dype-studio.png
           usr/share/metainfo/io.github.dype_studio.metainfo.xml)
fi
for p in "${expect_exe[@]}"; do
  if ! has "$p"; then missing+=("file /$p"); elif ! executable "$p"; then missing+=("executable bit on /$p"); fi
done
for p in "${expect[@]}"; do has "$p" || missing+=("file /$p"); done
# Everything under /usr (CPack's DEB default), nothing under /usr/local or /opt.
if grep -Eq ' \./(usr/local|opt)/' <<<"$paths"; then missing+=("files only under /usr (found /usr/local or /opt)"); fi

# The desktop entry names the binary and the icon that the package ships.
if [[ "$gui" == ON ]] && has usr/share/applications/dype-studio.desktop; then
  desktop="$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/applications/dype-studio.desktop)"
  exec_name="$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' <<<"$desktop" | head -1)"
  icon_name="$(sed -n 's/^Icon=//p' <<<"$desktop" | head -1)"
  [[ -n "$exec_name" ]] && has "usr/bin/$exec_name" || missing+=("the desktop entry's Exec=$exec_name in /usr/bin")
  [[ -n "$icon_name" ]] && grep -Eq " \./usr/share/icons/hicolor/[^/]+/apps/$icon_name\.(png|svg)\$" <<<"$paths" ||
    missing+=("an icon for the desktop entry's Icon=$icon_name")
fi

# The shipped files pass their validators, where installed (not required).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
metainfo=usr/share/metainfo/io.github.dype_studio.metainfo.xml
if [[ "$gui" == ON ]] && command -v appstreamcli >/dev/null && has "$metainfo"; then
  appstreamcli validate --no-net "$tmp/$metainfo" >/dev/null 2>&1 ||
    missing+=("valid AppStream metadata (appstreamcli validate --no-net fails)")
fi
entry=usr/share/applications/dype-studio.desktop
if [[ "$gui" == ON ]] && command -v desktop-file-validate >/dev/null && has "$entry"; then
  desktop-file-validate "$tmp/$entry" >/dev/null 2>&1 ||
    missing+=("a valid desktop entry (desktop-file-validate fails)")
fi

depends="$(dpkg-deb -f "$deb" Depends)"
for d in libjpeg62-turbo libpng16-16; do
  grep -Eq "(^|, )$d( |,|\$)" <<<"$depends" || missing+=("Depends: $d")
done
if [[ "$gui" == ON ]]; then
  for d in libqt6widgets6 libqcustomplot2.1-qt6; do
    grep -Eq "(^|, )$d( |,|\$)" <<<"$depends" || missing+=("Depends: $d")
  done
fi

echo "Package: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $(dpkg-deb -f "$deb" Architecture)"
echo "Depends: $depends"
echo "files:"
awk '$1 !~ /^d/ {print "  " $NF}' <<<"$paths"
echo "($((SECONDS - start)) s)"
if ((${#missing[@]})); then
  echo "check-deb: FAILED, missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "check-deb: OK"
