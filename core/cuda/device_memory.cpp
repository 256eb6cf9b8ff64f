#include "core/cuda/device_memory.h"

#if DYPE_WITH_CUDA_KERNELS
#include "core/cuda/aten/cuda_glue.h"
#endif

namespace dype::cuda {

std::optional<std::int64_t> peak_device_bytes(int index) {
#if DYPE_WITH_CUDA_KERNELS
  return detail::peak_allocated_bytes(index);
#else
  (void)index;
  return std::nullopt;
#endif
}

void reset_peak_device_bytes(int index) {
#if DYPE_WITH_CUDA_KERNELS
  detail::reset_peak_allocated_bytes(index);
#else
  (void)index;
#endif
}

}  // namespace dype::cuda
