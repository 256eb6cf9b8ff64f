#pragma once
// Fused QK-RMSNorm + RoPE for FLUX attention: one CUDA kernel reads q and k once (straight from the qkv
// projection's output, whatever its strides), normalises each head row (RMSNorm with its learnable scale),
// rotates it with the BFL pe table and writes it once into the layout attention wants. The unfused LibTorch path
// (core/flux: RMSNorm, .to(v), cat, apply_rope) makes about a dozen passes over q and k.
//
// This header and the .cu behind it are plain C++/CUDA (no ATen, no torch headers): the kernels build with nvcc
// on any machine, also where LibTorch is CPU-only. ATen-level entry points are in core/cuda/fused_ops.h.
//
// Semantics, per (b, h, l) row x of head_dim D (T = element type; round_T = round to nearest even in T):
//   rrms = rsqrt(mean(float(x)²) + eps)                       (float32)
//   y    = round_T(round_T(float(x)·rrms) · round_T(scale))     (BFL RMSNorm: back to T before the scale)
//   out[2j+r] = round_T(pe[j][r][0]·y[2j] + pe[j][r][1]·y[2j+1])   (float32, each product rounded: BFL apply_rope)
// For float32 every round_T is the identity.
#include <cstdint>

namespace dype::cuda {

enum class ElementType : int { F32 = 0, BF16 = 1, F16 = 2 };

// Strides are in elements; the head_dim axis must be contiguous (stride 1).
struct RowStrides {
  std::int64_t batch = 0, head = 0, token = 0;
};

struct QkNormRopeParams {
  ElementType dtype = ElementType::F32;  // q, k, q_out, k_out
  std::int64_t batch = 0, heads = 0, tokens = 0, head_dim = 0;
  const void* q = nullptr;  // input rows, strides `in` (q and k share them: both come from one qkv buffer)
  const void* k = nullptr;
  RowStrides in;
  void* q_out = nullptr;  // output rows, strides `out` (may alias q / k with equal strides: in place)
  void* k_out = nullptr;
  RowStrides out;
  const void* q_scale = nullptr;  // [head_dim], contiguous
  const void* k_scale = nullptr;
  bool scale_is_f32 = true;          // scales stored as float32 (else as `dtype`)
  const float* pe = nullptr;         // row (b, l) at pe + b·pe_batch_stride + l·2·head_dim; [D/2, 2, 2] per row
  std::int64_t pe_batch_stride = 0;  // 0: one table shared by the whole batch
  float eps = 1e-6f;
};

// Whether the kernels support this head_dim: 64, 128 or 256 (FLUX uses 128, the tiny test model 64), so that
// every lane of a warp owns whole rotation pairs and a power-of-two vector of elements.
inline bool qk_norm_rope_supports_head_dim(std::int64_t head_dim) {
  return head_dim == 64 || head_dim == 128 || head_dim == 256;
}

// Validates `p` (throws dype::InvalidArgument naming the bad value) and enqueues the kernel on `stream`
// (a cudaStream_t; nullptr = the legacy default stream). Throws dype::Error with the CUDA message when the
// launch fails. Asynchronous: errors inside the kernel surface at the next synchronisation.
void launch_qk_norm_rope(const QkNormRopeParams& p, void* stream);

}  // namespace dype::cuda
