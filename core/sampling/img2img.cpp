#include "core/sampling/img2img.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/common/error.h"

namespace dype::sampling {

int img2img_start_index(int num_steps, double strength) {
  if (num_steps < 1) throw InvalidArgument("img2img needs at least one step, got " + std::to_string(num_steps));
  if (!std::isfinite(strength) || strength <= 0.0 || strength > 1.0) {
    std::ostringstream os;
    os << "img2img strength must be in (0, 1] (1 = start from pure noise, small = stay close to the picture), got "
       << strength;
    throw InvalidArgument(os.str());
  }
  // Written as diffusers writes it (double arithmetic, truncation toward zero): the same S and N give the same
  // start index, including the cases where N·S is not exactly representable.
  const double n = static_cast<double>(num_steps);
  const double init = std::min(n * strength, n);
  return static_cast<int>(std::max(n - init, 0.0));
}

std::vector<double> schedule_from(const std::vector<double>& sigmas, int start) {
  if (start < 0 || start + 1 >= static_cast<int>(sigmas.size()))
    throw InvalidArgument("img2img start index " + std::to_string(start) + " leaves no step of a " +
                          std::to_string(static_cast<int>(sigmas.size()) - 1) + "-step schedule");
  return std::vector<double>(sigmas.begin() + start, sigmas.end());
}

at::Tensor noised_start(const at::Tensor& x0, const at::Tensor& noise, double sigma) {
  if (!x0.defined() || !noise.defined() || x0.sizes() != noise.sizes()) {
    std::ostringstream os;
    os << "img2img: the encoded picture " << (x0.defined() ? x0.sizes() : at::IntArrayRef{}) << " and the noise "
       << (noise.defined() ? noise.sizes() : at::IntArrayRef{}) << " differ in shape";
    throw InvalidArgument(os.str());
  }
  const float s = static_cast<float>(sigma);
  const float keep = 1.0f - s;  // (1 − σ) in float32, as `1.0 - sigma` on a float32 tensor
  return noise.to(at::kFloat) * s + x0.to(at::kFloat) * keep;  // two products and one add, as the reference
}

}  // namespace dype::sampling
