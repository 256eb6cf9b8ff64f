#pragma once
// Joint attention of FLUX (BFL `flux/math.py`): RoPE on q and k, softmax(q·kᵀ/√D)·v, heads merged.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace dype::flux {

// q, k, v: [B, H, L, D] -> [B, H, L, D]. Uses at::scaled_dot_product_attention where LibTorch has it and it does
// not build an L×L matrix (CUDA from LibTorch 2.0, CPU from 2.2: flash / memory-efficient kernels); otherwise the
// reference math path over chunks of queries so that the score block of one chunk stays within
// `max_score_bytes` (66,048 tokens never materialise a full L×L matrix). Softmax runs in float32 for bf16/fp16.
at::Tensor scaled_dot_product(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              std::int64_t max_score_bytes = 256ll << 20);

// The chunked math path alone (used by scaled_dot_product; public so tests can compare both paths).
at::Tensor scaled_dot_product_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      std::int64_t max_score_bytes = 256ll << 20);

// Which kernel scaled_dot_product uses for tensors on `device` with this LibTorch ("sdpa" or "chunked").
std::string attention_backend(const at::Device& device);

// BFL attention(q, k, v, pe): apply_rope to q and k, attend, merge heads. q, k, v: [B, H, L, D],
// pe: [B, 1, L, D/2, 2, 2] float32 -> [B, L, H*D].
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& pe);

}  // namespace dype::flux
