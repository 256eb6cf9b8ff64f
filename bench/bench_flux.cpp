// bench_flux: CPU figures for the FLUX transformer (prints numbers only, asserts nothing).
//   1. the tiny golden-sized model (hidden 128, 2 heads, 2 + 2 blocks): time per forward at a few grid sizes;
//   2. a FLUX.1-dev-shaped model (hidden 3072, 24 heads, axes 16/56/56, context 4096, vec 768) with reduced depth,
//      built directly at its final size with random float32 weights, one forward at 1024×1024 (4,096 image +
//      512 text tokens): construction time, per-block times, total, and peak RSS (VmHWM) against weight bytes.
//
//   bench_flux [--double 2] [--single 4] [--width 1024] [--height 1024] [--txt 512] [--threads N]
//              [--tiny-iters 20] [--skip-tiny] [--skip-dev] [--default-allocator]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/common/cpu_allocator.h"
#include "core/dype/rope_frequencies.h"
#include "core/flux/attention.h"
#include "core/flux/model.h"

using namespace dype;
using namespace dype::flux;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds used by this process (all threads): shows how much of a wall time was spent waiting for a shared
// machine's cores.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// "VmHWM" / "VmRSS" of /proc/self/status in bytes (0 when unavailable).
std::int64_t proc_status_bytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(k, 0) == 0) return std::atoll(line.c_str() + k.size()) * 1024;
  return 0;
}

double gib(std::int64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }

struct Inputs {
  at::Tensor img, img_ids, txt, txt_ids, t, y, g;
};

// Random inputs for a rows × cols token grid (ids as the pipeline builds them: text 0, image (0, r, c)).
Inputs make_inputs(const FluxConfig& c, std::int64_t rows, std::int64_t cols, std::int64_t n_txt) {
  auto gen = at::detail::createCPUGenerator(1234);
  Inputs in;
  in.img = at::randn({1, rows * cols, c.in_channels}, gen);
  in.txt = at::randn({1, n_txt, c.context_in_dim}, gen);
  in.y = at::randn({1, c.vec_in_dim}, gen);
  in.t = at::full({1}, 0.7);
  in.g = at::full({1}, 3.5);
  in.txt_ids = at::zeros({1, n_txt, 3});
  const at::Tensor r = at::arange(rows, at::kFloat).view({rows, 1}).expand({rows, cols});
  const at::Tensor cc = at::arange(cols, at::kFloat).view({1, cols}).expand({rows, cols});
  in.img_ids = at::stack({at::zeros({rows, cols}), r, cc}, -1).reshape({1, rows * cols, 3});
  return in;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return def;
}
bool flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == "--" + name) return true;
  return false;
}

void bench_tiny(int iters) {
  c10::InferenceMode guard;
  FluxConfig c;  // the golden tiny-dev hyper-parameters
  c.in_channels = c.out_channels = 64;
  c.vec_in_dim = 64;
  c.context_in_dim = 32;
  c.hidden_size = 128;
  c.num_heads = 2;
  c.depth = 2;
  c.depth_single_blocks = 2;
  c.axes_dim = {8, 28, 28};
  Flux m = make_random_flux(c, 0, at::kFloat, at::kCPU);
  DypeConfig dype;
  dype.base_resolution = 64;  // base grid 4×4 as in the golden cases
  std::printf("tiny model (hidden 128, 2 heads, 2 double + 2 single, %lld params), float32:\n",
              static_cast<long long>(c.parameter_count()));
  for (auto [rows, cols] : std::vector<std::pair<int, int>>{{4, 4}, {16, 16}, {32, 48}}) {
    const Inputs in = make_inputs(c, rows, cols, 16);
    auto fwd = [&] { return m->forward(in.img, in.img_ids, in.txt, in.txt_ids, in.t, in.y, in.g, dype, 0.7); };
    fwd();  // warm-up
    std::vector<double> ts;
    const double c0 = cpu_seconds();
    for (int i = 0; i < iters; ++i) {
      const auto t0 = Clock::now();
      fwd();
      ts.push_back(seconds_since(t0));
    }
    const double cpu_per = (cpu_seconds() - c0) / iters;
    std::vector<double> tp;
    for (int i = 0; i < iters; ++i) {
      const auto t0 = Clock::now();
      m->build_pe(in.txt_ids, in.img_ids, dype, 0.7);
      tp.push_back(seconds_since(t0));
    }
    std::sort(ts.begin(), ts.end());
    std::sort(tp.begin(), tp.end());
    std::printf(
        "  %2dx%-2d patches (%4d img + 16 txt tokens): median %.3f ms, min %.3f ms per forward, %.3f ms CPU "
        "(%d runs; pe table alone: median %.3f ms)\n",
        rows, cols, rows * cols, ts[ts.size() / 2] * 1e3, ts.front() * 1e3, cpu_per * 1e3, iters,
        tp[tp.size() / 2] * 1e3);
  }
}

