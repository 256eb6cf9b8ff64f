// bench_vae_device: tiled VAE decode (core/vae/tiled_decode) of one image on a chosen device and dtype, with the
// real FLUX.1 autoencoder shape (ch 128, ch_mult 1,2,4,4, 2 res blocks; random weights) or the golden tiny one.
// bench_vae (CPU, per-megapixel table, RSS) is the CPU companion; this one is what bench/gpu_check.sh runs for the
// 16 MP decode on a GPU. Prints one `VAE {json}` line.
//
//   bench_vae_device [--device cuda] [--dtype bf16|f32] [--px 4096] [--tile 64] [--overlap 16] [--config flux|tiny]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "bench/perf_common.h"
#include "core/vae/autoencoder_loader.h"
#include "core/vae/tiled_decode.h"

using namespace dype;

namespace {

int run(const bench::Options& o) {
  const at::Device device = bench::parse_device(o.str("device", "cpu"));
  const at::ScalarType dtype = bench::parse_dtype(o.str("dtype", "f32"));
  const std::int64_t px = o.integer("px", 4096);
  vae::AutoEncoderConfig cfg;  // FLUX.1's
  if (o.str("config", "flux") == "tiny") {
    cfg.ch = 32;
    cfg.ch_mult = {1, 1, 1, 1};
    cfg.num_res_blocks = 1;
  }
  vae::TiledDecodeOptions tiling;
  tiling.tile = static_cast<int>(o.integer("tile", 64));
  tiling.overlap = static_cast<int>(o.integer("overlap", 16));
  c10::InferenceMode inference;
  vae::AutoEncoder ae = vae::make_random_autoencoder(cfg, 0, dtype, device);
  const std::int64_t h = px / cfg.spatial_factor();
  at::Generator gen = at::detail::createCPUGenerator(1);
  const at::Tensor z = at::randn({1, cfg.z_channels, h, h}, gen);  // [1, 16, px/8, px/8]
  const auto plan = vae::plan_tiled_decode(h, h, tiling);
  at::Tensor out = at::empty({1, cfg.out_ch, px, px}, at::kFloat);  // the image lives on the CPU
  // Warm-up on one tile's worth (kernel selection, allocator), then the timed full decode.
  vae::tiled_decode(
      ae, z.narrow(2, 0, std::min<std::int64_t>(h, tiling.tile)).narrow(3, 0, std::min<std::int64_t>(h, tiling.tile)),
      tiling);
  bench::sync(device);
  bench::reset_peak_device(device);
  const auto ms = bench::time_ms([&] { vae::tiled_decode_into(ae, z, out, tiling); }, device, 0, 1);
  const double mp = static_cast<double>(px * px) / 1e6;
  std::printf(
      "VAE {\"px\": %lld, \"mp\": %.2f, \"device\": \"%s\", \"dtype\": \"%s\", \"config\": \"%s\", \"tiles\": %d, "
      "\"tile\": %d, \"overlap\": %d, \"ms\": %.1f, \"ms_per_mp\": %.1f, \"peak_gib\": %.2f, "
      "\"peak_rss_gib\": %.2f, \"finite\": %s}\n",
      static_cast<long long>(px), mp, device.str().c_str(), o.str("dtype", "f32").c_str(),
      o.str("config", "flux").c_str(), plan.count(), tiling.tile, tiling.overlap, ms[0], ms[0] / mp,
      bench::peak_device_gib(device), bench::peak_rss_gib(), at::isfinite(out).all().item<bool>() ? "true" : "false");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options o(argc, argv, {"device", "dtype", "px", "tile", "overlap", "config"}, {});
    if (o.help()) {
      std::puts(
          "bench_vae_device [--device cuda|cpu] [--dtype bf16|f32] [--px 4096] [--tile 64] [--overlap 16] "
          "[--config flux|tiny]");
      return 0;
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_vae_device: %s\n", e.what());
    return 1;
  }
}
