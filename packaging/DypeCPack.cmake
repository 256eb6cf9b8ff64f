# CPack configuration: one Debian package, `dype-studio`, holding the CLI, the GUI (when built), the desktop entry,
# icons and AppStream metadata. Build it in a build folder with `cpack -G DEB`; inspect it with `dpkg-deb -I/-c`.
#
# Dependencies are declared by Debian package name (Debian 12). LibTorch is declared only when the build uses the
# Debian LibTorch (a LibTorch from a PyTorch wheel is not a package; such builds are for development machines).
# When dpkg-shlibdeps is available it adds the exact shared-library dependencies (libc6, libstdc++6, ...) on top.
set(CPACK_PACKAGE_NAME "dype-studio")
set(CPACK_PACKAGE_VENDOR "DyPE Studio developers")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "DyPE Studio generates FLUX.1 images at up to 16 megapixels with DyPE (dynamic position extrapolation of the
rotary position embedding). It reads FLUX.1 dev/schnell checkpoints in the diffusers layout or as single
safetensors files (bf16, fp16, fp8), runs on the CPU or a CUDA GPU through LibTorch, and provides the desktop
application dype-studio and the command-line tool dype (generate, schedule, info).")
set(DYPE_DEB_MAINTAINER "DyPE Studio developers" CACHE STRING "Maintainer field of the .deb (\"Name <email>\")")
set(CPACK_PACKAGE_CONTACT "${DYPE_DEB_MAINTAINER}")
set(CPACK_PACKAGE_INSTALL_DIRECTORY "dype-studio")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB")
set(CPACK_SOURCE_GENERATOR "TGZ")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/third_party/deb/" "\\\\.part$")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # dype-studio_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "graphics")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")

set(dype_deb_depends libopenblas0-pthread libpng16-16 libjpeg62-turbo)
if(TORCH_LIBRARY MATCHES "^/usr/lib/" AND Torch_VERSION MATCHES "^([0-9]+)\\.([0-9]+)")
  # Debian names the runtime after major.minor: libtorch1.13 for 1.13.1. libopenblas0-pthread above is what
  # makes its BLAS fast (without it LibTorch falls back to the reference BLAS, ~50x slower).
  list(PREPEND dype_deb_depends "libtorch${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
else()
  message(STATUS "packaging: LibTorch is not the Debian package (${TORCH_LIBRARY}); the .deb will not declare it")
endif()
if(DYPE_BUILD_GUI)
  list(APPEND dype_deb_depends libqt6core6 libqt6gui6 libqt6widgets6 libqt6printsupport6 libqt6svg6
       libqt6concurrent6 libqcustomplot2.1-qt6)
endif()
list(JOIN dype_deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
find_program(DYPE_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DYPE_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()

include(CPack)
