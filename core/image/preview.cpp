#include "core/image/preview.h"

#include <sstream>

#include "core/common/error.h"

namespace dype::image {

namespace {
// ComfyUI `latent_formats.Flux.latent_rgb_factors` / `latent_rgb_factors_bias` (FLUX.md §1): kept as the default
// for continuity with what users see in ComfyUI.
constexpr float kFactors[16][3] = {
    {-0.0346f, 0.0244f, 0.0681f},   {0.0034f, 0.0210f, 0.0687f},    {0.0275f, -0.0668f, -0.0433f},
    {-0.0174f, 0.0160f, 0.0617f},   {0.0859f, 0.0721f, 0.0329f},    {0.0004f, 0.0383f, 0.0115f},
    {0.0405f, 0.0861f, 0.0915f},    {-0.0236f, -0.0185f, -0.0259f}, {-0.0245f, 0.0250f, 0.1180f},
    {0.1008f, 0.0755f, -0.0421f},   {-0.0515f, 0.0201f, 0.0011f},   {0.0428f, -0.0012f, -0.0036f},
    {0.0817f, 0.0765f, 0.0749f},    {-0.1264f, -0.0522f, -0.1103f}, {-0.0280f, -0.0881f, -0.0499f},
    {-0.1262f, -0.0982f, -0.0778f},
};
constexpr float kBias[3] = {-0.0329f, -0.0718f, -0.0851f};
}  // namespace

at::Tensor preview_matrix() {
  return at::from_blob(const_cast<float*>(&kFactors[0][0]), {16, 3}, at::TensorOptions().dtype(at::kFloat)).clone();
}

at::Tensor preview_bias() {
  return at::from_blob(const_cast<float*>(kBias), {3}, at::TensorOptions().dtype(at::kFloat)).clone();
}

RgbImage latent_preview(const at::Tensor& z) {
  if (z.dim() != 4 || z.size(0) != 1 || z.size(1) != 16) {
    std::ostringstream os;
    os << "latent_preview: expected a [1, 16, h, w] latent, got " << z.sizes();
    throw InvalidArgument(os.str());
  }
  const std::int64_t h = z.size(2), w = z.size(3);
  at::Tensor zc = z[0].to(at::kCPU, at::kFloat).permute({1, 2, 0}).reshape({h * w, 16});  // [h*w, 16]
  at::Tensor rgb = at::addmm(preview_bias(), zc, preview_matrix());                       // [h*w, 3]
  rgb = ((rgb.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(at::kByte).contiguous();
  RgbImage out;
  out.width = static_cast<int>(w);
  out.height = static_cast<int>(h);
  out.rgb8.assign(rgb.data_ptr<std::uint8_t>(), rgb.data_ptr<std::uint8_t>() + rgb.numel());
  return out;
}

}  // namespace dype::image
