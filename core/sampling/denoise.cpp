#include "core/sampling/denoise.h"

#include <sstream>

#include "core/common/error.h"

namespace dype::sampling {

at::Tensor EulerStep::x0_estimate() const {
  return *x_in - (*pred) * static_cast<float>(sigma);  // [B, L_img, 64]
}

DenoiseStatus euler_denoise(at::Tensor& x, const std::vector<double>& sigmas, const VelocityFn& velocity,
                            const EulerStepFn& on_step, const std::atomic<bool>* cancel) {
  if (sigmas.size() < 2) throw InvalidArgument("euler_denoise: the schedule needs at least 2 sigmas (1 step)");
  if (!velocity) throw InvalidArgument("euler_denoise: no model given");
  const int total = static_cast<int>(sigmas.size()) - 1;
  for (int k = 0; k < total; ++k) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return DenoiseStatus::Cancelled;
    const double sigma = sigmas[k], sigma_next = sigmas[k + 1];
    at::Tensor pred;
    try {
      pred = velocity(x, sigma);  // [B, L_img, 64]
    } catch (const Cancelled&) {
      return DenoiseStatus::Cancelled;  // stopped between blocks: x is still the last completed step's
    }
    if (!pred.defined() || pred.sizes() != x.sizes()) {
      std::ostringstream os;
      os << "euler_denoise: the model returned " << (pred.defined() ? pred.sizes() : at::IntArrayRef{})
         << " for a latent of " << x.sizes();
      throw ModelError(os.str());
    }
    if (pred.scalar_type() != x.scalar_type()) pred = pred.to(x.scalar_type());
    const float dt = static_cast<float>(sigma_next - sigma);
    at::Tensor x_next = x + pred * dt;  // two float32 ops, as in the reference (not at::add's fused alpha form)
    if (on_step) {
      EulerStep info;
      info.index = k;
      info.total = total;
      info.sigma = sigma;
      info.sigma_next = sigma_next;
      info.x_in = &x;
      info.pred = &pred;
      info.x_out = &x_next;
      const bool go_on = on_step(info);
      x = std::move(x_next);
      if (!go_on) return DenoiseStatus::Cancelled;
    } else {
      x = std::move(x_next);
    }
  }
  return DenoiseStatus::Completed;
}

}  // namespace dype::sampling
