// bench-deps: io
// Per-layer weight conversion cost: what keeping weights in their stored dtype (bf16, fp8, ComfyUI scaled fp8)
// costs per use against a float32 weight, for FLUX.1's largest matrix (single_blocks.N.linear1, 21504 × 3072) and
// one of its projections (3072 × 3072), next to the matmul it feeds at 512 and 4096 tokens.
//
//   bench_stored_weights [--threads N] [--iters N]
//
// Prints figures only; asserts nothing. The "share" column is conversion / (conversion + matmul): the part of a
// step that stored-dtype weights add on this machine (a real-shape step converts every weight once).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/perf_common.h"
#include "core/common/cpu_allocator.h"
#include "core/io/stored_weight.h"

using namespace dype;

int main(int argc, char** argv) {
  int threads = at::get_num_threads(), iters = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (a == "--iters")
      iters = std::atoi(argv[i + 1]);
  }
  at::set_num_threads(threads);
  install_cpu_caching_allocator();
  c10::InferenceMode guard;
  std::printf("threads %d, iters %d (median ms)\n", threads, iters);
  std::printf("%-22s %-18s %10s %10s %10s %8s\n", "weight", "stored as", "convert", "matmul@512", "matmul@4k",
              "share@512");
  struct Shape {
    const char* name;
    std::int64_t out, in;
  };
  for (const Shape s : {Shape{"linear1 21504x3072", 21504, 3072}, Shape{"proj 3072x3072", 3072, 3072}}) {
    const at::Tensor w32 = at::randn({s.out, s.in}) * 0.02;  // [out, in]
    const at::Tensor x512 = at::randn({512, s.in}), x4k = at::randn({4096, s.in});
    io::StoredWeight f32(w32);
    io::StoredWeight bf16(w32.to(at::kBFloat16));
    io::StoredWeight fp8(at::randint(0, 120, {s.out, s.in}, at::kByte));
    fp8.codes = io::DType::F8_E4M3;
    io::StoredWeight fp8_scaled = fp8;
    fp8_scaled.scale = at::full({}, 0.01f);
    io::StoredWeight fp8_row = fp8;
    fp8_row.scale = at::rand({s.out}) * 0.01;
    const at::Device cpu(at::kCPU);
    const double mm512 = bench::median(bench::time_ms([&] { (void)at::linear(x512, w32); }, cpu, 1, iters));
    const double mm4k = bench::median(bench::time_ms([&] { (void)at::linear(x4k, w32); }, cpu, 1, iters));
    const std::pair<const char*, const io::StoredWeight*> forms[] = {{"f32 (none)", &f32},
                                                                     {"bf16", &bf16},
                                                                     {"fp8 e4m3", &fp8},
                                                                     {"fp8 + scale", &fp8_scaled},
                                                                     {"fp8 + row scale", &fp8_row}};
    for (const auto& [label, w] : forms) {
      const double conv = bench::median(bench::time_ms([&] { (void)w->to_transient(at::kFloat, cpu); }, cpu, 1, iters));
      std::printf("%-22s %-18s %10.2f %10.2f %10.2f %7.1f%%\n", s.name, label, conv, mm512, mm4k,
                  100.0 * conv / (conv + mm512));
    }
  }
  io::release_weight_scratch();
  return 0;
}
