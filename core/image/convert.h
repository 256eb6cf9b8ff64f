#pragma once
// Decoded image tensor ↔ interleaved RGB: the one conversion rule used by export, the GUI and the golden checks
// (and, the other way, by the demo model's trainer).
#include <ATen/ATen.h>

#include "core/image/rgb_image.h"

namespace dype::image {

// image: [1, 3, H, W] (any float dtype, any device), nominal range [−1, 1]. 8 bits: round((clamp(x, −1, 1) + 1)·127.5);
// with `with_16bit` also rgb16 = round((clamp(x, −1, 1) + 1)·32767.5). Converted in bands of rows so that a
// 16 MP image needs no second full-size float copy.
RgbImage tensor_to_rgb(const at::Tensor& image, bool with_16bit = false);

// The 8-bit picture as a [1, 3, H, W] float32 CPU tensor in [−1, 1]: x/127.5 − 1 (tensor_to_rgb's inverse on 8 bits).
at::Tensor rgb_to_tensor(const RgbImage& image);

}  // namespace dype::image
