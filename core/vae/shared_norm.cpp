#include "core/vae/shared_norm.h"

#include <stdexcept>
#include <string>

namespace dype::vae {

namespace {
thread_local SharedNormStats* g_current = nullptr;
}

SharedNormStats* SharedNormStats::current() { return g_current; }

SharedNormScope::SharedNormScope(SharedNormStats* stats) : previous_(g_current) { g_current = stats; }
SharedNormScope::~SharedNormScope() { g_current = previous_; }

void SharedNormStats::begin_tile(bool use_shared, bool collect, const Region& owned) {
  use_shared_ = use_shared;
  collect_ = collect;
  owned_ = owned;
  cursor_ = 0;
}

void SharedNormStats::freeze() {
  mean_.clear();
  var_.clear();
  for (std::size_t k = 0; k < sum_.size(); ++k) {
    at::Tensor m = sum_[k] / count_[k];  // [B, G]
    mean_.push_back(m);
    var_.push_back((sumsq_[k] / count_[k] - m * m).clamp_min(0));  // [B, G]
  }
  sum_.clear();
  sumsq_.clear();
  count_.clear();
}

at::Tensor SharedNormStats::group_norm(const at::Tensor& x_in, int groups, const at::Tensor& weight,
                                       const at::Tensor& bias, double eps) {
  at::Tensor x = x_in.contiguous();
  const std::int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  if (owned_.tile_h <= 0 || H % owned_.tile_h != 0 || W % owned_.tile_w != 0)
    throw std::logic_error("SharedNormStats: feature map " + std::to_string(H) + "x" + std::to_string(W) +
                           " is not a multiple of the tile's latent size");
  at::Tensor xg = x.view({B, groups, C / groups, H, W});  // [B, G, C/G, H, W]
  const int slot = cursor_++;
  if (collect_) {
    const std::int64_t sy = H / owned_.tile_h, sx = W / owned_.tile_w;
    at::Tensor crop = xg.narrow(3, owned_.y0 * sy, (owned_.y1 - owned_.y0) * sy)
                          .narrow(4, owned_.x0 * sx, (owned_.x1 - owned_.x0) * sx);  // [B, G, C/G, h, w]
    if (crop.scalar_type() != at::kFloat && crop.scalar_type() != at::kDouble) crop = crop.to(at::kFloat);
    auto [var, mean] = at::var_mean(crop, {2, 3, 4}, /*unbiased=*/false);  // [B, G] each (Welford)
    const double n = static_cast<double>(crop.numel() / (B * groups));
    at::Tensor m = mean.to(at::kCPU, at::kDouble), v = var.to(at::kCPU, at::kDouble);
    if (slot >= static_cast<int>(sum_.size())) {
      sum_.push_back(at::zeros({B, groups}, at::kDouble));
      sumsq_.push_back(at::zeros({B, groups}, at::kDouble));
      count_.push_back(0);
    }
    sum_[slot].add_(m * n);
    sumsq_[slot].add_((v + m * m) * n);
    count_[slot] += n;
  }
  if (!use_shared_) return at::group_norm(x, groups, weight, bias, eps, /*cudnn_enabled=*/true);
  if (slot >= static_cast<int>(mean_.size()))
    throw std::logic_error("SharedNormStats: no statistics frozen for GroupNorm #" + std::to_string(slot));
  const at::Tensor& mean = mean_[slot];          // [B, G]
  at::Tensor rstd = (var_[slot] + eps).rsqrt();  // [B, G]
  // y = (x - mean) * rstd * w + b = x * a + b' per channel, with a = rstd * w, b' = b - mean * a.
  const auto per_channel = [&](const at::Tensor& g) {  // [B, G] -> [B, C, 1, 1]
    return g.view({B, groups, 1}).expand({B, groups, C / groups}).reshape({B, C, 1, 1});
  };
  at::Tensor w = weight.to(at::kCPU, at::kDouble).view({1, C, 1, 1});
  at::Tensor b = bias.to(at::kCPU, at::kDouble).view({1, C, 1, 1});
  at::Tensor a = per_channel(rstd) * w;          // [B, C, 1, 1]
  at::Tensor shift = b - per_channel(mean) * a;  // [B, C, 1, 1]
  const auto opts = x.options();
  return at::addcmul(shift.to(opts), x, a.to(opts));  // [B, C, H, W]
}

}  // namespace dype::vae
