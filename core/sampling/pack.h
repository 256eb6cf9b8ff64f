#pragma once
// FLUX's 2×2 patchification of the 16-channel latent into transformer tokens, and the image position ids
// (golden README "Latent noise, packing and ids").
#include <ATen/ATen.h>

#include <cstdint>

namespace dype::sampling {

// [B, C, h, w] -> [B, (h/2)(w/2), C·4]: token n = r·(w/2) + c (row-major patches), feature f = ch·4 + py·2 + px
// holds latent[ch, 2r+py, 2c+px]. h and w must be even (InvalidArgument otherwise).
at::Tensor pack_latent(const at::Tensor& latent);

// Inverse of pack_latent for a latent of h × w (latent pixels): [B, (h/2)(w/2), C·4] -> [B, C, h, w].
at::Tensor unpack_latent(const at::Tensor& tokens, std::int64_t h, std::int64_t w);

// Image ids [B, (h/2)(w/2), 3] float32 on the CPU: token r·(w/2)+c has id (0, r, c).
at::Tensor image_ids(std::int64_t batch, std::int64_t h, std::int64_t w);

// Text ids [B, L, 3] float32 zeros.
at::Tensor text_ids(std::int64_t batch, std::int64_t length);

}  // namespace dype::sampling
