// apply_rope (declared in core/flux/embed_nd.h, next to the table it consumes).
#include "core/common/error.h"
#include "core/flux/embed_nd.h"

namespace dype::flux {

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& pe) {
  if (x.dim() != 4 || x.size(3) % 2 != 0)
    throw InvalidArgument("apply_rope: x must be [B, H, L, D] with even D; got " + std::string(c10::str(x.sizes())));
  const std::int64_t B = x.size(0), H = x.size(1), L = x.size(2), D = x.size(3);
  if (pe.dim() != 6 || (pe.size(0) != B && pe.size(0) != 1) || pe.size(1) != 1 || pe.size(2) != L ||
      pe.size(3) != D / 2 || pe.size(4) != 2 || pe.size(5) != 2)
    throw InvalidArgument("apply_rope: pe " + std::string(c10::str(pe.sizes())) + " does not fit x " +
                          c10::str(x.sizes()) + " (expected [" + std::to_string(B) + ", 1, " + std::to_string(L) +
                          ", " + std::to_string(D / 2) + ", 2, 2])");
  // Pairs (x0, x1) = (x[2j], x[2j+1]); out[j][r] = pe[j][r][0]·x0 + pe[j][r][1]·x1, in float32 (BFL order).
  const at::Tensor xf = x.to(at::kFloat).reshape({B, H, L, D / 2, 1, 2});  // [B, H, L, D/2, 1, 2]
  const at::Tensor pf = pe.to(x.device(), at::kFloat);                     // [B, 1, L, D/2, 2, 2]
  const at::Tensor out =
      pf.select(-1, 0) * xf.select(-1, 0) + pf.select(-1, 1) * xf.select(-1, 1);  // [B, H, L, D/2, 2]
  return out.reshape({B, H, L, D}).to(x.scalar_type());
}

}  // namespace dype::flux
