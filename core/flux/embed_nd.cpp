// embed_nd: the RoPE table of one denoising step. apply_rope lives with the attention code (flux helper).
#include "core/flux/embed_nd.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>

#include "core/common/error.h"

namespace dype::flux {
namespace {

// One axis: the distinct positions it holds and, per token, which of them it is.
struct AxisPositions {
  std::vector<double> values;  // sorted distinct positions
  at::Tensor inverse;          // [N] int64 on ids' device: token -> row of `values`
};

// General path (any device, any position values): sorted unique with inverse indices.
AxisPositions distinct_positions_unique(const at::Tensor& column) {
  at::Tensor vals, inverse;
  std::tie(vals, inverse) = at::_unique(column, /*sorted=*/true, /*return_inverse=*/true);
  at::Tensor v = vals.to(at::kCPU, at::kDouble).contiguous();
  AxisPositions p;
  p.values.assign(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
  p.inverse = inverse.to(at::kLong).contiguous();
  return p;
}

// CPU fast path for what FLUX actually feeds (small non-negative integer positions): one linear pass with a
// lookup table instead of a hash-based unique. Returns false (leaving `p` untouched) for anything else.
bool distinct_positions_integral(const double* col, std::int64_t n, std::int64_t stride, AxisPositions& p) {
  constexpr double kMaxPos = 1 << 20;
  double max_pos = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = col[i * stride];
    if (!(v >= 0 && v < kMaxPos) || v != std::floor(v)) return false;
    max_pos = std::max(max_pos, v);
  }
  std::vector<std::int64_t> slot(std::size_t(max_pos) + 1, -1);
  for (std::int64_t i = 0; i < n; ++i) slot[std::size_t(col[i * stride])] = 0;
  std::vector<double> values;
  for (std::size_t v = 0; v < slot.size(); ++v)
    if (slot[v] == 0) {
      slot[v] = std::int64_t(values.size());
      values.push_back(double(v));
    }
  at::Tensor inverse = at::empty({n}, at::kLong);  // [N]
  std::int64_t* inv = inverse.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) inv[i] = slot[std::size_t(col[i * stride])];
  p.values = std::move(values);
  p.inverse = inverse;
  return true;
}

// Rotation blocks for every distinct position of an axis: [U, d/2, 2, 2] float32 on the CPU,
// block = m·[[cos, −sin], [sin, cos]] with the angle p·ω taken in float64. mscale is applied in float64 before
// the float32 rounding, except for vision-yarn, whose reference rounds cos and sin first and multiplies by
// float32(m) in float32 (golden README, "pe precision").
at::Tensor rotation_table(const std::vector<double>& positions, const AxisFrequencies& ax, bool round_then_scale) {
  const auto n_pos = std::int64_t(positions.size());
  const auto pairs = std::int64_t(ax.omega.size());
  at::Tensor table = at::empty({n_pos, pairs, 2, 2}, at::TensorOptions().dtype(at::kFloat));  // [U, P, 2, 2]
  float* out = table.data_ptr<float>();
  const double m = ax.mscale;
  const float m32 = float(m);
  for (std::int64_t u = 0; u < n_pos; ++u) {
    for (std::int64_t j = 0; j < pairs; ++j) {
      const double angle = positions[std::size_t(u)] * ax.omega[std::size_t(j)];
      const double c = std::cos(angle), s = std::sin(angle);
      float cf, sf;
      if (round_then_scale) {
        cf = float(c) * m32;
        sf = float(s) * m32;
      } else {
        cf = float(c * m);
        sf = float(s * m);
      }
      float* blk = out + (u * pairs + j) * 4;
      blk[0] = cf;
      blk[1] = -sf;
      blk[2] = sf;
      blk[3] = cf;
    }
  }
  return table;
}

}  // namespace

at::Tensor embed_nd(const at::Tensor& ids, const DypeConfig& cfg, const RopeGeometry& geo, double t,
                    std::vector<AxisFrequencies>* used) {
  at::Tensor pe;
  embed_nd_into(pe, ids, cfg, geo, t, used);
  return pe;
}

