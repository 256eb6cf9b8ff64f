#pragma once
// Internal: the pieces of core/cuda that need ATen's CUDA API (current streams, the caching allocator's counters).
// Defined in cuda_glue.cpp, which is compiled only against a LibTorch with CUDA (core/cuda/CMakeLists.txt).
#include <cstdint>

#include "core/cuda/qk_norm_rope.h"

namespace dype::cuda::detail {

// Launches the kernel on the current ATen CUDA stream of `device_index`, with that device current.
void launch_qk_norm_rope_on_current_stream(const QkNormRopeParams& p, int device_index);

// The caching allocator's peak of allocated bytes on a device since the last reset, and the reset.
std::int64_t peak_allocated_bytes(int device_index);
void reset_peak_allocated_bytes(int device_index);

}  // namespace dype::cuda::detail
