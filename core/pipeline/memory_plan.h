#pragma once
// Memory planning for one generation: how many bytes a request needs on the compute device (weights resident
// while denoising, transformer activations at the requested size, the tiled VAE decode) against what the device
// has free, so that a request that cannot fit fails fast with advice instead of dying half way (DESIGN.md §4).
// The numbers are deliberately simple upper-bound style estimates of what our code allocates; they are not a
// promise to the byte.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

// What a plan is made against and reported with, for the front ends that plan (available_memory_bytes,
// peak_rss_bytes, format_bytes); the allocator tuning they apply before generating (cpu_allocator.h).
#include "core/common/cpu_allocator.h"
#include "core/common/format.h"
#include "core/common/system_memory.h"
#include "core/pipeline/pipeline_types.h"

namespace dype {

struct MemoryPlanInput {
  at::Device device = at::kCPU;
  int width = 0, height = 0;        // pixels
  std::int64_t txt_tokens = 512;    // T5 sequence length
  std::int64_t hidden_size = 3072;  // transformer width
  std::int64_t mlp_hidden = 12288;
  std::int64_t num_heads = 24;
  std::int64_t head_dim = 128;
  std::size_t compute_element_size = 4;              // bytes per activation element (4 float32, 2 bf16/fp16)
  bool attention_materialises_scores = true;         // chunked math path (false: flash / memory-efficient SDPA)
  std::int64_t attention_chunk_bytes = 256ll << 20;  // score block of the chunked path
  std::uint64_t weight_bytes = 0;                    // weights resident on the device while denoising and decoding
  std::uint64_t decode_bytes = 0;                    // working set of one VAE decode call (vae::estimate_decode_bytes)
  bool keep_16bit = false;                           // the result also holds a 16-bit copy of the image
};

// The estimate for `in` against `available_bytes` (0 = unknown: then `fits` is true and advice says so).
// On the CPU the decoded float image, the 8/16-bit copies and the weights all live in the same RAM.
MemoryEstimate plan_memory(const MemoryPlanInput& in, std::uint64_t available_bytes);

// Transformer activation bytes for `tokens` tokens (both streams) at the widths of `in` (peak of one block plus
// the RoPE table and the attention working set).
std::uint64_t transformer_activation_bytes(const MemoryPlanInput& in, std::int64_t tokens);

}  // namespace dype
