#pragma once
// Peak device memory of LibTorch's CUDA caching allocator (what `torch.cuda.max_memory_allocated` reports), for the
// benchmarks and the memory planner. Always compiled; std::nullopt where this build has no CUDA LibTorch.
#include <cstdint>
#include <optional>

namespace dype::cuda {

// Peak bytes allocated on CUDA device `index` since the last reset_peak_device_bytes().
std::optional<std::int64_t> peak_device_bytes(int index = 0);
void reset_peak_device_bytes(int index = 0);

}  // namespace dype::cuda
