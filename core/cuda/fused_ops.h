#pragma once
// ATen entry points of our own CUDA kernels (core/cuda/*.cu). Always compiled, so callers need no #if: on a build
// without the kernels (no nvcc, or a CPU-only LibTorch) the *_supported() checks return false and callers keep
// the plain LibTorch path. The CUDA side lives in core/cuda/aten/cuda_glue.cpp, compiled only against a LibTorch with
// CUDA.
#include <ATen/ATen.h>

#include <utility>

namespace dype::cuda {

// True when this build holds our kernels and a LibTorch with CUDA (both are needed to run them).
bool fused_kernels_built();

// Whether fused_qk_norm_rope can take q (and a k of the same shape, dtype and strides) with this pe: kernels built,
// q a CUDA float32/bf16/fp16 tensor [B, H, L, D] with a contiguous last dim and D in {64, 128, 256}, pe float32 on
// the same device with rows of D/2×2×2 contiguous floats. Cheap (no device work).
bool fused_qk_norm_rope_supported(const at::Tensor& q, const at::Tensor& pe);

// The fused equivalent of core/flux's QKNorm followed by apply_rope on q and k:
//   q' = apply_rope(RMSNorm_q(q), pe), k' = apply_rope(RMSNorm_k(k), pe)   (exact semantics: qk_norm_rope.h)
// q, k: [B, H, L, D] (views of the qkv projection are fine: any strides with a contiguous last dim, equal for q
// and k); q_scale, k_scale: [D] (float32 or q's dtype); pe: [B or 1, 1, L, D/2, 2, 2] float32.
// Returns q', k' as new contiguous [B, H, L, D] tensors in q's dtype. Throws InvalidArgument when
// fused_qk_norm_rope_supported() is false or shapes disagree.
std::pair<at::Tensor, at::Tensor> fused_qk_norm_rope(const at::Tensor& q, const at::Tensor& k,
                                                     const at::Tensor& q_scale, const at::Tensor& k_scale,
                                                     const at::Tensor& pe, double eps = 1e-6);

// Same, writing into q_out and k_out ([B, H, L, D] views with a contiguous last dim and equal strides, e.g. the
// token range [L0, L0 + L) of a joint [B, H, L_all, D] buffer: the double blocks write text and image rows of the
// joint sequence directly, without a cat). q_out / k_out may be q / k themselves (in place).
void fused_qk_norm_rope_out(const at::Tensor& q, const at::Tensor& k, const at::Tensor& q_scale,
                            const at::Tensor& k_scale, const at::Tensor& pe, const at::Tensor& q_out,
                            const at::Tensor& k_out, double eps = 1e-6);

}  // namespace dype::cuda
