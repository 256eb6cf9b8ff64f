# Project-wide compile settings, applied through the `dype_options` interface target.
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
# Qt requires position-independent code; using it everywhere lets every target share one precompiled header.
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

find_program(DYPE_CCACHE ccache)
if(DYPE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${DYPE_CCACHE}")
endif()

add_library(dype_options INTERFACE)
target_compile_options(dype_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wno-unused-parameter>
  # Executables get -fPIE from CMake; -fPIC after it makes every target match the shared precompiled header.
  $<$<COMPILE_LANGUAGE:CXX>:-fPIC>)
if(DYPE_SANITIZE)
  target_compile_options(dype_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(dype_options INTERFACE -fsanitize=address,undefined)
endif()
