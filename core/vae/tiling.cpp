#include "core/vae/tiling.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

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

TilePlan plan_tiling(std::int64_t latent_h, std::int64_t latent_w, const TileOptions& o) {
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

TileSpan owned_span(const std::vector<TileSpan>& spans, std::size_t i) {
  TileSpan o = spans[i];
  if (i > 0) o.begin = (spans[i].begin + spans[i - 1].end) / 2;
  if (i + 1 < spans.size()) o.end = (spans[i + 1].begin + spans[i].end) / 2;
  return o;
}

void for_each_tile(const TilePlan& plan, const TileOptions& options, const TileProgress& progress,
                   const std::function<void(const TileVisit&)>& run) {
  const int passes = options.shared_norm ? 2 : 1;  // statistics pass, then the pass that writes the output
  const int total = passes * plan.count();
  SharedNormStats stats;
  std::optional<SharedNormScope> scope;
  if (options.shared_norm) scope.emplace(&stats);
  int done = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const bool final_pass = pass == passes - 1;
    for (std::size_t r = 0; r < plan.rows.size(); ++r) {
      const TileSpan& ry = plan.rows[r];
      const TileSpan oy = owned_span(plan.rows, r);
      for (std::size_t c = 0; c < plan.cols.size(); ++c) {
        const TileSpan& rx = plan.cols[c];
        const TileSpan ox = owned_span(plan.cols, c);
        // Region in the tile's latent coordinates: a layer of the encoder or decoder scales it by its own
        // resolution over the tile's latent size (f at the image level, 1 at the latent level).
        stats.begin_tile(
            /*use_shared=*/pass > 0, /*collect=*/!final_pass,
            {oy.begin - ry.begin, oy.end - ry.begin, ox.begin - rx.begin, ox.end - rx.begin, ry.size(), rx.size()});
        run(TileVisit{r, c, ry, rx, final_pass});
        ++done;
        if (progress && !progress(done, total)) throw Cancelled();
      }
    }
    if (!final_pass) stats.freeze();
  }
}

at::Tensor weight_tensor(const std::vector<double>& w) {
  return at::tensor(at::ArrayRef<double>(w), at::TensorOptions().dtype(at::kDouble)).to(at::kFloat);  // [n]
}

}  // namespace dype::vae
