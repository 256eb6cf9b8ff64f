// bench_transformer_sizes: times OUR FLUX transformer forward for a config and a token count, and can save the
// weights, the inputs and the output so that bench/pytorch_flux.py checks numeric equality and times the PyTorch
// eager baseline on exactly the same data (bench/run_cpu_bench.sh, bench/gpu_check.sh drive both).
//
//   bench_transformer_sizes --config dev --double 1 --single 1 --img-tokens 4096 --write-weights W.safetensors
//                           --save-io IO.safetensors [--device cpu|cuda] [--dtype f32|bf16] [--iters 3]
//   bench_transformer_sizes --weights W.safetensors --img-tokens 4096 ...   (an existing BFL file)
//
// Inputs are seeded random tensors of the real shapes (img [1, L_img, 64], txt [1, 512, 4096], y [1, 768]);
// ids are the image grid (rows × columns, text ids 0); pe is built once with DyPE (YaRN, base 1024 px by
// default) at t = --t and shared by all blocks, and the timed forward takes that pe (the PyTorch baseline takes the
// same table), while the pe build is timed on its own. Prints one `OURS {json}` line. With --per-block the first
// double and single block are also timed alone, and a full-depth (19 + 38) step is extrapolated from them.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "bench/perf_common.h"
#include "core/common/cpu_allocator.h"
#include "core/dype/rope_frequencies.h"
#include "core/flux/loader.h"
#include "core/flux/model.h"
#include "core/io/safetensors.h"

using namespace dype;

namespace {

const char* kUsage =
    "bench_transformer_sizes [--config dev|schnell] [--double N] [--single N] [--weights FILE | --write-weights FILE]\n"
    "    [--img-tokens N] [--txt-tokens 512] [--device cpu|cuda] [--dtype f32|bf16|f16] [--threads N]\n"
    "    [--warmup 1] [--iters 3] [--seed 0] [--t 0.7] [--dype-method yarn|none|pi|ntk|vision-yarn]\n"
    "    [--base-resolution 1024] [--save-io FILE] [--per-block] [--json FILE] [--cpu-allocator "
    "caching|tuned|default]\n";

// Rows × columns of an image-token grid holding exactly n tokens, as square as possible.
std::pair<std::int64_t, std::int64_t> grid_for(std::int64_t n) {
  std::int64_t h = static_cast<std::int64_t>(std::sqrt(static_cast<double>(n)));
  while (h > 1 && n % h != 0) --h;
  return {h, n / h};
}

// 2·params·tokens for the token-wise linears + 4·L²·C per attention layer (same formula as pytorch_flux.py).
double forward_flops(const flux::FluxConfig& c, std::int64_t L_img, std::int64_t L_txt) {
  const double C = static_cast<double>(c.hidden_size), M = static_cast<double>(c.mlp_hidden_dim());
  const double L = static_cast<double>(L_img + L_txt);
  double lin = 2 * (4 * C * C + 2 * C * M) * L * static_cast<double>(c.depth);
  lin += 2 * ((3 * C + M) * C + (C + M) * C) * L * static_cast<double>(c.depth_single_blocks);
  lin += 2 * (static_cast<double>(c.in_channels) * C * static_cast<double>(L_img) +
              static_cast<double>(c.context_in_dim) * C * static_cast<double>(L_txt) +
              C * static_cast<double>(c.out_channels) * static_cast<double>(L_img));
  const double att = 4 * L * L * C * static_cast<double>(c.depth + c.depth_single_blocks);
  return lin + att;
}

// Random weights drawn directly on a CUDA device: the 12-billion-parameter dev model in seconds instead of a
// minute of CPU sampling. Same distribution as io::RandomWeights (normal(0, 1/sqrt(fan_in)) matrices, zero
// biases, unit norm scales), not the same numbers: for timing runs only.
class DeviceRandomWeights : public io::WeightSource {
 public:
  DeviceRandomWeights(at::ScalarType dtype, at::Device device) : WeightSource(dtype, device) {}
  at::Tensor take(const std::string& name, at::IntArrayRef shape) override {
    const auto opts = at::TensorOptions().dtype(dtype_).device(device_);
    if (shape.size() >= 2) {
      std::int64_t fan_in = 1;
      for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      return at::randn(shape, opts.dtype(at::kFloat)).mul_(1.0 / std::sqrt(static_cast<double>(fan_in))).to(dtype_);
    }
    if (name.find(".scale") != std::string::npos) return at::ones(shape, opts);
    return at::zeros(shape, opts);
  }
  void finish() override {}
};

// Rounds every parameter to the nearest bfloat16 value (in place), so that a BF16 file holds them exactly.
void round_to_bf16(flux::FluxImpl& model) {
  for (auto& p : model.parameters()) p.copy_(p.to(at::kBFloat16).to(p.scalar_type()));
}

void save_weights_bf16(flux::FluxImpl& model, const std::string& path) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) tensors.emplace_back(item.key(), item.value().to(at::kBFloat16));
  io::save_safetensors(path, tensors, {{"format", "pt"}, {"written_by", "bench_transformer_sizes"}});
}

