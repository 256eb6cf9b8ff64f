#include "core/sampling/pack.h"

#include <sstream>

#include "core/common/error.h"
#include "core/common/format.h"

namespace dype::sampling {

at::Tensor pack_latent(const at::Tensor& latent) {
  if (latent.dim() != 4 || latent.size(2) % 2 != 0 || latent.size(3) % 2 != 0)
    throw InvalidArgument("pack_latent: expected [B, C, h, w] with even h and w, got " + shape_str(latent.sizes()));
  const std::int64_t b = latent.size(0), c = latent.size(1), h = latent.size(2), w = latent.size(3);
  return latent
      .view({b, c, h / 2, 2, w / 2, 2})         // [B, C, r, py, c, px]
      .permute({0, 2, 4, 1, 3, 5})              // [B, r, c, C, py, px]
      .reshape({b, (h / 2) * (w / 2), c * 4});  // [B, L_img, C*4]
}

at::Tensor unpack_latent(const at::Tensor& tokens, std::int64_t h, std::int64_t w) {
  if (tokens.dim() != 3 || h % 2 != 0 || w % 2 != 0 || tokens.size(1) != (h / 2) * (w / 2) || tokens.size(2) % 4 != 0)
    throw InvalidArgument("unpack_latent: tokens " + shape_str(tokens.sizes()) + " do not form a " + std::to_string(h) +
                          "x" + std::to_string(w) + " latent");
  const std::int64_t b = tokens.size(0), c = tokens.size(2) / 4;
  return tokens
      .reshape({b, h / 2, w / 2, c, 2, 2})  // [B, r, c, C, py, px]
      .permute({0, 3, 1, 4, 2, 5})          // [B, C, r, py, c, px]
      .reshape({b, c, h, w});               // [B, C, h, w]
}

at::Tensor image_ids(std::int64_t batch, std::int64_t h, std::int64_t w) {
  const std::int64_t rows = h / 2, cols = w / 2;
  auto opts = at::TensorOptions().dtype(at::kFloat);
  at::Tensor ids = at::zeros({rows, cols, 3}, opts);  // [r, c, 3]
  ids.select(2, 1).copy_(at::arange(rows, opts).unsqueeze(1).expand({rows, cols}));
  ids.select(2, 2).copy_(at::arange(cols, opts).unsqueeze(0).expand({rows, cols}));
  return ids.reshape({1, rows * cols, 3}).expand({batch, rows * cols, 3}).contiguous();  // [B, L_img, 3]
}

at::Tensor text_ids(std::int64_t batch, std::int64_t length) {
  return at::zeros({batch, length, 3}, at::TensorOptions().dtype(at::kFloat));  // [B, L_txt, 3]
}

}  // namespace dype::sampling
