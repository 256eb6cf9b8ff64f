// bench_lora: what runtime LoRA costs (issue 14; target: ≤ 10 % of step time at rank 16, a 100 MB file loaded in
// ≤ 1 s). Prints figures, asserts nothing.
//
//   bench_lora [--rank 16] [--iters 3] [--warmup 1] [--threads N] [--tiny FILE] [--skip-dev] [--load-mb 100]
//
// 1. The golden tiny-dev transformer (BF16 file, float32 compute) at 1,536 tokens (1,024 image + 512 text), and a
//    FLUX.1-dev-shaped model with 1 double + 1 single block (random float32 weights) at 4,608 tokens (4,096 + 512):
//    one transformer forward (= one step) without adapters and with a rank-`rank` adapter on every Linear, timed
//    alternately so that load from other processes on a shared machine hits both alike. Wall and process CPU
//    medians; the % is the CPU-time increase.
// 2. Loading a kohya LoRA of about --load-mb MB (BF16, on the dev-shaped model, its rank chosen to reach the size)
//    from a freshly written file (page cache warm): load_lora (read, match, convert to float32) and its SHA-256
//    (what the pipeline does on the first use of a file).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "bench/perf_common.h"
#include "core/common/sha256.h"
#include "core/flux/loader.h"
#include "core/flux/lora.h"
#include "core/flux/model.h"
#include "core/io/safetensors.h"

using namespace dype;

namespace {

// A random rank-r adapter on every Linear of `model` (values small: the cost does not depend on them).
std::shared_ptr<const flux::LoraFile> random_lora(flux::FluxImpl& model, std::int64_t r) {
  auto file = std::make_shared<flux::LoraFile>();
  file->rank = r;
  for (const auto& item : model.named_modules("", false)) {
    auto* lin = dynamic_cast<flux::LinearImpl*>(item.value().get());
    if (!lin) continue;
    flux::LoraLayer l;
    l.module = item.key();
    l.down = at::randn({r, lin->in_features()}) * 0.01;  // [r, in]
    l.up = at::randn({lin->out_features(), r}) * 0.01;   // [out, r]
    file->layers.push_back(l);
  }
  return file;
}

struct StepCost {
  double base_ms = 0, lora_ms = 0, base_cpu = 0, lora_cpu = 0;  // medians
  double base_min = 0, lora_min = 0;  // fastest CPU times: the least disturbed runs on a shared machine
};

double fastest(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); }

StepCost time_step(flux::FluxImpl& model, std::int64_t L_img, std::int64_t L_txt, std::int64_t rank, int warmup,
                   int iters) {
  const auto& c = model.config();
  at::Generator gen = at::detail::createCPUGenerator(1);
  const at::Tensor img = at::randn({1, L_img, c.in_channels}, gen);     // [1, L_img, in]
  const at::Tensor txt = at::randn({1, L_txt, c.context_in_dim}, gen);  // [1, L_txt, ctx]
  const at::Tensor y = at::randn({1, c.vec_in_dim}, gen);               // [1, vec]
  const at::Tensor t = at::full({1}, 0.7), g = at::full({1}, 3.5);
  std::int64_t gh = 1;
  for (std::int64_t h = 1; h * h <= L_img; ++h)
    if (L_img % h == 0) gh = h;
  const std::int64_t gw = L_img / gh;
  const at::Tensor rows = at::arange(gh, at::kFloat).view({gh, 1}).expand({gh, gw});
  const at::Tensor cols = at::arange(gw, at::kFloat).view({1, gw}).expand({gh, gw});
  const at::Tensor img_ids = at::stack({at::zeros({gh, gw}), rows, cols}, -1).reshape({1, L_img, 3});  // [1, L_img, 3]
  const at::Tensor txt_ids = at::zeros({1, L_txt, 3});
  DypeConfig dype;
  const at::Tensor pe = model.build_pe(txt_ids, img_ids, dype, 0.7);
  const auto lora = random_lora(model, rank);
  auto run = [&] { model.forward(img, txt, t, y, c.guidance_embed ? g : at::Tensor(), pe); };

  std::vector<double> base, with, base_cpu, with_cpu;
  for (int i = 0; i < warmup + iters; ++i) {
    for (bool on : {false, true}) {
      flux::set_loras(model, on ? std::vector<flux::LoraAdapterSet>{{lora, 1.0}} : std::vector<flux::LoraAdapterSet>{});
      const bench::Timings tm = bench::time_both(run, at::kCPU, 0, 1);
      if (i < warmup) continue;
      (on ? with : base).push_back(tm.wall_ms[0]);
      (on ? with_cpu : base_cpu).push_back(tm.cpu_ms[0]);
    }
  }
  flux::set_loras(model, {});
  return {bench::median(base),     bench::median(with), bench::median(base_cpu),
          bench::median(with_cpu), fastest(base_cpu),   fastest(with_cpu)};
}

