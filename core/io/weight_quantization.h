#pragma once
// Reading a weight together with its quantisation: the ComfyUI "scaled fp8" conventions.
//
// Two published forms (both: float8 weights, dequantised as w = fp8 · scale; ComfyUI computes the same when it
// does not use an fp8 matmul):
//   - legacy: a `scaled_fp8` marker tensor (empty, of the file's float8 dtype) and, per quantised layer,
//     `X.scale_weight` (float32 scalar), optionally `X.scale_input` (activation scale, for fp8 matmuls only);
//   - newer ("comfy_quant"): `X.weight_scale` (float32 scalar), optionally `X.input_scale`, with the format named
//     per layer in `X.comfy_quant` (JSON bytes, {"format": "float8_e4m3fn"}) and/or in the file metadata
//     `_quantization_metadata` ({"format_version": ..., "layers": {X: {"format": ...}}}).
// Scales are accepted per tensor (one value) or per output row ([rows] or [rows, 1]). Anything else — block-wise
// scales, two-level scales (`weight_scale_2`), int8 / nvfp4 / mxfp8 layers, bitsandbytes or GPTQ tensors — is
// refused with an error that names the file and the tensor, instead of computing with numbers it misreads.
#include <string>
#include <vector>

#include "core/io/stored_weight.h"
#include "core/io/tensor_store.h"

namespace dype::io {

enum class ScaledFp8Form { None, Legacy, ComfyQuant };
const char* scaled_fp8_form_name(ScaledFp8Form form);  // "none", "scaled fp8 (legacy)", "comfy_quant"

// Checks the quantisation description of the tensors under `prefix` (the component's keys) and says which form
// it uses. Throws FormatError for: `scale_weight` tensors without a `scaled_fp8` marker, a layer format this
// version does not compute (comfy_quant or _quantization_metadata), a scale beside an integer weight,
// and quantisation tensors of other schemes (named in the message).
ScaledFp8Form check_quantization(const TensorStore& store, const std::string& prefix);

// The weight stored under `key` in stored form (see StoredWeight), with its scale when the file has one. Appends
// every key it used (the weight, its scale, its per-layer description) to `consumed`. Throws FormatError when a
// scale's shape fits neither one value nor one per row of the weight.
StoredWeight read_stored_weight(const TensorStore& store, const std::string& key, std::vector<std::string>& consumed);

// Tensors that describe quantisation rather than hold parameters (`scaled_fp8`, `X.scale_input`, `X.input_scale`,
// `X.comfy_quant`): a model that uses its weights has no parameter for them.
bool is_quantization_aux(const std::string& name);
// A weight's scale (`X.scale_weight`, `X.weight_scale`): a parameter of the file, not of the model.
bool is_weight_scale(const std::string& name);

}  // namespace dype::io
