#pragma once
// Measured speed of this machine/device for the time estimate (MemoryEstimate::seconds_per_step): a short
// calibration — matrix products of FLUX's width, and the per-layer conversion of stored weights (bf16 upcast,
// float8 decode) — cached per device, dtype and thread count, so the estimate costs nothing after the first time.
// The figures are what our own kernels reach here, not a datasheet number: a step's time is its FLOP count over
// the first plus its converted weight elements over the second.
#include <ATen/ATen.h>

#include <string>

namespace dype {

struct Throughput {
  double flops_per_second = 0;             // dense matmul in the compute dtype (0 = unknown)
  double convert_elements_per_second = 0;  // stored weight -> compute dtype, per element (bf16 and fp8 averaged)
  bool known() const { return flops_per_second > 0; }
};

// Runs the calibration now (about half a second on a CPU). Throws InvalidArgument for an unusable device.
Throughput measure_throughput(at::Device device, at::ScalarType dtype);

// The cached figures for (device, dtype, threads), measured and stored on first use. The cache is one small
// file per key under $XDG_CACHE_HOME/dype-studio (else ~/.cache/dype-studio), shared by the CLI and the GUI;
// a cache that cannot be written only costs a new calibration next time.
Throughput cached_throughput(at::Device device, at::ScalarType dtype);

// Where cached_throughput keeps the figures for this key (for messages and tests).
std::string throughput_cache_path(at::Device device, at::ScalarType dtype);

}  // namespace dype
