// ATen CUDA glue for our kernels: they run on the stream ATen's own kernels use, so they order correctly with the
// surrounding LibTorch operations without any synchronisation. Compiled only when LibTorch has CUDA.
#include "core/cuda/aten/cuda_glue.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>

namespace dype::cuda::detail {

void launch_qk_norm_rope_on_current_stream(const QkNormRopeParams& p, int device_index) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index));
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_index)).stream();
  launch_qk_norm_rope(p, stream);
}

std::int64_t peak_allocated_bytes(int device_index) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device_index));
  // Index 0 is StatType::AGGREGATE in every LibTorch (the enum moved namespaces across versions).
  return stats.allocated_bytes[0].peak;
}

void reset_peak_allocated_bytes(int device_index) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device_index));
}

}  // namespace dype::cuda::detail