void embed_nd_into(at::Tensor& pe_out, const at::Tensor& ids, const DypeConfig& cfg, const RopeGeometry& geo, double t,
                   std::vector<AxisFrequencies>* used) {
  const auto n_axes = std::int64_t(geo.axes_dim.size());
  if (ids.dim() != 3 || ids.size(2) != n_axes)
    throw InvalidArgument("embed_nd: ids must be [B, L, " + std::to_string(n_axes) + "], got " +
                          std::to_string(ids.dim()) + "-d tensor " + c10::str(ids.sizes()));
  const std::int64_t B = ids.size(0), L = ids.size(1), N = B * L;
  std::int64_t total_pairs = 0;
  for (auto d : geo.axes_dim) total_pairs += d / 2;

  // Distinct positions per axis; the DyPE extent of an axis is max(id) + 1 over all tokens.
  at::Tensor flat = ids.reshape({N, n_axes});  // [N, A]
  std::vector<AxisPositions> pos(static_cast<std::size_t>(n_axes));
  std::vector<std::int64_t> extent(std::size_t(n_axes), 1);
  at::Tensor flat64;  // [N, A] float64 on the CPU: the fast path's input
  if (ids.device().is_cpu() && N > 0) flat64 = flat.to(at::kDouble).contiguous();
  for (std::int64_t a = 0; a < n_axes && N > 0; ++a) {
    if (!flat64.defined() ||
        !distinct_positions_integral(flat64.data_ptr<double>() + a, N, n_axes, pos[std::size_t(a)]))
      pos[std::size_t(a)] = distinct_positions_unique(flat.select(1, a));
    const double max_pos = pos[std::size_t(a)].values.back();
    if (!std::isfinite(max_pos)) throw InvalidArgument("embed_nd: position ids contain a non-finite value");
    extent[std::size_t(a)] = std::max<std::int64_t>(1, std::int64_t(std::floor(max_pos)) + 1);
  }

  std::vector<AxisFrequencies> freqs = rope_frequencies(cfg, geo, extent, t);
  const bool round_then_scale = cfg.method == DypeMethod::VisionYaRN && cfg.dynamic;

  const std::vector<std::int64_t> shape{B, 1, L, total_pairs, 2, 2};
  if (!(pe_out.defined() && pe_out.sizes() == at::IntArrayRef(shape) && pe_out.scalar_type() == at::kFloat &&
        pe_out.device() == ids.device() && pe_out.is_contiguous()))
    pe_out = at::empty(shape, ids.options().dtype(at::kFloat));  // [B, 1, L, P, 2, 2]
  at::Tensor pe = pe_out.view({N, total_pairs, 2, 2});           // [N, P, 2, 2]
  if (N > 0) {
    std::vector<at::Tensor> tables;
    for (std::int64_t a = 0; a < n_axes; ++a)
      tables.push_back(rotation_table(pos[std::size_t(a)].values, freqs[std::size_t(a)], round_then_scale));

    if (ids.device().is_cpu()) {
      // Gather rows token by token: one pass over the output, no per-axis temporaries.
      std::vector<const float*> src(static_cast<std::size_t>(n_axes));
      std::vector<const std::int64_t*> inv(static_cast<std::size_t>(n_axes));
      std::vector<std::int64_t> row(static_cast<std::size_t>(n_axes)), col(static_cast<std::size_t>(n_axes));
      std::int64_t offset = 0;
      for (std::int64_t a = 0; a < n_axes; ++a) {
        src[std::size_t(a)] = tables[std::size_t(a)].data_ptr<float>();
        inv[std::size_t(a)] = pos[std::size_t(a)].inverse.data_ptr<std::int64_t>();
        row[std::size_t(a)] = (geo.axes_dim[std::size_t(a)] / 2) * 4;  // floats per position
        col[std::size_t(a)] = offset * 4;
        offset += geo.axes_dim[std::size_t(a)] / 2;
      }
      float* dst = pe.data_ptr<float>();
      const std::int64_t stride = total_pairs * 4;
      at::parallel_for(0, N, 1024, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t n = begin; n < end; ++n)
          for (std::size_t a = 0; a < src.size(); ++a)
            std::memcpy(dst + n * stride + col[a], src[a] + inv[a][n] * row[a], std::size_t(row[a]) * sizeof(float));
      });
    } else {
      std::int64_t offset = 0;
      for (std::int64_t a = 0; a < n_axes; ++a) {
        const std::int64_t pairs = geo.axes_dim[std::size_t(a)] / 2;
        at::Tensor table = tables[std::size_t(a)].to(ids.device());                             // [U, P_a, 2, 2]
        pe.narrow(1, offset, pairs).copy_(table.index_select(0, pos[std::size_t(a)].inverse));  // [N, P_a, 2, 2]
        offset += pairs;
      }
    }
  }
  if (used) *used = std::move(freqs);
}

}  // namespace dype::flux
