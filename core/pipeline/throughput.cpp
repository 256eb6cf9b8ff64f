#include "core/pipeline/throughput.h"

#include <ATen/Parallel.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/io/stored_weight.h"

namespace dype {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void sync(at::Device device, const at::Tensor& t) {
  if (!device.is_cpu()) (void)t.sum().item<double>();  // waits for the queued kernels
}

// Repeats `run` until `budget` seconds have passed (at least twice, the first as warm-up); returns seconds per run.
template <typename F>
double time_per_run(F run, double budget) {
  run();  // warm-up: first-touch page faults and kernel selection are not throughput
  int n = 0;
  const auto t0 = std::chrono::steady_clock::now();
  do {
    run();
    ++n;
  } while (seconds_since(t0) < budget);
  return seconds_since(t0) / n;
}

}  // namespace

Throughput measure_throughput(at::Device device, at::ScalarType dtype) {
  Throughput tp;
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  // FLUX's projections: 512 tokens × 3072 features through a 3072 × 3072 weight (the shape of most of its FLOPs).
  const std::int64_t L = 512, C = 3072;
  const at::Tensor x = at::randn({L, C}, opts), w = at::randn({C, C}, opts);
  const double matmul_s = time_per_run(
      [&] {
        const at::Tensor y = at::linear(x, w);
        sync(device, y);
      },
      0.3);
  tp.flops_per_second = 2.0 * L * C * C / matmul_s;
  // Per-layer conversion of stored weights: a bf16 upcast and a float8 decode of one 3072 × 3072 matrix.
  const at::Tensor bf = at::randn({C, C}, at::kBFloat16).to(device);
  const at::Tensor codes = at::randint(0, 120, {C, C}, at::kByte);
  const double bf_s = time_per_run([&] { sync(device, bf.to(dtype)); }, 0.1);
  const double f8_s =
      time_per_run([&] { sync(device, io::decode_float8(codes, io::DType::F8_E4M3, dtype).to(device)); }, 0.1);
  tp.convert_elements_per_second = static_cast<double>(C * C) / (0.5 * (bf_s + f8_s));
  return tp;
}

std::string throughput_cache_path(at::Device device, at::ScalarType dtype) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  fs::path dir = (xdg && *xdg) ? fs::path(xdg) : fs::path(home && *home ? home : "/tmp") / ".cache";
  std::string key = device.str() + "-" + c10::toString(dtype) + "-t" + std::to_string(at::get_num_threads());
  for (auto& ch : key)
    if (ch == ':') ch = '_';
  return (dir / "dype-studio" / ("throughput-" + key + ".txt")).string();
}

Throughput cached_throughput(at::Device device, at::ScalarType dtype) {
  const std::string path = throughput_cache_path(device, dtype);
  {
    std::ifstream in(path);
    Throughput tp;
    if (in >> tp.flops_per_second >> tp.convert_elements_per_second && tp.flops_per_second > 0 &&
        tp.convert_elements_per_second > 0)
      return tp;
  }
  const Throughput tp = measure_throughput(device, dtype);
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path + ".part");
  out << tp.flops_per_second << " " << tp.convert_elements_per_second << "\n";
  out.close();
  if (out)
    fs::rename(path + ".part", path, ec);
  else
    fs::remove(path + ".part", ec);
  return tp;
}

}  // namespace dype
