// bench-deps: flux vae sampling
// bench_train_step: what one training step of our own modules costs on this machine, to size the demo model before
// training it (issue 12: ≤ 2 hours on 2 cores; DEMO_TRAINING.md: "throughput first"). Prints figures, asserts
// nothing.
//
//   bench_train_step [--size 256] [--batch 8] [--txt 16] [--vae-size 64] [--iters 3] [--warmup 1] [--threads 2]
//
// 1. Schnell-style FLUX transformers (no guidance embedding, head dim 64, RoPE axes 8/28/28) at the latent grid of
//    a size × size picture (size/16 tokens per side), batch `batch`, `txt` text tokens: forward + backward of the
//    rectified-flow loss + one Adam step, float32. Several widths and depths; parameters, ms per step, pictures/s,
//    and the steps that fit in two hours.
// 2. The autoencoder (factor 8, 16 latent channels) at a few widths: encode + decode + backward + Adam on
//    vae-size × vae-size crops (a convolutional autoencoder trains on crops; at 256² one step of even the narrowest
//    one takes ~20 s here), batch `batch`.
// Medians of `iters` steps after `warmup`.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "bench/perf_common.h"
#include "core/flux/model.h"
#include "core/sampling/pack.h"
#include "core/vae/autoencoder_loader.h"

using namespace dype;

