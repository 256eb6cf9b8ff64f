// Time to build one step's RoPE table (embed_nd) at FLUX dims: 512 text + H/16·W/16 image tokens, axes 16/56/56.
// Prints figures only. usage: bench_embed_nd [width height [repeats]]   (default 4096 4096 20)
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/flux/embed_nd.h"

int main(int argc, char** argv) {
  const int width = argc > 2 ? std::atoi(argv[1]) : 4096;
  const int height = argc > 2 ? std::atoi(argv[2]) : 4096;
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 20;
  const std::int64_t h = (height + 15) / 16, w = (width + 15) / 16, txt = 512;

  // ids = [text zeros; (0, r, c) row-major], as FLUX builds them.
  at::Tensor ids = at::zeros({1, txt + h * w, 3}, at::kFloat);  // [1, L, 3]
  at::Tensor rc = ids.narrow(1, txt, h * w);
  rc.select(2, 1).copy_(at::arange(h, at::kFloat).repeat_interleave(w).unsqueeze(0));
  rc.select(2, 2).copy_(at::arange(w, at::kFloat).repeat({h}).unsqueeze(0));

  dype::DypeConfig cfg;  // yarn, DyPE on, paper form
  const dype::RopeGeometry geo;
  at::Tensor pe = dype::flux::embed_nd(ids, cfg, geo, 1.0);  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pe = dype::flux::embed_nd(ids, cfg, geo, 1.0 - double(i) / repeats);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  // The same with the table kept between steps (no fresh 68 MB allocation to page-fault per call).
  std::vector<double> ms_into;
  at::Tensor kept;
  dype::flux::embed_nd_into(kept, ids, cfg, geo, 1.0);
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    dype::flux::embed_nd_into(kept, ids, cfg, geo, 1.0 - double(i) / repeats);
    ms_into.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::sort(ms_into.begin(), ms_into.end());
  std::printf("embed_nd %dx%d: %lld tokens, pe %lld MB, threads %d\n", width, height,
              static_cast<long long>(txt + h * w), static_cast<long long>(pe.nbytes() >> 20), at::get_num_threads());
  std::printf("  new table per call : median %.2f ms, min %.2f ms, max %.2f ms\n", ms[ms.size() / 2], ms.front(),
              ms.back());
  std::printf("  table kept (_into) : median %.2f ms, min %.2f ms, max %.2f ms\n", ms_into[ms_into.size() / 2],
              ms_into.front(), ms_into.back());
  return 0;
}
