#include "core/vae/tiled_encode.h"

#include <algorithm>
#include <sstream>

#include "core/common/error.h"

namespace dype::vae {

namespace {

// Checked here rather than left to ae->encode so that a tiled call fails before the first tile, with the
// whole image's size in the message (a tile's size would mislead).
void check_image(const AutoEncoder& ae, const at::Tensor& image) {
  const auto& cfg = ae->config();
  const int f = cfg.spatial_factor();
  if (!image.defined() || image.dim() != 4 || image.size(0) < 1 || image.size(1) != cfg.in_channels ||
      image.size(2) < f || image.size(3) < f || image.size(2) % f != 0 || image.size(3) % f != 0 ||
      !at::isFloatingType(image.scalar_type())) {
    std::ostringstream os;
    os << "VAE encode expects a floating-point image [B, " << cfg.in_channels
       << ", H, W] with H and W positive multiples of " << f;
    if (image.defined()) os << ", got " << image.scalar_type() << " " << image.sizes();
    throw InvalidArgument(os.str());
  }
}

}  // namespace

at::Tensor tiled_encode(AutoEncoder& ae, const at::Tensor& image, const TiledDecodeOptions& options,
                        const TileProgress& progress) {
  check_image(ae, image);
  const auto& cfg = ae->config();
  const int f = cfg.spatial_factor();
  const std::int64_t B = image.size(0), h = image.size(2) / f, w = image.size(3) / f;
  const TilePlan plan = plan_tiling(h, w, options);
  if (!plan.tiled()) {
    at::Tensor z = ae->encode(image).to(at::kCPU, at::kFloat);  // [B, z, h, w]
    if (progress && !progress(1, 1)) throw Cancelled();
    return z;
  }
  const auto wy = blend_weights(plan.rows, /*factor=*/1, options.blend);
  const auto wx = blend_weights(plan.cols, /*factor=*/1, options.blend);
  at::Tensor out = at::zeros({B, cfg.z_channels, h, w}, at::TensorOptions().dtype(at::kFloat));  // [B, z, h, w]
  for_each_tile(plan, options, progress, [&](const TileVisit& t) {
    // A view of the caller's image: only the tile is converted to the encoder's device and dtype.
    at::Tensor xt = image.narrow(2, t.rows.begin * f, t.rows.size() * f)
                        .narrow(3, t.cols.begin * f, t.cols.size() * f);  // [B, C_in, th*f, tw*f]
    at::Tensor zt = ae->encode(xt);                                       // [B, z, th, tw]
    if (!t.final_pass) return;  // statistics pass: only the GroupNorm sums were wanted
    at::Tensor my = weight_tensor(wy[t.row]).view({1, 1, -1, 1});  // [1, 1, th, 1]
    at::Tensor mx = weight_tensor(wx[t.col]).view({1, 1, 1, -1});  // [1, 1, 1, tw]
    out.narrow(2, t.rows.begin, t.rows.size())
        .narrow(3, t.cols.begin, t.cols.size())
        .add_(zt.to(at::kCPU, at::kFloat).mul_(my).mul_(mx));
  });
  return out;
}

std::uint64_t estimate_encode_bytes(const AutoEncoderConfig& cfg, std::int64_t latent_h, std::int64_t latent_w,
                                    const TiledDecodeOptions& options, at::ScalarType dtype) {
  const TilePlan plan = plan_tiling(latent_h, latent_w, options);
  std::int64_t th = 0, tw = 0;
  for (const auto& s : plan.rows) th = std::max(th, s.size());
  for (const auto& s : plan.cols) tw = std::max(tw, s.size());
  using U = std::uint64_t;
  const U elem = at::elementSize(dtype);
  const U tokens = static_cast<U>(th * tw);
  const U f = static_cast<U>(cfg.spatial_factor());
  const int n = cfg.num_resolutions();
  // A ResNet block peaks while conv2 runs: its input, conv1's output, norm2's output, the activated copy and
  // conv2's output are alive together (5 activations of the block's width). Level l runs at (f / 2^l)^2 pixels per
  // latent pixel; for FLUX level 0 (128 channels at full resolution) dominates every other level by 2x or more.
  U act = 0;
  for (int level = 0; level < n; ++level) {
    const U px = tokens * (f >> level) * (f >> level);
    act = std::max(act, px * static_cast<U>(cfg.ch * cfg.ch_mult[level]) * elem * 5);
  }
  // The image tile converted to the encoder's dtype (a copy whenever the input's dtype or device differs).
  act += tokens * f * f * static_cast<U>(cfg.in_channels) * elem;
  // Mid attention over the tile's latent tokens: scores and their softmax, one query chunk at a time (the chunk
  // is bounded at 256 MiB in autoencoder.cpp).
  const U attn = 2 * std::min<U>(tokens * tokens * elem, 256ull << 20);
  // Encoder weights: conv_in, per level num_res_blocks blocks (2 convs, a 1x1 shortcut where the width changes)
  // and a downsampling conv, the mid section (2 blocks, attention's 4 1x1 convs), conv_out.
  U params = static_cast<U>(cfg.in_channels * cfg.ch) * 9;
  U c_in = static_cast<U>(cfg.ch);
  for (int level = 0; level < n; ++level) {
    const U c = static_cast<U>(cfg.ch * cfg.ch_mult[level]);
    for (int b = 0; b < cfg.num_res_blocks; ++b) {
      params += c_in * c * 9 + c * c * 9 + (c_in != c ? c_in * c : 0);
      c_in = c;
    }
    if (level != n - 1) params += c * c * 9;
  }
  params += 4 * c_in * c_in * 9 + 4 * c_in * c_in + c_in * static_cast<U>(2 * cfg.z_channels) * 9;
  return act + attn + params * elem;
}

}  // namespace dype::vae
