#pragma once
// A weight as its file stores it, and the recipe that turns it into compute values (DESIGN.md §4: weights live in
// memory in the dtype of their file — memory-mapped where possible — and become the compute dtype one layer at a
// time, just before use).
//
// Three stored forms reach a layer:
//   - a LibTorch dtype (f32, bf16, f16; float8 on LibTorch >= 2.1): converted with Tensor::to;
//   - float8 codes as raw bytes (kByte) where LibTorch has no float8 type (1.13): decoded through a 256-entry
//     table, exactly (`codes` names the format: e4m3fn or e5m2);
//   - either of the above with a ComfyUI scale (scaled fp8: w = fp8 · scale), a float32 scalar or one value per
//     output row.
// Decoding and scaling happen in one pass over the weight, so a layer costs one temporary of its compute size.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "core/io/dtype.h"

namespace dype::io {

struct StoredWeight {
  StoredWeight() = default;
  StoredWeight(at::Tensor plain) : data(std::move(plain)) {}  // NOLINT: a plain tensor is a stored weight

  at::Tensor data;             // as stored; kByte float8 codes when `codes` is set
  std::optional<DType> codes;  // F8_E4M3 / F8_E5M2: `data` holds raw float8 bytes
  at::Tensor scale;            // float32 [] or [rows]; undefined: none

  bool defined() const { return data.defined(); }
  // The weight in `dtype` on `device`. No copy when the stored tensor already is exactly that (unscaled).
  at::Tensor to(at::ScalarType dtype, at::Device device) const;
  // The same for a layer that uses its weight once and drops it (a Linear's matmul): on the CPU a converted weight
  // is written into this thread's scratch buffer, which every such call reuses, so a model converting one layer
  // at a time holds one buffer of its largest layer instead of a cached block for every layer size (FLUX.1:
  // 264 MiB instead of about 1 GiB). The result is valid until the next to_transient call on this thread.
  // While training (data.requires_grad() and grad mode on) it is the differentiable to() instead, never the scratch.
  at::Tensor to_transient(at::ScalarType dtype, at::Device device) const;
  // The rows `index` (1-D int64) of a 2-D weight, still in stored form (an embedding lookup decodes only these).
  StoredWeight rows(const at::Tensor& index) const;
  // Rows [start, start + length) of the weight (and of a per-row scale), still in stored form.
  StoredWeight narrow_rows(std::int64_t start, std::int64_t length) const;
  // Bytes held in memory (data + scale).
  std::uint64_t nbytes() const;
};

// `parts` stacked along dim 0 (diffusers to_q / to_k / to_v -> BFL qkv), copied once in stored form. Parts must
// agree on stored dtype, float8 format and trailing shape (InvalidArgument otherwise). Scales: none when no part
// has one, the common value when all are equal single values, else one per row (a part without a scale counts 1).
StoredWeight concat_rows(const std::vector<StoredWeight>& parts);

// Float8 codes (kByte, any shape, CPU) decoded to `dtype` (float32, bfloat16 or float16), multiplied by `scale`
// (undefined, a scalar, or one value per row of dim 0) when given. Exact for the codes; the scale multiply is one
// float32 rounding, as `fp8.to(float32) * scale`. Runs on all intra-op threads.
at::Tensor decode_float8(const at::Tensor& codes, DType format, at::ScalarType dtype = at::kFloat,
                         const at::Tensor& scale = {});
// The same into `out` (contiguous, CPU, the shape of `codes`, float32 / bfloat16 / float16).
void decode_float8_into(const at::Tensor& codes, DType format, at::Tensor& out, const at::Tensor& scale = {});

// Frees this thread's to_transient scratch buffer (the pipeline calls it when a run ends).
void release_weight_scratch();

}  // namespace dype::io
