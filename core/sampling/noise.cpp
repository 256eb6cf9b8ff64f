#include "core/sampling/noise.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/common/error.h"

namespace dype::sampling {

const char* noise_convention_name(NoiseConvention c) { return c == NoiseConvention::Bfl ? "bfl" : "comfy"; }

NoiseConvention parse_noise_convention(const std::string& name) {
  if (name == "comfy") return NoiseConvention::Comfy;
  if (name == "bfl") return NoiseConvention::Bfl;
  throw InvalidArgument("unknown noise mode '" + name + "' (valid: comfy, bfl)");
}

std::vector<std::int64_t> latent_noise_shape(int width, int height) {
  if (width <= 0 || height <= 0)
    throw InvalidArgument("noise: image size must be positive, got " + std::to_string(width) + "x" +
                          std::to_string(height));
  const std::int64_t h = 2 * ((static_cast<std::int64_t>(height) + 15) / 16);
  const std::int64_t w = 2 * ((static_cast<std::int64_t>(width) + 15) / 16);
  return {1, 16, h, w};
}

at::Tensor make_noise(std::uint64_t seed, int width, int height, NoiseConvention convention) {
  const auto shape = latent_noise_shape(width, height);
  // torch.Generator("cpu").manual_seed(seed): a fresh mt19937 CPU generator; at::randn on a contiguous float
  // tensor takes the same kernel path as PyTorch, so the numbers are bitwise those of the reference.
  at::Generator gen = at::detail::createCPUGenerator(seed);
  if (convention == NoiseConvention::Bfl) {
    // BFL draws directly in bf16 (the normal is generated for that dtype, not rounded from a float32 draw).
    return at::randn(shape, gen, at::TensorOptions().dtype(at::kBFloat16)).to(at::kFloat);  // [1, 16, h, w]
  }
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));  // [1, 16, h, w]
}

}  // namespace dype::sampling
