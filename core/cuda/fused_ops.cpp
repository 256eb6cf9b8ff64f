#include "core/cuda/fused_ops.h"

#include <string>

#include "core/common/error.h"
#include "core/cuda/qk_norm_rope.h"
#if DYPE_WITH_CUDA_KERNELS
#include "core/cuda/aten/cuda_glue.h"
#endif

namespace dype::cuda {

namespace {

std::string shape(const at::Tensor& t) { return c10::str(t.sizes()); }

bool element_type(at::ScalarType s, ElementType* out) {
  switch (s) {
    case at::kFloat: *out = ElementType::F32; return true;
    case at::kBFloat16: *out = ElementType::BF16; return true;
    case at::kHalf: *out = ElementType::F16; return true;
    default: return false;
  }
}

// pe [B or 1, 1, L, D/2, 2, 2] float32 with each token's D/2×2×2 floats contiguous.
bool pe_rows_contiguous(const at::Tensor& pe) {
  return pe.dim() == 6 && pe.stride(5) == 1 && pe.stride(4) == 2 && pe.stride(3) == 4 && pe.stride(2) == 4 * pe.size(3);
}

RowStrides row_strides(const at::Tensor& t) { return RowStrides{t.stride(0), t.stride(1), t.stride(2)}; }

void check_args(const at::Tensor& q, const at::Tensor& k, const at::Tensor& q_scale, const at::Tensor& k_scale,
                const at::Tensor& pe, const at::Tensor& q_out, const at::Tensor& k_out) {
  if (!fused_qk_norm_rope_supported(q, pe))
    throw InvalidArgument("fused_qk_norm_rope: not available for q " + shape(q) + " (" +
                          std::string(c10::toString(q.scalar_type())) + ", " + q.device().str() + ") with pe " +
                          shape(pe) + (fused_kernels_built() ? "" : "; this build has no CUDA kernels") +
                          "; check fused_qk_norm_rope_supported() first");
  const std::int64_t B = q.size(0), L = q.size(2), D = q.size(3);
  if (k.sizes() != q.sizes() || k.strides() != q.strides() || k.scalar_type() != q.scalar_type() ||
      k.device() != q.device())
    throw InvalidArgument("fused_qk_norm_rope: k " + shape(k) + " must match q " + shape(q) +
                          " in shape, strides, dtype and device");
  for (const at::Tensor* o : {&q_out, &k_out}) {
    if (o->sizes() != q.sizes() || o->scalar_type() != q.scalar_type() || o->device() != q.device() ||
        o->stride(3) != 1)
      throw InvalidArgument("fused_qk_norm_rope: output " + shape(*o) + " must be " + shape(q) +
                            " with q's dtype and device and a contiguous last dim");
  }
  if (q_out.strides() != k_out.strides())
    throw InvalidArgument("fused_qk_norm_rope: q_out and k_out must have equal strides");
  for (const at::Tensor* s : {&q_scale, &k_scale}) {
    if (s->dim() != 1 || s->size(0) != D || !s->is_contiguous() || s->device() != q.device() ||
        (s->scalar_type() != at::kFloat && s->scalar_type() != q.scalar_type()))
      throw InvalidArgument("fused_qk_norm_rope: scales must be contiguous [" + std::to_string(D) +
                            "] tensors (float32 or q's dtype) on q's device; got " + shape(*s) + " " +
                            c10::toString(s->scalar_type()));
  }
  if (q_scale.scalar_type() != k_scale.scalar_type())
    throw InvalidArgument("fused_qk_norm_rope: q_scale and k_scale must have the same dtype");
  if ((pe.size(0) != B && pe.size(0) != 1) || pe.size(1) != 1 || pe.size(2) != L || pe.size(3) != D / 2 ||
      pe.size(4) != 2 || pe.size(5) != 2)
    throw InvalidArgument("fused_qk_norm_rope: pe " + shape(pe) + " does not fit q " + shape(q) + " (expected [" +
                          std::to_string(B) + ", 1, " + std::to_string(L) + ", " + std::to_string(D / 2) + ", 2, 2])");
}

}  // namespace

bool fused_kernels_built() {
#if DYPE_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

bool fused_qk_norm_rope_supported(const at::Tensor& q, const at::Tensor& pe) {
  ElementType et;
  return fused_kernels_built() && q.defined() && pe.defined() && q.is_cuda() && q.dim() == 4 &&
         element_type(q.scalar_type(), &et) && qk_norm_rope_supports_head_dim(q.size(3)) && q.stride(3) == 1 &&
         pe.device() == q.device() && pe.scalar_type() == at::kFloat && pe_rows_contiguous(pe);
}

void fused_qk_norm_rope_out(const at::Tensor& q, const at::Tensor& k, const at::Tensor& q_scale,
                            const at::Tensor& k_scale, const at::Tensor& pe, const at::Tensor& q_out,
                            const at::Tensor& k_out, double eps) {
  check_args(q, k, q_scale, k_scale, pe, q_out, k_out);
  QkNormRopeParams p;
  element_type(q.scalar_type(), &p.dtype);
  p.batch = q.size(0), p.heads = q.size(1), p.tokens = q.size(2), p.head_dim = q.size(3);
  p.q = q.data_ptr(), p.k = k.data_ptr(), p.in = row_strides(q);
  p.q_out = q_out.data_ptr(), p.k_out = k_out.data_ptr(), p.out = row_strides(q_out);
  p.q_scale = q_scale.data_ptr(), p.k_scale = k_scale.data_ptr();
  p.scale_is_f32 = q_scale.scalar_type() == at::kFloat;
  p.pe = pe.data_ptr<float>();
  p.pe_batch_stride = pe.size(0) == 1 ? 0 : pe.stride(0);
  p.eps = static_cast<float>(eps);
#if DYPE_WITH_CUDA_KERNELS
  detail::launch_qk_norm_rope_on_current_stream(p, q.device().index());
#endif
}

std::pair<at::Tensor, at::Tensor> fused_qk_norm_rope(const at::Tensor& q, const at::Tensor& k,
                                                     const at::Tensor& q_scale, const at::Tensor& k_scale,
                                                     const at::Tensor& pe, double eps) {
  if (!fused_qk_norm_rope_supported(q, pe)) check_args(q, k, q_scale, k_scale, pe, q, k);  // throws the message
  at::Tensor q_out = at::empty(q.sizes(), q.options().memory_format(at::MemoryFormat::Contiguous));
  at::Tensor k_out = at::empty(k.sizes(), k.options().memory_format(at::MemoryFormat::Contiguous));
  fused_qk_norm_rope_out(q, k, q_scale, k_scale, pe, q_out, k_out, eps);
  return {q_out, k_out};
}

}  // namespace dype::cuda
