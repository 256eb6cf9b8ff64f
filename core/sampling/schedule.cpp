#include "core/sampling/schedule.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "core/common/error.h"

namespace dype {

const char* shift_policy_name(ShiftPolicy p) {
  switch (p) {
    case ShiftPolicy::Auto: return "auto";
    case ShiftPolicy::Clamp: return "clamp";
    case ShiftPolicy::Flux: return "flux";
    case ShiftPolicy::None: return "none";
    case ShiftPolicy::Fixed: return "fixed";
  }
  return "auto";
}

ShiftPolicy parse_shift_policy(const std::string& name) {
  for (ShiftPolicy p :
       {ShiftPolicy::Auto, ShiftPolicy::Clamp, ShiftPolicy::Flux, ShiftPolicy::None, ShiftPolicy::Fixed})
    if (name == shift_policy_name(p)) return p;
  throw InvalidArgument("unknown shift policy '" + name + "' (valid: auto, clamp, flux, none, fixed)");
}

ShiftPolicy parse_shift_option(const std::string& text, double* mu) {
  for (ShiftPolicy p : {ShiftPolicy::Auto, ShiftPolicy::Clamp, ShiftPolicy::Flux, ShiftPolicy::None})
    if (text == shift_policy_name(p)) return p;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0' || !std::isfinite(v))
    throw InvalidArgument("--shift expects auto, clamp, flux, none or a number (mu), got '" + text + "'");
  *mu = v;
  return ShiftPolicy::Fixed;
}

double flux_mu_line(std::int64_t image_seq_len, double base_shift, double max_shift) {
  const double m = (max_shift - base_shift) / (4096.0 - 256.0);
  const double b = base_shift - m * 256.0;
  return m * double(image_seq_len) + b;
}

std::optional<double> time_shift_mu(ShiftPolicy policy, std::int64_t image_seq_len, bool is_schnell, double base_shift,
                                    double max_shift, double fixed_mu) {
  if (image_seq_len < 1)
    throw InvalidArgument("time shift needs at least one image token, got " + std::to_string(image_seq_len));
  if (!std::isfinite(base_shift) || !std::isfinite(max_shift))
    throw InvalidArgument("base_shift and max_shift must be finite numbers");
  if (policy == ShiftPolicy::Auto) policy = is_schnell ? ShiftPolicy::None : ShiftPolicy::Clamp;
  switch (policy) {
    case ShiftPolicy::None: return std::nullopt;
    case ShiftPolicy::Fixed:
      if (!std::isfinite(fixed_mu)) throw InvalidArgument("fixed time shift mu must be a finite number");
      return fixed_mu;
    case ShiftPolicy::Flux: return flux_mu_line(image_seq_len, base_shift, max_shift);
    case ShiftPolicy::Clamp:
    default: return std::min(flux_mu_line(image_seq_len, base_shift, max_shift), max_shift);
  }
}

std::vector<double> flux_schedule(int num_steps, std::optional<double> mu) {
  if (num_steps < 1) throw InvalidArgument("number of steps must be >= 1, got " + std::to_string(num_steps));
  if (mu && !std::isfinite(*mu)) throw InvalidArgument("time shift mu must be a finite number");
  at::Tensor t = at::linspace(1.0, 0.0, num_steps + 1, at::TensorOptions().dtype(at::kFloat));  // [n+1]
  if (mu) {
    // σ = e^μ / (e^μ + (1/t − 1)) in the reference's float32 operation order; t = 0 stays 0 (1/0 = inf).
    const float e_mu = float(std::exp(*mu));
    t = at::reciprocal(at::reciprocal(t) - 1.0f + e_mu) * e_mu;
  }
  t = t.contiguous();
  const float* p = t.data_ptr<float>();
  return std::vector<double>(p, p + t.numel());
}

std::int64_t flux_image_seq_len(int width_px, int height_px) {
  if (width_px <= 0 || height_px <= 0)
    throw InvalidArgument("image size must be positive, got " + std::to_string(width_px) + "x" +
                          std::to_string(height_px) + " px");
  return ((std::int64_t(height_px) + 15) / 16) * ((std::int64_t(width_px) + 15) / 16);
}

}  // namespace dype
