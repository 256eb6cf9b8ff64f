#pragma once
// A caching allocator for LibTorch's large CPU tensors (what the CUDA caching allocator is for the GPU).
//
// Why: a FLUX forward allocates and frees hundreds of MB to GB of activations per block, and glibc hands every
// block above 32 MB to a fresh mmap, so each one is paid again in page faults when first touched. On the VMs
// these benchmarks ran on, a fault costs ~80 µs per 4 KiB page (512 MB: 10 s of faults against 0.2 s to write
// it), which made the eager forward 3–7× slower than its arithmetic (bench/NOTES.md). The same shapes recur every
// block and every denoising step, so blocks are kept and reused, and fresh ones are mapped 2 MiB-aligned with
// transparent huge pages requested (one fault per 2 MiB instead of 512).
//
// Blocks ≥ 1 MiB are served here (rounded up to 2 MiB); smaller ones go to the allocator that was installed
// before (LibTorch's default). Freed blocks stay cached until `max_cached_bytes` would be exceeded (then the
// largest cached blocks are returned to the OS) or release_cpu_cache() is called. Thread-safe. Tensors made
// before installation keep their own deleters, so installing at any time is safe.
#include <cstdint>

namespace dype {

struct CpuAllocatorStats {
  std::int64_t in_use_bytes = 0;  // handed out and not yet freed (large blocks only)
  std::int64_t cached_bytes = 0;  // freed, kept for reuse
  std::int64_t peak_bytes = 0;    // max of in_use + cached
  std::int64_t mapped = 0;        // fresh mappings made (each paid in page faults)
  std::int64_t reused = 0;        // allocations served from the cache
};

// Installs the allocator for at::kCPU (idempotent; later calls only update the cap). `max_cached_bytes` < 0:
// half of the physical memory.
void install_cpu_caching_allocator(std::int64_t max_cached_bytes = -1);
bool cpu_caching_allocator_installed();

// Returns every cached (free) block to the operating system, e.g. after a generation or before loading a model.
void release_cpu_cache();

CpuAllocatorStats cpu_allocator_stats();

// Keeps large tensor buffers mapped between uses instead of returning each to the OS on free. By default glibc
// mmaps every block above 32 MiB and unmaps it on free, so each step re-faults hundreds of MiB of fresh pages
// (about half of the CPU time of a demo generation went to page faults; figures in bench/NOTES.md). Installs the
// caching CPU allocator above (blocks >= 1 MiB reused, 2 MiB-aligned, huge pages) and raises glibc's mmap and
// trim thresholds to 1 GiB for the rest. FluxPipeline::generate returns the cached blocks when a run ends. Call
// once per process, before generating (the CLI and the GUI do).
void tune_allocator_for_large_tensors();

}  // namespace dype
