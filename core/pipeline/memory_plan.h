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

#include "core/pipeline/flux_pipeline.h"

namespace dype {

struct MemoryPlanInput {
  at::Device device = at::kCPU;
  int width = 0, height = 0;        // pixels
  std::int64_t txt_tokens = 512;    // T5 sequence length
  std::int64_t hidden_size = 3072;  // transformer width
  std::int64_t mlp_hidden = 12288;
  std::int64_t num_heads = 24;
  std::int64_t head_dim = 128;
  std::size_t compute_element_size = 4;  // bytes per activation element (4 float32, 2 bf16/fp16)
  bool attention_materialises_scores = true;  // chunked math path (false: flash / memory-efficient SDPA)
  std::int64_t attention_chunk_bytes = 256ll << 20;  // score block of the chunked path
  std::uint64_t weight_bytes = 0;        // weights resident on the device while denoising and decoding
  std::uint64_t decode_bytes = 0;        // working set of one VAE decode call (vae::estimate_decode_bytes)
  bool keep_16bit = false;               // the result also holds a 16-bit copy of the image
};

// The estimate for `in` against `available_bytes` (0 = unknown: then `fits` is true and advice says so).
// On the CPU the decoded float image, the 8/16-bit copies and the weights all live in the same RAM.
MemoryEstimate plan_memory(const MemoryPlanInput& in, std::uint64_t available_bytes);

// Transformer activation bytes for `tokens` tokens (both streams) at the widths of `in` (peak of one block plus
// the RoPE table and the attention working set).
std::uint64_t transformer_activation_bytes(const MemoryPlanInput& in, std::int64_t tokens);

// Free memory of a device now: MemAvailable from /proc/meminfo for the CPU, cudaMemGetInfo's free bytes for a
// CUDA device (looked up in the CUDA runtime LibTorch has loaded). 0 when unknown.
std::uint64_t available_memory_bytes(const at::Device& device);

// A compute device as people name it: "cpu" (processor model, cores, RAM) or "cuda:N" (GPU model, memory).
struct DeviceInfo {
  std::string id;                // "cpu", "cuda:0"
  std::string name;              // "AMD EPYC 7B13 (2 cores)", "NVIDIA H100 80GB HBM3"
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;  // 0 = unknown
};
// The CPU and every GPU the CUDA driver sees (read through the driver library when one is installed, whether or
// not this LibTorch has CUDA; `usable` tells whether this build can compute on it).
std::vector<DeviceInfo> list_devices(bool* cuda_usable = nullptr);

// Peak resident set size of this process (VmHWM), 0 when unknown.
std::uint64_t peak_rss_bytes();

// Keeps large tensor buffers mapped between uses instead of returning each to the OS on free. By default glibc
// mmaps every block above 32 MiB and unmaps it on free, so each step re-faults hundreds of MiB of fresh pages
// (about half of the CPU time of a demo generation went to page faults; figures in bench/NOTES.md). Installs the
// caching CPU allocator (core/common/cpu_allocator.h: blocks ≥ 1 MiB reused, 2 MiB-aligned, huge pages) and raises
// glibc's mmap and trim thresholds to 1 GiB for the rest. FluxPipeline::generate returns the cached blocks when a
// run ends. Call once per process, before generating (the CLI and the GUI do).
void tune_allocator_for_large_tensors();

// "1.5 GiB", "730 MiB".
std::string format_bytes(std::uint64_t bytes);

}  // namespace dype
