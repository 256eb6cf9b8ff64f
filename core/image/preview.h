#pragma once
// Cheap latent → RGB previews without the VAE: a fixed 16→3 linear projection of the normalised latent
// (../shared/reference/FLUX.md §1, ComfyUI's factors), one RGB pixel per latent pixel (1/8 of the image size).
#include <ATen/ATen.h>

#include "core/image/rgb_image.h"

namespace dype::image {

// The 16×3 matrix M (row c = latent channel c) and the bias b: rgb = z·M + b.
at::Tensor preview_matrix();  // [16, 3] float32
at::Tensor preview_bias();    // [3] float32

// z: [1, 16, h, w] normalised (model-space) latent on any device, any float dtype. Returns an h × w RgbImage:
// round((clamp(z·M + b, −1, 1) + 1) · 127.5) per channel.
RgbImage latent_preview(const at::Tensor& z);

}  // namespace dype::image
