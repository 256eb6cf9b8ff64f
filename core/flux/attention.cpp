#include "core/flux/attention.h"

#include <torch/version.h>

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "core/flux/embed_nd.h"

#define DYPE_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace dype::flux {

namespace {
void check_qkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || q.size(0) != k.size(0) || q.size(1) != k.size(1) ||
      q.size(3) != k.size(3) || k.sizes() != v.sizes())
    throw InvalidArgument(
        "attention: q, k, v must be [B, H, L, D] with matching B, H, D and k, v of equal shape; got q " +
        std::string(c10::str(q.sizes())) + ", k " + c10::str(k.sizes()) + ", v " + c10::str(v.sizes()));
}
}  // namespace

std::string attention_backend(const at::Device& device) {
#if DYPE_TORCH_AT_LEAST(2, 2)
  (void)device;
  return "sdpa";
#elif DYPE_TORCH_AT_LEAST(2, 0)
  return device.is_cuda() ? "sdpa" : "chunked";
#else
  (void)device;
  return "chunked";
#endif
}

at::Tensor scaled_dot_product_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      std::int64_t max_score_bytes) {
  check_qkv(q, k, v);
  const std::int64_t B = q.size(0), H = q.size(1), Lq = q.size(2), Lk = k.size(2), D = q.size(3);
  const bool low_precision = q.scalar_type() == at::kHalf || q.scalar_type() == at::kBFloat16;
  // A chunk holds the scores and their softmax (float32 when the compute dtype is narrower).
  const std::int64_t bytes_per_row = B * H * Lk * 4 * (low_precision ? 3 : 2);
  const std::int64_t rows =
      std::max<std::int64_t>(1, std::min(Lq, max_score_bytes / std::max<std::int64_t>(1, bytes_per_row)));
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  const at::Tensor kt = k.transpose(-2, -1);  // [B, H, D, Lk]
  at::Tensor out = at::empty({B, H, Lq, v.size(3)}, q.options());
  for (std::int64_t start = 0; start < Lq; start += rows) {
    const std::int64_t n = std::min(rows, Lq - start);
    at::Tensor scores = at::matmul(q.narrow(2, start, n), kt);  // [B, H, n, Lk]
    scores.mul_(scale);
    at::Tensor p = low_precision ? at::softmax(scores, -1, at::kFloat).to(q.scalar_type()) : at::softmax(scores, -1);
    scores.reset();
    out.narrow(2, start, n).copy_(at::matmul(p, v));  // [B, H, n, D]
  }
  return out;
}

at::Tensor scaled_dot_product(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              std::int64_t max_score_bytes) {
  check_qkv(q, k, v);
#if DYPE_TORCH_AT_LEAST(2, 0)
  if (attention_backend(q.device()) == "sdpa") return at::scaled_dot_product_attention(q, k, v);
#endif
  return scaled_dot_product_chunked(q, k, v, max_score_bytes);
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& pe) {
  const at::Tensor qr = apply_rope(q, pe), kr = apply_rope(k, pe);                        // [B, H, L, D]
  const at::Tensor x = scaled_dot_product(qr, kr, v);                                     // [B, H, L, D]
  return x.permute({0, 2, 1, 3}).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});  // [B, L, H*D]
}

}  // namespace dype::flux
