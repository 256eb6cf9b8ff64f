#pragma once
// Shared by the tiled-encode tests (unit and golden): a structured test image and the comparison of a tiled
// encode with the untiled one, measured on the latent.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/vae/tiled_encode.h"
#include "tests/support/golden.h"
#include "tests/support/seam_detector.h"

namespace dype::test {

// [B, 3, H, W] in [-1, 1]: smooth gradients with a hard-edged disc, rectangle and diagonal band, laid out in
// relative coordinates (the same picture at any size). Regions differ in mean and contrast, as in a real photo,
// so per-tile GroupNorm statistics genuinely differ between tiles; white noise would hide that. Image b > 0 is
// image 0 mirrored left-right.
inline at::Tensor structured_image(std::int64_t H, std::int64_t W, std::int64_t B = 1) {
  const double pi = 3.14159265358979323846;
  at::Tensor y = at::linspace(0, 1, H).view({1, 1, H, 1}).expand({1, 1, H, W});  // [1, 1, H, W]
  at::Tensor x = at::linspace(0, 1, W).view({1, 1, 1, W}).expand({1, 1, H, W});  // [1, 1, H, W]
  at::Tensor r = 0.7 * at::sin(pi * (2.1 * y + 0.9 * x)) * (0.6 + 0.4 * x);
  at::Tensor g = 1.6 * x - 0.8 + 0.15 * at::cos(pi * 5.0 * y);
  at::Tensor b = 0.8 - 1.4 * y * y + 0.1 * at::sin(pi * 7.0 * x);
  at::Tensor img = at::cat({r, g, b}, 1);                                      // [1, 3, H, W]
  auto paint = [&](const at::Tensor& mask, double cr, double cg, double cb) {  // mask [1, 1, H, W]
    at::Tensor colour = at::tensor({cr, cg, cb}, at::kFloat).view({1, 3, 1, 1});
    img = at::where(mask, colour.expand_as(img), img);
  };
  paint((y - 0.35).pow(2) + (x - 0.3).pow(2) < 0.18 * 0.18, 0.9, -0.6, 0.2);  // disc
  paint((y > 0.55) & (y < 0.85) & (x > 0.5) & (x < 0.9), -0.7, 0.5, 0.8);     // rectangle
  paint(((y + x - 1.05).abs() < 0.04) & (x < 0.45), 0.95, 0.95, -0.9);        // diagonal band
  img = img.clamp(-1, 1);
  std::vector<at::Tensor> batch{img};
  for (std::int64_t i = 1; i < B; ++i) batch.push_back(img.flip({3}));
  return at::cat(batch, 0).contiguous();  // [B, 3, H, W]
}

struct EncodeTileStats {
  double max_all = 0, mean_all = 0, max_away = 0, mean_away = 0, rel_l2 = 0, seam_cols = 1, seam_rows = 1;
  double max_abs = 1, mean_abs = 1;             // of the untiled latent
  double own_seam_cols = 1, own_seam_rows = 1;  // the untiled latent's own seam ratio at the tile borders
  int tiles = 1;
  std::string describe(const vae::TileOptions& o) const {
    char buf[640];
    std::snprintf(buf, sizeof buf,
                  "tile %d overlap %d, %d tiles, %s blend, %s GroupNorm: |tiled - untiled| max %.3g mean %.3g; away "
                  "from blend zones max %.3g mean %.3g (untiled latent max|z| %.3g mean|z| %.3g); rel_l2 %.3g; seam "
                  "ratio (tiled / untiled) cols %.3f rows %.3f (untiled latent's own ratio: %.3f, %.3f)",
                  o.tile, o.overlap, tiles, o.blend == vae::BlendMask::cosine ? "cosine" : "linear",
                  o.shared_norm ? "image-wide" : "per-tile", max_all, mean_all, max_away, mean_away, max_abs, mean_abs,
                  rel_l2, seam_cols, seam_rows, own_seam_cols, own_seam_rows);
    return buf;
  }
};

// A smooth random texture [1, 3, H, W] in [-1, 1] (bilinear upsampling of noise on a grid 4x coarser): its
// statistics are the same everywhere, so every tile sees the image's GroupNorm statistics, unlike
// structured_image. The tiling error left is the tile-local attention and the tiles' borders.
inline at::Tensor texture_image(std::int64_t H, std::int64_t W, std::uint64_t seed) {
  at::Tensor n = at::randn({1, 3, H / 4, W / 4}, at::detail::createCPUGenerator(seed));  // [1, 3, H/4, W/4]
  return at::upsample_bilinear2d(n, {H, W}, /*align_corners=*/false).mul(0.5).clamp(-1, 1).contiguous();
}

// Encodes `image` tiled and compares with the untiled latent `full` (computed here when undefined); "away" =
// latent pixels covered by a single tile (outside the blend zones). Seam ratios use factor 1: tile borders are
// latent pixel boundaries.
inline EncodeTileStats compare_tiled_encode(vae::AutoEncoder& ae, const at::Tensor& image, const vae::TileOptions& o,
                                            at::Tensor full = {}) {
  const int f = ae->config().spatial_factor();
  if (!full.defined()) full = ae->encode(image);
  full = full.to(at::kCPU, at::kFloat);                // [B, z, h, w]
  at::Tensor tiled = vae::tiled_encode(ae, image, o);  // [B, z, h, w]
  const auto plan = vae::plan_tiling(image.size(2) / f, image.size(3) / f, o);
  auto single = [](const std::vector<vae::TileSpan>& spans, std::int64_t n) {
    at::Tensor c = at::zeros({n}, at::kInt);
    for (const auto& s : spans) c.narrow(0, s.begin, s.size()).add_(1);
    return c.eq(1);
  };
  at::Tensor away_mask =
      (single(plan.rows, full.size(2)).view({1, 1, -1, 1}) & single(plan.cols, full.size(3)).view({1, 1, 1, -1}))
          .expand_as(full);
  at::Tensor diff = (tiled - full).abs().to(at::kDouble);
  EncodeTileStats s;
  s.tiles = plan.count();
  s.max_abs = full.abs().max().item<double>();
  s.mean_abs = full.abs().mean().item<double>();
  s.max_all = diff.max().item<double>();
  s.mean_all = diff.mean().item<double>();
  at::Tensor away = diff.masked_select(away_mask);
  if (away.numel()) {
    s.max_away = away.max().item<double>();
    s.mean_away = away.mean().item<double>();
  }
  s.rel_l2 = rel_l2(tiled, full);
  s.own_seam_cols = seam_ratio(full, plan.cols, 1);
  s.own_seam_rows = seam_ratio(full.transpose(2, 3), plan.rows, 1);
  s.seam_cols = seam_ratio(tiled, plan.cols, 1) / s.own_seam_cols;
  s.seam_rows = seam_ratio(tiled.transpose(2, 3), plan.rows, 1) / s.own_seam_rows;
  return s;
}

}  // namespace dype::test