void bench_dev(std::int64_t n_double, std::int64_t n_single, int width, int height, std::int64_t n_txt) {
  FluxConfig c = FluxConfig::dev();
  c.depth = n_double;
  c.depth_single_blocks = n_single;
  const std::int64_t rows = (height + 15) / 16, cols = (width + 15) / 16;
  std::printf("\nFLUX.1-dev-shaped model: %s\n", c.describe().c_str());
  std::printf("  %lld x %lld px -> %lld image + %lld text tokens; attention backend: %s; %d threads\n",
              static_cast<long long>(width), static_cast<long long>(height), static_cast<long long>(rows * cols),
              static_cast<long long>(n_txt), attention_backend(at::kCPU).c_str(), at::get_num_threads());
  const std::int64_t rss0 = proc_status_bytes("VmRSS");
  auto t0 = Clock::now();
  Flux m = make_random_flux(c, 0, at::kFloat, at::kCPU);
  const double t_build = seconds_since(t0);
  const std::int64_t weights = m->parameter_bytes();
  const std::int64_t rss_built = proc_status_bytes("VmRSS"), hwm_built = proc_status_bytes("VmHWM");
  std::printf("  construction (random float32 weights at final size): %.2f s; weights %.3f GiB (%lld params)\n",
              t_build, gib(weights), static_cast<long long>(c.parameter_count()));
  std::printf("  RSS before %.3f GiB, after construction %.3f GiB (peak so far %.3f GiB)\n", gib(rss0), gib(rss_built),
              gib(hwm_built));

  const Inputs in = make_inputs(c, rows, cols, n_txt);
  DypeConfig dype;  // YaRN (paper form), base 1024 px: plain RoPE at 1024², DyPE above
  c10::InferenceMode guard;
  const auto t_fwd = Clock::now();
  t0 = Clock::now();
  const at::Tensor pe = m->build_pe(in.txt_ids, in.img_ids, dype, 0.7);
  const double t_pe = seconds_since(t0);
  t0 = Clock::now();
  at::Tensor img = m->img_in->forward(in.img);
  const at::Tensor vec = m->embed_vec(in.t, in.y, in.g);
  at::Tensor txt = m->txt_in->forward(in.txt);
  const double t_embed = seconds_since(t0);
  std::printf("  pe table %.3f s, embeddings %.3f s\n", t_pe, t_embed);
  std::vector<double> td, ts, cd, cs;  // wall and CPU seconds per double / single block
  const double cpu_fwd = cpu_seconds();
  for (auto& b : m->double_blocks) {
    t0 = Clock::now();
    const double c0 = cpu_seconds();
    std::tie(img, txt) = b->forward(img, txt, vec, pe);
    td.push_back(seconds_since(t0));
    cd.push_back(cpu_seconds() - c0);
    std::printf("  double block %zu: %.2f s wall, %.2f s CPU\n", td.size() - 1, td.back(), cd.back());
    std::fflush(stdout);
  }
  at::Tensor x = at::cat({txt, img}, 1);
  img = txt = at::Tensor();
  for (auto& b : m->single_blocks) {
    t0 = Clock::now();
    const double c0 = cpu_seconds();
    x = b->forward(x, vec, pe);
    ts.push_back(seconds_since(t0));
    cs.push_back(cpu_seconds() - c0);
    std::printf("  single block %zu: %.2f s wall, %.2f s CPU\n", ts.size() - 1, ts.back(), cs.back());
    std::fflush(stdout);
  }
  t0 = Clock::now();
  const at::Tensor out = m->final_layer->forward(x.narrow(1, n_txt, rows * cols), vec);
  const double t_final = seconds_since(t0);
  const double total = seconds_since(t_fwd);
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double d : v) s += d;
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
  };
  std::printf("  final layer %.3f s; output [%lld, %lld, %lld], finite: %s\n", t_final,
              static_cast<long long>(out.size(0)), static_cast<long long>(out.size(1)),
              static_cast<long long>(out.size(2)), at::isfinite(out).all().item<bool>() ? "yes" : "no");
  std::printf(
      "  forward total %.2f s wall, %.2f s CPU in the blocks (mean double block %.2f s, mean single block "
      "%.2f s wall)\n",
      total, cpu_seconds() - cpu_fwd, mean(td), mean(ts));
  std::printf(
      "  full depth 19 + 38 estimate at this size: %.0f s wall per forward as measured here, %.0f CPU-seconds\n",
      19 * mean(td) + 38 * mean(ts) + t_pe + t_embed + t_final, 19 * mean(cd) + 38 * mean(cs));
  const std::int64_t hwm = proc_status_bytes("VmHWM");
  std::printf("  peak RSS (VmHWM) %.3f GiB = weights %.3f GiB + %.3f GiB (activations, runtime, baseline %.3f GiB)\n",
              gib(hwm), gib(weights), gib(hwm - weights), gib(rss0));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int threads = std::atoi(arg(argc, argv, "threads", "0").c_str());
    if (threads > 0) at::set_num_threads(threads);
    // As `dype generate` and the app do (bench/NOTES.md); --default-allocator measures glibc as is.
    if (!flag(argc, argv, "default-allocator")) install_cpu_caching_allocator();
    if (!flag(argc, argv, "skip-tiny")) bench_tiny(std::atoi(arg(argc, argv, "tiny-iters", "20").c_str()));
    if (!flag(argc, argv, "skip-dev"))
      bench_dev(std::atoll(arg(argc, argv, "double", "2").c_str()), std::atoll(arg(argc, argv, "single", "4").c_str()),
                std::atoi(arg(argc, argv, "width", "1024").c_str()),
                std::atoi(arg(argc, argv, "height", "1024").c_str()),
                std::atoll(arg(argc, argv, "txt", "512").c_str()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_flux: %s\n", e.what());
    return 1;
  }
  return 0;
}