void print_cost(const char* what, const StepCost& s, std::int64_t rank) {
  std::printf(
      "%s, rank %lld on every Linear: median step %.1f ms (cpu %.1f ms) without, %.1f ms (cpu %.1f ms) "
      "with; fastest cpu %.1f / %.1f ms. LoRA cost: %+.1f %% (fastest cpu), %+.1f %% (median cpu), "
      "%+.1f %% (median wall)\n",
      what, static_cast<long long>(rank), s.base_ms, s.base_cpu, s.lora_ms, s.lora_cpu, s.base_min, s.lora_min,
      100.0 * (s.lora_min - s.base_min) / s.base_min, 100.0 * (s.lora_cpu - s.base_cpu) / s.base_cpu,
      100.0 * (s.lora_ms - s.base_ms) / s.base_ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Options o(argc, argv, {"rank", "iters", "warmup", "threads", "tiny", "load-mb"}, {"skip-dev"});
    if (o.help()) {
      std::printf(
          "bench_lora [--rank 16] [--iters 3] [--warmup 1] [--threads N] [--tiny FILE] [--skip-dev] "
          "[--load-mb 100]\n");
      return 0;
    }
    if (o.has("threads")) at::set_num_threads(static_cast<int>(o.integer("threads", 1)));
    const std::int64_t rank = o.integer("rank", 16);
    const int iters = static_cast<int>(o.integer("iters", 3)), warmup = static_cast<int>(o.integer("warmup", 1));
    c10::InferenceMode guard;
    std::printf("threads %d\n", at::get_num_threads());

    const std::string tiny = o.str("tiny", "../shared/golden/models/tiny-dev/comfy/flux.safetensors");
    if (std::filesystem::exists(tiny)) {
      flux::FluxLoadOptions lo;
      lo.keep_storage_dtype = true;  // as the pipeline: BF16 weights converted per layer
      flux::Flux model = flux::load_flux(tiny, lo);
      print_cost("tiny-dev (BF16 stored), 1,536 tokens", time_step(*model, 1024, 512, rank, warmup, iters), rank);
    } else {
      std::printf("tiny-dev: '%s' not found (pass --tiny FILE), skipped\n", tiny.c_str());
    }

    flux::FluxConfig dev = flux::FluxConfig::dev();
    dev.depth = 1;
    dev.depth_single_blocks = 1;
    flux::Flux model = flux::make_random_flux(dev, 0, at::kFloat, at::kCPU);
    if (!o.has("skip-dev"))
      print_cost("dev-shaped 1+1 blocks (float32), 4,608 tokens", time_step(*model, 4096, 512, rank, warmup, iters),
                 rank);

    // Load time of a file of about --load-mb MB.
    const double mb = static_cast<double>(o.integer("load-mb", 100));
    std::int64_t per_rank = 0;  // BF16 bytes per unit of rank, all Linears
    for (const auto& item : model->named_modules("", false))
      if (auto* lin = dynamic_cast<flux::LinearImpl*>(item.value().get()))
        per_rank += 2 * (lin->in_features() + lin->out_features());
    const std::int64_t big_rank = std::max<std::int64_t>(1, static_cast<std::int64_t>(mb * 1e6 / per_rank));
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    const auto big = random_lora(*model, big_rank);  // held: a temporary would die before the loop body runs
    for (const auto& l : big->layers) {
      std::string stem = "lora_unet_" + l.module;
      for (char& ch : stem)
        if (ch == '.') ch = '_';
      tensors.push_back({stem + ".lora_down.weight", l.down.to(at::kBFloat16)});
      tensors.push_back({stem + ".lora_up.weight", l.up.to(at::kBFloat16)});
      tensors.push_back({stem + ".alpha", at::full({}, 16.0)});
    }
    const std::string path = (std::filesystem::temp_directory_path() / "bench_lora_load.safetensors").string();
    io::save_safetensors(path, tensors);
    tensors.clear();
    const double size_mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
    auto t0 = std::chrono::steady_clock::now();
    const flux::LoraFile f = flux::load_lora(path, *model);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t0 = std::chrono::steady_clock::now();
    const std::string sha = sha256_file_hex(path);
    const double sha_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "load: %.0f MB kohya LoRA (rank %lld, %zu layers, %s): load_lora %.2f s, SHA-256 %.2f s, total %.2f s\n",
        size_mb, static_cast<long long>(big_rank), f.layers.size(), f.formats.c_str(), load_s, sha_s, load_s + sha_s);
    std::filesystem::remove(path);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lora: %s\n", e.what());
    return 1;
  }
}