int run(const bench::Options& o) {
  const at::Device device = bench::parse_device(o.str("device", "cpu"));
  const at::ScalarType dtype = bench::parse_dtype(o.str("dtype", "f32"));
  if (o.has("threads")) at::set_num_threads(static_cast<int>(o.integer("threads", 1)));
  const int warmup = static_cast<int>(o.integer("warmup", 1)), iters = static_cast<int>(o.integer("iters", 3));
  const std::uint64_t seed = static_cast<std::uint64_t>(o.integer("seed", 0));
  // caching: core/common/cpu_allocator.h, what `dype generate` and the app install (through
  // tune_allocator_for_large_tensors); tuned: glibc thresholds raised only; default: glibc as is (what a plain
  // PyTorch process gets). bench/NOTES.md has the figures of all three.
  const std::string cpu_alloc = o.str("cpu-allocator", "caching");
  if (cpu_alloc == "caching") {
    install_cpu_caching_allocator();
  } else if (cpu_alloc == "tuned") {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  } else if (cpu_alloc != "default") {
    throw InvalidArgument("--cpu-allocator caching|tuned|default, got '" + cpu_alloc + "'");
  }
  c10::InferenceMode inference;

  // ---- model
  flux::FluxConfig config = o.str("config", "dev") == "schnell" ? flux::FluxConfig::schnell() : flux::FluxConfig::dev();
  if (o.has("double")) config.depth = o.integer("double", config.depth);
  if (o.has("single")) config.depth_single_blocks = o.integer("single", config.depth_single_blocks);
  flux::FluxLoadOptions load_options;
  load_options.dtype = dtype;
  load_options.device = device;
  flux::Flux model{nullptr};
  std::string source;
  const auto t_load = std::chrono::steady_clock::now();
  if (o.has("weights")) {
    model = flux::load_flux(o.str("weights"), load_options);
    config = model->config();
    source = o.str("weights");
  } else if (o.has("write-weights")) {
    // Random weights rounded to bf16 and written as a BF16 BFL file: the file holds our weights exactly, so the
    // PyTorch baseline (which reads it) computes with the very same numbers.
    flux::Flux cpu_model = flux::make_random_flux(config, seed, at::kFloat, at::kCPU);
    round_to_bf16(*cpu_model);
    save_weights_bf16(*cpu_model, o.str("write-weights"));
    if (device.is_cpu() && dtype == at::kFloat) {
      model = cpu_model;
    } else {
      cpu_model = nullptr;
      model = flux::load_flux(o.str("write-weights"), load_options);
    }
    source = "random (seed " + std::to_string(seed) + ") -> " + o.str("write-weights");
  } else if (device.is_cuda()) {
    torch::cuda::manual_seed_all(seed);
    DeviceRandomWeights ws(dtype, device);
    model = flux::Flux(config, ws);
    source = "random on the device (seed " + std::to_string(seed) + ")";
  } else {
    model = flux::make_random_flux(config, seed, dtype, device);
    source = "random (seed " + std::to_string(seed) + ")";
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  // ---- inputs
  const std::int64_t L_img = o.integer("img-tokens", 4096), L_txt = o.integer("txt-tokens", 512);
  const auto [gh, gw] = grid_for(L_img);
  at::Generator gen = at::detail::createCPUGenerator(seed + 1);
  const at::Tensor img = at::randn({1, L_img, config.in_channels}, gen);     // [1, L_img, 64]
  const at::Tensor txt = at::randn({1, L_txt, config.context_in_dim}, gen);  // [1, L_txt, 4096]
  const at::Tensor y = at::randn({1, config.vec_in_dim}, gen);               // [1, 768]
  const double t = o.real("t", 0.7);
  const at::Tensor timesteps = at::full({1}, t, at::kFloat);
  const at::Tensor guidance = at::full({1}, 3.5, at::kFloat);
  const at::Tensor rows = at::arange(gh, at::kFloat).view({gh, 1}).expand({gh, gw});
  const at::Tensor cols = at::arange(gw, at::kFloat).view({1, gw}).expand({gh, gw});
  const at::Tensor img_ids =
      at::stack({at::zeros({gh, gw}), rows, cols}, -1).reshape({1, L_img, 3});  // [1, L_img, 3] (0, row, col)
  const at::Tensor txt_ids = at::zeros({1, L_txt, 3});                          // [1, L_txt, 3]

  DypeConfig dype_cfg;
  const std::string method = o.str("dype-method", "yarn");
  dype_cfg.method = parse_method(method);
  dype_cfg.dynamic = dype_cfg.method != DypeMethod::None;
  dype_cfg.base_resolution = static_cast<int>(o.integer("base-resolution", 1024));

  at::Tensor pe;
  const auto pe_ms =
      bench::time_ms([&] { pe = model->build_pe(txt_ids.to(device), img_ids.to(device), dype_cfg, t); }, device, 1, 3);

  // Inputs on the device in the compute dtype before timing (a pipeline keeps its latents there).
  const at::Tensor img_d = img.to(device, dtype), txt_d = txt.to(device, dtype), y_d = y.to(device, dtype);
  const at::Tensor ts_d = timesteps.to(device), g_d = guidance.to(device);

  // ---- forward: check run (kept for --save-io), then timing
  bench::reset_peak_device(device);
  at::Tensor out = model->forward(img_d, txt_d, ts_d, y_d, g_d, pe);
  bench::sync(device);
  if (o.has("save-io")) {
    io::save_safetensors(o.str("save-io"), {{"img", img},
                                            {"txt", txt},
                                            {"timesteps", timesteps},
                                            {"y", y},
                                            {"guidance", guidance},
                                            {"pe", pe.to(at::kCPU, at::kFloat)},
                                            {"img_ids", img_ids},
                                            {"txt_ids", txt_ids},
                                            {"out", out.to(at::kCPU, at::kFloat)}});
  }
  out = at::Tensor();
  const bench::Timings fwd =
      iters > 0 ? bench::time_both([&] { model->forward(img_d, txt_d, ts_d, y_d, g_d, pe); }, device, warmup, iters)
                : bench::Timings{};
  const std::vector<double>& fwd_ms = fwd.wall_ms;
  const double peak_dev = bench::peak_device_gib(device);

  // ---- optional per-block timing (one double and one single block alone, on hidden states of the right shape)
  double double_ms = -1, single_ms = -1;
  if (o.has("per-block") && config.depth > 0 && config.depth_single_blocks > 0) {
    const std::int64_t C = config.hidden_size;
    const at::Tensor h_img = at::randn({1, L_img, C}, gen).to(device, dtype);
    const at::Tensor h_txt = at::randn({1, L_txt, C}, gen).to(device, dtype);
    const at::Tensor vec = model->embed_vec(ts_d, y_d, g_d);
    double_ms = bench::median(bench::time_ms([&] { model->double_blocks[0]->forward(h_img, h_txt, vec, pe); }, device,
                                             warmup, std::max(iters, 1)));
    const at::Tensor h_all = at::cat({h_txt, h_img}, 1);
    single_ms = bench::median(
        bench::time_ms([&] { model->single_blocks[0]->forward(h_all, vec, pe); }, device, warmup, std::max(iters, 1)));
  }

  const double flops = forward_flops(config, L_img, L_txt);
  const double ms = bench::median(fwd_ms);
  std::ostringstream js;
  js << "{\"tokens\": " << L_img + L_txt << ", \"img_tokens\": " << L_img << ", \"txt_tokens\": " << L_txt
     << ", \"grid\": [" << gh << ", " << gw << "], \"device\": \"" << device.str() << "\", \"dtype\": \""
     << o.str("dtype", "f32") << "\", \"threads\": " << at::get_num_threads() << ", \"double\": " << config.depth
     << ", \"single\": " << config.depth_single_blocks << ", \"load_s\": " << load_s
     << ", \"pe_ms\": " << bench::median(pe_ms) << ", \"ms\": " << ms
     << ", \"ms_min\": " << (fwd_ms.empty() ? 0.0 : *std::min_element(fwd_ms.begin(), fwd_ms.end()))
     << ", \"ms_all\": " << bench::json_list(fwd_ms) << ", \"cpu_ms\": " << bench::median(fwd.cpu_ms)
     << ", \"cpu_ms_min\": " << (fwd.cpu_ms.empty() ? 0.0 : *std::min_element(fwd.cpu_ms.begin(), fwd.cpu_ms.end()))
     << ", \"cpu_ms_all\": " << bench::json_list(fwd.cpu_ms) << ", \"gflop\": " << flops / 1e9
     << ", \"tflops\": " << (ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0.0)
     << ", \"peak_rss_gib\": " << bench::peak_rss_gib() << ", \"peak_gib\": " << peak_dev
     << ", \"double_block_ms\": " << double_ms << ", \"single_block_ms\": " << single_ms << ", \"cpu_allocator\": \""
     << cpu_alloc << "\", \"cpu_blocks_mapped\": " << cpu_allocator_stats().mapped
     << ", \"cpu_blocks_reused\": " << cpu_allocator_stats().reused
     << ", \"dev_step_ms_extrapolated\": " << (double_ms > 0 ? 19 * double_ms + 38 * single_ms : -1.0) << "}";
  std::printf("model: %s; weights: %s\n", config.describe().c_str(), source.c_str());
  std::printf("OURS %s\n", js.str().c_str());
  if (o.has("json")) {
    FILE* f = std::fopen(o.str("json").c_str(), "a");
    if (!f) throw IoError("cannot append to " + o.str("json"));
    std::fprintf(f, "%s\n", js.str().c_str());
    std::fclose(f);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options o(argc, argv,
                           {"config", "double", "single", "weights", "write-weights", "img-tokens", "txt-tokens",
                            "device", "dtype", "threads", "warmup", "iters", "seed", "t", "dype-method",
                            "base-resolution", "save-io", "json", "cpu-allocator"},
                           {"per-block"});
    if (o.help()) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_transformer_sizes: %s\n", e.what());
    return 1;
  }
}
