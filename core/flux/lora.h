#pragma once
// LoRA for the FLUX transformer: reading adapter files and applying them at runtime beside the stored weights.
//
// Accepted key families (one file may mix them; every key must match a layer of the loaded model):
//   - BFL / ComfyUI: `diffusion_model.double_blocks.3.img_attn.qkv.lora_A.weight` / `.lora_B.weight` (or
//     `.lora_down.weight` / `.lora_up.weight`), also without a prefix or with `model.diffusion_model.`;
//   - kohya (sd-scripts): `lora_unet_double_blocks_3_img_attn_qkv.lora_down.weight` / `.lora_up.weight`, and the
//     diffusers-named variant `lora_transformer_transformer_blocks_3_attn_to_q.lora_down.weight`;
//   - diffusers / PEFT: `transformer.transformer_blocks.3.attn.to_q.lora_A.weight` / `.lora_B.weight`. Layers that
//     diffusers splits and we fuse (to_q / to_k / to_v -> qkv rows, single-block to_q / to_k / to_v / proj_mlp ->
//     linear1 rows) become adapters on a row range of our layer; norm_out.linear's (scale, shift) halves are swapped
//     as the loader swaps them.
// Any of them may carry `<stem>.alpha` (a scalar): the adapter is scaled by alpha / rank, else by 1.
//
// Runtime: y = W·x + b + Σ strength_i · (alpha_i / r_i) · B_i·(A_i·x) in every adapted Linear (layers.h). The
// model's weights stay as stored (bf16 / fp8), and adapters are replaced, re-weighted or removed with set_loras
// without reloading the model. Strength 0 drops an adapter entirely (the output is bit-identical to none).
// Merging into the weights at load is not implemented (it would need a full-precision copy of every adapted
// weight, which stored fp8 / bf16 weights do not have).
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/flux/model.h"

namespace dype::flux {

// One adapter of a file, matched onto one Linear of the model (strength-free).
struct LoraLayer {
  std::string module;          // our (BFL) module name: "double_blocks.3.img_attn.qkv"
  std::string key;             // the stem in the file: "transformer.transformer_blocks.3.attn.to_k"
  at::Tensor down, up;         // A [r, in], B [rows, r], on the CPU in the file's float dtype
  double alpha_scale = 1;      // alpha / r, or 1 without alpha
  std::int64_t row_start = 0;  // first output row of `module` that B writes
};

struct LoraFile {
  std::string path;
  std::string formats;    // key families found, e.g. "kohya" or "BFL + diffusers"
  std::int64_t rank = 0;  // largest rank in the file
  std::vector<LoraLayer> layers;
  std::uint64_t bytes() const;  // memory held by the adapters
};

// Reads the LoRA safetensors file at `path` and matches every key onto a Linear of `model` (whose config decides
// the row ranges of split diffusers layers). Throws IoError / FormatError (file) or ModelError: keys that match no
// layer of this model (all listed), an A without its B, shapes that do not fit the layer, a non-scalar alpha.
LoraFile load_lora(const std::string& path, const FluxImpl& model);

struct LoraAdapterSet {
  std::shared_ptr<const LoraFile> file;
  double strength = 1;
};

// Makes `loras` the model's adapters, replacing any set before (an empty list removes them all). Tensors are
// converted to the model's compute dtype and device once, here.
void set_loras(FluxImpl& model, const std::vector<LoraAdapterSet>& loras);

}  // namespace dype::flux
