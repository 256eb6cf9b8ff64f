#include "core/vae/tiled_decode.h"

#include <algorithm>
#include <sstream>

#include "core/common/error.h"

namespace dype::vae {

namespace {

void check_latent(const AutoEncoder& ae, const at::Tensor& z) {
  const auto& cfg = ae->config();
  if (!z.defined() || z.dim() != 4 || z.size(0) < 1 || z.size(1) != cfg.z_channels || z.size(2) < 1 || z.size(3) < 1) {
    std::ostringstream os;
    os << "VAE decode expects a latent [B, " << cfg.z_channels << ", h, w]";
    if (z.defined()) os << ", got " << z.sizes();
    throw InvalidArgument(os.str());
  }
}

}  // namespace

TilePlan plan_tiled_decode(std::int64_t latent_h, std::int64_t latent_w, const TiledDecodeOptions& options) {
  return plan_tiling(latent_h, latent_w, options);
}

void tiled_decode_into(AutoEncoder& ae, const at::Tensor& z, at::Tensor& out, const TiledDecodeOptions& options,
                       const TileProgress& progress) {
  check_latent(ae, z);
  const auto& cfg = ae->config();
  const int f = cfg.spatial_factor();
  const std::int64_t B = z.size(0), h = z.size(2), w = z.size(3);
  if (!out.defined() || out.scalar_type() != at::kFloat || !out.device().is_cpu() || out.dim() != 4 ||
      out.size(0) != B || out.size(1) != cfg.out_ch || out.size(2) != h * f || out.size(3) != w * f) {
    std::ostringstream os;
    os << "tiled decode output must be a float32 CPU tensor [" << B << ", " << cfg.out_ch << ", " << h * f << ", "
       << w * f << "]";
    if (out.defined()) os << ", got " << out.scalar_type() << " " << out.sizes() << " on " << out.device();
    throw InvalidArgument(os.str());
  }
  const TilePlan plan = plan_tiled_decode(h, w, options);
  if (!plan.tiled()) {
    out.copy_(ae->decode(z));
    if (progress && !progress(1, 1)) throw Cancelled();
    return;
  }
  const auto wy = blend_weights(plan.rows, f, options.blend);
  const auto wx = blend_weights(plan.cols, f, options.blend);
  out.zero_();
  for_each_tile(plan, options, progress, [&](const TileVisit& t) {
    at::Tensor zt = z.narrow(2, t.rows.begin, t.rows.size()).narrow(3, t.cols.begin, t.cols.size());  // [B, z, th, tw]
    at::Tensor img = ae->decode(zt);  // [B, 3, th*f, tw*f]
    if (!t.final_pass) return;        // statistics pass: only the GroupNorm sums were wanted
    at::Tensor my = weight_tensor(wy[t.row]).view({1, 1, -1, 1});  // [1, 1, th*f, 1]
    at::Tensor mx = weight_tensor(wx[t.col]).view({1, 1, 1, -1});  // [1, 1, 1, tw*f]
    out.narrow(2, t.rows.begin * f, t.rows.size() * f)
        .narrow(3, t.cols.begin * f, t.cols.size() * f)
        .add_(img.to(at::kCPU, at::kFloat).mul_(my).mul_(mx));
  });
}

at::Tensor tiled_decode(AutoEncoder& ae, const at::Tensor& z, const TiledDecodeOptions& options,
                        const TileProgress& progress) {
  check_latent(ae, z);
  const int f = ae->config().spatial_factor();
  at::Tensor out =
      at::empty({z.size(0), ae->config().out_ch, z.size(2) * f, z.size(3) * f}, at::TensorOptions().dtype(at::kFloat));
  tiled_decode_into(ae, z, out, options, progress);
  return out;
}

std::uint64_t estimate_decode_bytes(const AutoEncoderConfig& cfg, std::int64_t latent_h, std::int64_t latent_w,
                                    const TiledDecodeOptions& options, at::ScalarType dtype) {
  const TilePlan plan = plan_tiled_decode(latent_h, latent_w, options);
  std::int64_t th = 0, tw = 0;
  for (const auto& s : plan.rows) th = std::max(th, s.size());
  for (const auto& s : plan.cols) tw = std::max(tw, s.size());
  const std::uint64_t elem = at::elementSize(dtype);
  const std::uint64_t f = static_cast<std::uint64_t>(cfg.spatial_factor());
  const std::uint64_t full_px = static_cast<std::uint64_t>(th * tw) * f * f;
  // At the full-resolution level a ResNet block holds its input, the normalised/activated copy, the conv output
  // and the sum: about 4 activations of ch * ch_mult[0] channels, plus the upsampled input of the level above.
  const int above = std::min(1, cfg.num_resolutions() - 1);
  const std::uint64_t level0 = full_px * static_cast<std::uint64_t>(cfg.ch * cfg.ch_mult[0]) * elem * 4 +
                               full_px * static_cast<std::uint64_t>(cfg.ch * cfg.ch_mult[above]) * elem;
  const std::uint64_t tokens = static_cast<std::uint64_t>(th * tw);
  const std::uint64_t attn = std::min<std::uint64_t>(tokens * tokens * elem, 256ull << 20);
  std::uint64_t params = 0;  // ~ 2 x 3x3 convs per block, counted coarsely from the channel widths
  for (int m : cfg.ch_mult) {
    const std::uint64_t c = static_cast<std::uint64_t>(cfg.ch * m);
    params += c * c * 9 * 2 * static_cast<std::uint64_t>(2 * cfg.num_res_blocks + 1);
  }
  return level0 + attn + params * elem;
}

}  // namespace dype::vae
