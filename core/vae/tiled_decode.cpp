#include "core/vae/tiled_decode.h"

#include <cmath>
#include <optional>
#include <sstream>

#include "core/common/error.h"
#include "core/vae/shared_norm.h"

namespace dype::vae {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Rising ramp value at position k (0-based) of a zone of n pixels, strictly inside (0, 1); ramp(k) +
// ramp(n-1-k) = 1, so two tiles sharing exactly that zone already sum to one.
double ramp(std::int64_t k, std::int64_t n, BlendMask blend) {
  const double u = (static_cast<double>(k) + 0.5) / static_cast<double>(n);
  if (blend == BlendMask::linear) return u;
  const double s = std::sin(0.5 * kPi * u);
  return s * s;
}

void check_latent(const AutoEncoder& ae, const at::Tensor& z) {
  const auto& cfg = ae->config();
  if (!z.defined() || z.dim() != 4 || z.size(0) < 1 || z.size(1) != cfg.z_channels || z.size(2) < 1 ||
      z.size(3) < 1) {
    std::ostringstream os;
    os << "VAE decode expects a latent [B, " << cfg.z_channels << ", h, w]";
    if (z.defined()) os << ", got " << z.sizes();
    throw InvalidArgument(os.str());
  }
}

// The part of tile i that it alone accounts for in the GroupNorm statistics: from the middle of the zone shared
// with the previous tile to the middle of the zone shared with the next (a partition of the axis).
TileSpan owned_span(const std::vector<TileSpan>& spans, std::size_t i) {
  TileSpan o = spans[i];
  if (i > 0) o.begin = (spans[i].begin + spans[i - 1].end) / 2;
  if (i + 1 < spans.size()) o.end = (spans[i + 1].begin + spans[i].end) / 2;
  return o;
}

}  // namespace

std::vector<TileSpan> plan_tiles(std::int64_t length, int tile, int overlap) {
  if (length <= 0) throw InvalidArgument("cannot tile an axis of length " + std::to_string(length));
  if (tile <= 0 || length <= tile) return {TileSpan{0, length}};
  const std::int64_t stride = tile - overlap;  // > 0: overlap <= tile / 2
  const std::int64_t count = 1 + (length - tile + stride - 1) / stride;
  std::vector<TileSpan> spans;
  spans.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    // Even spacing (rounded): every gap is <= stride, so every overlap is >= the requested one.
    const std::int64_t begin = (i * (length - tile) * 2 + (count - 1)) / (2 * (count - 1));
    spans.push_back(TileSpan{begin, begin + tile});
  }
  return spans;
}

TilePlan plan_tiled_decode(std::int64_t latent_h, std::int64_t latent_w, const TiledDecodeOptions& o) {
  if (o.tile < 0 || o.overlap < 0 || (o.tile > 0 && 2 * o.overlap > o.tile)) {
    throw InvalidArgument("invalid VAE tiling: tile " + std::to_string(o.tile) + ", overlap " +
                          std::to_string(o.overlap) + " (need tile >= 0 and 0 <= overlap <= tile / 2)");
  }
  return TilePlan{plan_tiles(latent_h, o.tile, o.overlap), plan_tiles(latent_w, o.tile, o.overlap)};
}

std::vector<std::vector<double>> blend_weights(const std::vector<TileSpan>& spans, int factor, BlendMask blend) {
  const std::size_t n = spans.size();
  std::vector<std::vector<double>> w(n);
  std::int64_t total = 0;
  for (const auto& s : spans) total = std::max(total, s.end * factor);
  std::vector<double> sum(static_cast<std::size_t>(total), 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t p0 = spans[i].begin * factor, p1 = spans[i].end * factor;
    w[i].assign(static_cast<std::size_t>(p1 - p0), 1.0);
    if (i > 0 && spans[i - 1].end > spans[i].begin) {  // rising over the zone shared with the previous tile
      const std::int64_t zone = std::min(spans[i - 1].end * factor, p1) - p0;
      for (std::int64_t k = 0; k < zone; ++k) w[i][k] *= ramp(k, zone, blend);
    }
    if (i + 1 < n && spans[i + 1].begin < spans[i].end) {  // falling over the zone shared with the next tile
      const std::int64_t z0 = std::max(spans[i + 1].begin * factor, p0), zone = p1 - z0;
      for (std::int64_t k = 0; k < zone; ++k) w[i][z0 - p0 + k] *= ramp(zone - 1 - k, zone, blend);
    }
    for (std::int64_t k = 0; k < p1 - p0; ++k) sum[p0 + k] += w[i][k];
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t p0 = spans[i].begin * factor;
    for (std::size_t k = 0; k < w[i].size(); ++k) w[i][k] /= sum[p0 + k];  // exactly 1 where only one tile
  }
  return w;
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
  auto as_tensor = [](const std::vector<double>& v) {
    return at::tensor(at::ArrayRef<double>(v), at::TensorOptions().dtype(at::kDouble)).to(at::kFloat);
  };
  const int passes = options.shared_norm ? 2 : 1;  // statistics pass, then the pass that writes the image
  const int total = passes * plan.count();
  SharedNormStats stats;
  std::optional<SharedNormScope> scope;
  if (options.shared_norm) scope.emplace(&stats);
  out.zero_();
  int done = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const bool final_pass = pass == passes - 1;
    for (std::size_t r = 0; r < plan.rows.size(); ++r) {
      const TileSpan& ry = plan.rows[r];
      const TileSpan oy = owned_span(plan.rows, r);
      at::Tensor my = as_tensor(wy[r]).view({1, 1, -1, 1});  // [1, 1, th*f, 1]
      for (std::size_t c = 0; c < plan.cols.size(); ++c) {
        const TileSpan& rx = plan.cols[c];
        const TileSpan ox = owned_span(plan.cols, c);
        stats.begin_tile(/*use_shared=*/pass > 0, /*collect=*/!final_pass,
                         {oy.begin - ry.begin, oy.end - ry.begin, ox.begin - rx.begin, ox.end - rx.begin, ry.size(),
                          rx.size()});
        at::Tensor zt = z.narrow(2, ry.begin, ry.size()).narrow(3, rx.begin, rx.size());  // [B, z, th, tw]
        at::Tensor img = ae->decode(zt);                                                   // [B, 3, th*f, tw*f]
        if (final_pass) {
          at::Tensor mx = as_tensor(wx[c]).view({1, 1, 1, -1});  // [1, 1, 1, tw*f]
          out.narrow(2, ry.begin * f, ry.size() * f)
              .narrow(3, rx.begin * f, rx.size() * f)
              .add_(img.to(at::kCPU, at::kFloat).mul_(my).mul_(mx));
        }
        img = at::Tensor();
        ++done;
        if (progress && !progress(done, total)) throw Cancelled();
      }
    }
    if (!final_pass) stats.freeze();
  }
}

at::Tensor tiled_decode(AutoEncoder& ae, const at::Tensor& z, const TiledDecodeOptions& options,
                        const TileProgress& progress) {
  check_latent(ae, z);
  const int f = ae->config().spatial_factor();
  at::Tensor out = at::empty({z.size(0), ae->config().out_ch, z.size(2) * f, z.size(3) * f},
                             at::TensorOptions().dtype(at::kFloat));
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
  const std::uint64_t level0 = full_px * static_cast<std::uint64_t>(cfg.ch * cfg.ch_mult[0]) * elem * 4 +
                               full_px * static_cast<std::uint64_t>(cfg.ch * cfg.ch_mult[std::min(1, cfg.num_resolutions() - 1)]) * elem;
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