namespace {

struct FluxShape {
  std::int64_t hidden, depth, single;
};

// Median wall milliseconds of `iters` calls after `warmup` (perf_common.h).
double median_ms(int warmup, int iters, const std::function<void()>& step) {
  return bench::median(bench::time_ms(step, at::kCPU, warmup, iters));
}

std::vector<at::Tensor> trainable(torch::nn::Module& m) {
  std::vector<at::Tensor> ps = m.parameters();
  for (auto& p : ps) p.requires_grad_(true);
  return ps;
}

std::int64_t count(const std::vector<at::Tensor>& ps) {
  std::int64_t n = 0;
  for (const auto& p : ps) n += p.numel();
  return n;
}

void flux_rows(int size, int batch, int txt, int warmup, int iters) {
  std::printf("\nFLUX transformer, %d² pictures (%d×%d latent tokens), batch %d, %d text tokens, float32\n", size,
              size / 16, size / 16, batch, txt);
  std::printf("%-28s %10s %10s %10s %12s\n", "shape", "params", "ms/step", "pict/s", "steps in 2 h");
  const std::vector<FluxShape> shapes = {{128, 2, 4}, {192, 2, 4}, {256, 2, 4}, {256, 4, 8}, {384, 3, 6}};
  const std::int64_t h = size / 8, w = size / 8;  // latent pixels
  for (const FluxShape& s : shapes) {
    flux::FluxConfig c;
    c.hidden_size = s.hidden;
    c.num_heads = s.hidden / 64;
    c.axes_dim = {8, 28, 28};
    c.depth = s.depth;
    c.depth_single_blocks = s.single;
    c.context_in_dim = 64;
    c.vec_in_dim = 64;
    c.guidance_embed = false;
    flux::Flux model = flux::make_random_flux(c, 1, at::kFloat);
    const std::vector<at::Tensor> ps = trainable(*model);
    torch::optim::Adam opt(ps, torch::optim::AdamOptions(1e-4));
    const at::Tensor x0 = sampling::pack_latent(at::randn({batch, 16, h, w}));     // [B, L, 64]
    const at::Tensor noise = sampling::pack_latent(at::randn({batch, 16, h, w}));  // [B, L, 64]
    const at::Tensor t = at::rand({batch});                                        // [B]
    const at::Tensor tt = t.view({batch, 1, 1});
    const at::Tensor xt = (1 - tt) * x0 + tt * noise, v = noise - x0;
    const at::Tensor ids = sampling::image_ids(batch, h, w), tids = sampling::text_ids(batch, txt);
    const at::Tensor ctx = at::randn({batch, txt, c.context_in_dim}), y = at::randn({batch, c.vec_in_dim});
    DypeConfig none;
    none.method = DypeMethod::None;
    const double ms = median_ms(warmup, iters, [&] {
      opt.zero_grad();
      const at::Tensor pred = model->forward(xt, ids, ctx, tids, t, y, at::Tensor(), none, 1.0);
      (pred - v).pow(2).mean().backward();
      opt.step();
    });
    char name[64];
    std::snprintf(name, sizeof(name), "hidden %lld, %lld+%lld blocks", static_cast<long long>(s.hidden),
                  static_cast<long long>(s.depth), static_cast<long long>(s.single));
    std::printf("%-28s %9.2fM %10.0f %10.1f %12.0f\n", name, count(ps) / 1e6, ms, batch * 1000.0 / ms, 7200e3 / ms);
    std::fflush(stdout);
  }
}

void vae_rows(int size, int batch, int warmup, int iters) {
  std::printf("\nAutoencoder (factor 8, z 16), %d² crops, batch %d, encode + decode + backward + Adam, float32\n", size,
              batch);
  std::printf("%-28s %10s %10s %10s %12s\n", "shape", "params", "ms/step", "pict/s", "steps in 2 h");
  for (int ch : {16, 32, 64}) {
    vae::AutoEncoderConfig c;
    c.ch = ch;
    c.ch_mult = {1, 2, 4, 4};
    c.num_res_blocks = 1;
    c.norm_groups = std::min(ch, 16);
    vae::AutoEncoder ae = vae::make_random_autoencoder(c, 2, at::kFloat);
    const std::vector<at::Tensor> ps = trainable(*ae);
    torch::optim::Adam opt(ps, torch::optim::AdamOptions(1e-4));
    const at::Tensor x = at::rand({batch, 3, size, size}) * 2 - 1;  // [B, 3, H, W]
    const double ms = median_ms(warmup, iters, [&] {
      opt.zero_grad();
      (ae->decode(ae->encode(x)) - x).pow(2).mean().backward();
      opt.step();
    });
    char name[64];
    std::snprintf(name, sizeof(name), "ch %d, mult 1,2,4,4, 1 res", ch);
    std::printf("%-28s %9.2fM %10.0f %10.1f %12.0f\n", name, count(ps) / 1e6, ms, batch * 1000.0 / ms, 7200e3 / ms);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options o(argc, argv, {"size", "batch", "txt", "vae-size", "iters", "warmup", "threads"}, {});
    if (o.help()) {
      std::printf(
          "bench_train_step [--size 256] [--batch 8] [--txt 16] [--vae-size 64] [--iters 3] [--warmup 1] "
          "[--threads 2]\n");
      return 0;
    }
    // Both cores by default: LibTorch counts physical cores and would use one of this machine's two vCPUs.
    at::set_num_threads(static_cast<int>(o.integer("threads", 2)));
    const int size = static_cast<int>(o.integer("size", 256));
    if (size < 32 || size % 32 != 0) throw InvalidArgument("--size must be a multiple of 32, at least 32");
    const int batch = static_cast<int>(o.integer("batch", 8)), txt = static_cast<int>(o.integer("txt", 16));
    const int warmup = static_cast<int>(o.integer("warmup", 1)), iters = static_cast<int>(o.integer("iters", 3));
    std::printf("bench_train_step: %d intra-op threads, LibTorch %s\n", at::get_num_threads(), TORCH_VERSION);
    flux_rows(size, batch, txt, warmup, iters);
    const int vae_size = static_cast<int>(o.integer("vae-size", 64));
    if (vae_size < 8 || vae_size % 8 != 0) throw InvalidArgument("--vae-size must be a multiple of 8");
    vae_rows(vae_size, batch, warmup, iters);
    std::printf("\npeak RSS %.2f GiB\n", bench::peak_rss_gib());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step: %s\n", e.what());
    return 1;
  }
}
