#include "core/image/convert.h"

#include <cstring>
#include <sstream>

#include "core/common/error.h"

namespace dype::image {

RgbImage tensor_to_rgb(const at::Tensor& image, bool with_16bit) {
  if (image.dim() != 4 || image.size(0) != 1 || image.size(1) != 3) {
    std::ostringstream os;
    os << "tensor_to_rgb: expected a [1, 3, H, W] image, got " << image.sizes();
    throw InvalidArgument(os.str());
  }
  const std::int64_t h = image.size(2), w = image.size(3);
  RgbImage out;
  out.width = static_cast<int>(w);
  out.height = static_cast<int>(h);
  out.rgb8.resize(static_cast<std::size_t>(h * w * 3));
  if (with_16bit) out.rgb16.resize(out.rgb8.size());
  const std::int64_t band = std::max<std::int64_t>(1, (1 << 20) / std::max<std::int64_t>(w, 1));  // ~1 M px
  for (std::int64_t y0 = 0; y0 < h; y0 += band) {
    const std::int64_t rows = std::min(band, h - y0);
    at::Tensor x = image[0].narrow(1, y0, rows).to(at::kCPU, at::kFloat).permute({1, 2, 0});  // [rows, W, 3]
    at::Tensor unit = x.clamp(-1.0, 1.0) + 1.0;                                               // [rows, W, 3] in [0, 2]
    at::Tensor u8 = (unit * 127.5).round().to(at::kByte).contiguous();
    std::memcpy(out.rgb8.data() + y0 * w * 3, u8.data_ptr<std::uint8_t>(), static_cast<std::size_t>(u8.numel()));
    if (with_16bit) {
      // LibTorch has no uint16: go through int32 (values are in [0, 65535]).
      at::Tensor u16 = (unit * 32767.5).round().to(at::kInt).contiguous();
      const std::int32_t* src = u16.data_ptr<std::int32_t>();
      std::uint16_t* dst = out.rgb16.data() + y0 * w * 3;
      for (std::int64_t i = 0; i < u16.numel(); ++i) dst[i] = static_cast<std::uint16_t>(src[i]);
    }
  }
  return out;
}

at::Tensor rgb_to_tensor(const RgbImage& image) {
  if (image.empty() || image.rgb8.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    throw InvalidArgument("rgb_to_tensor: the picture has no 8-bit pixels of its stated size");
  const at::Tensor u8 = at::from_blob(const_cast<std::uint8_t*>(image.rgb8.data()), {image.height, image.width, 3},
                                      at::kByte);                                         // [H, W, 3], borrowed
  return (u8.to(at::kFloat) / 127.5 - 1.0).permute({2, 0, 1}).unsqueeze(0).contiguous();  // [1, 3, H, W]
}

}  // namespace dype::image
