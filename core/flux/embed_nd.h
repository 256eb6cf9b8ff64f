#pragma once
// FLUX's N-axis rotary position embedding (BFL `EmbedND`) with DyPE: the frequencies of every axis come from
// core/dype for the current DyPE time t, so the table changes per denoising step and is built once per step,
// then shared by all blocks (and by every sample of a batch).
#include <ATen/ATen.h>

#include <vector>

#include "core/dype/rope_frequencies.h"

namespace dype::flux {

// ids: [B, L, 3] positions (text first, then image; see golden README "Latent noise, packing and ids").
// Returns pe: [B, 1, L, sum(axes_dim)/2, 2, 2] float32 on ids' device; block = m·[[cos, −sin], [sin, cos]].
// Angles are computed in float64 (positions × ω), cos/sin then rounded to float32. The per-axis extent used for
// DyPE is max(id) + 1 over all tokens. `used`, when given, receives the frequencies that were applied.
at::Tensor embed_nd(const at::Tensor& ids, const DypeConfig& cfg, const RopeGeometry& geo, double t,
                    std::vector<AxisFrequencies>* used = nullptr);

// embed_nd writing into `pe`, which is reused when it already is a contiguous float32 tensor of the result's shape
// on ids' device and (re)allocated otherwise. Keeping the table between steps saves re-allocating (and
// page-faulting) about 68 MB per step at 4096².
void embed_nd_into(at::Tensor& pe, const at::Tensor& ids, const DypeConfig& cfg, const RopeGeometry& geo, double t,
                   std::vector<AxisFrequencies>* used = nullptr);

// Applies pe to q or k: x [B, H, L, D] (any float dtype), pe [B, 1, L, D/2, 2, 2] float32. The rotation is
// computed in float32 and cast back to x's dtype (BFL `apply_rope`).
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& pe);

}  // namespace dype::flux
