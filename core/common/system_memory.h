#pragma once
// What this process and the machine's compute devices have, as numbers: free memory now (what the memory plan is
// made against), the process's peak resident set (reported after a run), and the devices people can choose.
// Read from /proc and, for GPUs, from the CUDA libraries already present (never loaded just to ask).
// The one exception lives a floor up: the peak of LibTorch's CUDA caching allocator (core/cuda/device_memory.h)
// needs ATen's CUDA headers, which only core/cuda is built with.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dype {

// Free memory of a device now: MemAvailable from /proc/meminfo for the CPU, cudaMemGetInfo's free bytes for a
// CUDA device (looked up in the CUDA runtime LibTorch has loaded). 0 when unknown.
std::uint64_t available_memory_bytes(const at::Device& device);

// A compute device as people name it: "cpu" (processor model, cores, RAM) or "cuda:N" (GPU model, memory).
struct DeviceInfo {
  std::string id;    // "cpu", "cuda:0"
  std::string name;  // "AMD EPYC 7B13 (2 cores)", "NVIDIA H100 80GB HBM3"
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;  // 0 = unknown
};
// The CPU and every GPU the CUDA driver sees (read through the driver library when one is installed, whether or
// not this LibTorch has CUDA; `usable` tells whether this build can compute on it).
std::vector<DeviceInfo> list_devices(bool* cuda_usable = nullptr);

// Peak resident set size of this process (VmHWM), 0 when unknown.
std::uint64_t peak_rss_bytes();

}  // namespace dype
