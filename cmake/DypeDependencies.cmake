# Third-party dependencies. Everything comes from Debian packages (scripts/install-deps.sh) or, on a GPU machine,
# from the LibTorch inside the installed PyTorch (pass -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')).
find_package(Torch REQUIRED)
# TorchConfig adds its flags to CMAKE_CXX_FLAGS via TORCH_CXX_FLAGS (ABI macro); keep them.
set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")

find_package(Threads REQUIRED)
find_package(PkgConfig)

# nlohmann/json: header-only. A system package or a folder given by DYPE_JSON_INCLUDE (GPU machine).
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  find_path(DYPE_JSON_INCLUDE nlohmann/json.hpp PATHS "${CMAKE_SOURCE_DIR}/third_party/deb/usr/include" REQUIRED)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${DYPE_JSON_INCLUDE}")
endif()

# No SentencePiece library: Debian's libsentencepiece0 bundles protobuf 3.14 and crashes in a process that also
# loads LibTorch's system protobuf, so core/text has its own exact unigram reader (core/text/sentencepiece_model.h).

find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)  # users' JPEG start images (core/image/image_file)

if(DYPE_BUILD_GUI)
  # QCustomPlot's Qt 6 CMake package needs Qt6 PrintSupport found first.
  find_package(Qt6 REQUIRED COMPONENTS Core Gui Widgets PrintSupport Svg Test Concurrent)
  find_package(QCustomPlotQt6 REQUIRED)
endif()
if(DYPE_BUILD_TESTS AND DYPE_BUILD_GUI)
  set(DYPE_HAVE_QTEST ON)
elseif(DYPE_BUILD_TESTS)
  find_package(Qt6 QUIET COMPONENTS Core Test)
  if(Qt6Test_FOUND)
    set(DYPE_HAVE_QTEST ON)
  endif()
endif()

# CUDA kernels of our own: compiled whenever nvcc exists (it does on these machines), linked when LibTorch has CUDA.
include(CheckLanguage)
if(DYPE_BUILD_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(DYPE_HAVE_NVCC ON)
  endif()
endif()
