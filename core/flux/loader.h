#pragma once
// Loading a FLUX.1 transformer from a checkpoint, strictly (every tensor used, every shape checked, one error that
// lists all problems), at its final dtype without an intermediate random model.
//
// Accepted inputs (`path`):
//   - a BFL / ComfyUI single file (`flux1-dev.safetensors`, keys `img_in.weight`, `double_blocks.N...`), also with a
//     prefix such as `model.diffusion_model.` (full ComfyUI checkpoints; other components in the file are ignored);
//   - a diffusers `transformer/` folder (config.json + diffusion_pytorch_model.safetensors, or shards with a
//     `*.safetensors.index.json`), a diffusers model folder (model_index.json; its transformer/ is used), or one
//     diffusers-key file. diffusers names are mapped onto BFL ones at load: to_q/to_k/to_v -> qkv (concatenated),
//     single blocks to_q/to_k/to_v/proj_mlp -> linear1, norm_out.linear -> final_layer.adaLN_modulation.1 with its
//     (scale, shift) halves swapped to BFL's (shift, scale), etc.
// The config comes from an explicit argument, else the diffusers config.json, else the tensor shapes.
#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/flux/config.h"
#include "core/flux/model.h"
#include "core/io/tensor_store.h"

namespace dype::flux {

enum class FluxLayout { BFL, Diffusers };
const char* layout_name(FluxLayout layout);  // "BFL", "diffusers"

struct FluxLoadOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype: float32, bfloat16 or float16
  at::Device device = at::kCPU;
  // Keep bf16 / fp16 / fp8 weights in their stored dtype and upcast per layer at use (saves memory when the
  // compute dtype is wider); otherwise they are converted to `dtype` while loading. A weight already stored in
  // `dtype` on the CPU is never copied (the parameter is a view of the memory-mapped file).
  bool keep_storage_dtype = false;
  std::optional<FluxConfig> config;  // overrides config.json / inference
};

struct FluxCheckpointInfo {
  FluxLayout layout = FluxLayout::BFL;
  std::string prefix;  // key prefix stripped, e.g. "model.diffusion_model." ("" when none)
  FluxConfig config;
  std::string config_source;  // path of config.json, "tensor shapes" or "explicit"
  std::string label;          // what was opened
};

// Looks at the tensor names only (cheap). Throws ModelError when `store` is not a FLUX transformer checkpoint,
// saying what it looks like instead (autoencoder, CLIP, T5, ...).
FluxCheckpointInfo inspect_flux_checkpoint(const io::TensorStore& store,
                                           const std::optional<std::string>& config_json = std::nullopt);

// Opens the checkpoint at `path` (see above) without reading weights; `config_json` receives the diffusers
// config.json that belongs to it, if any. Throws IoError / FormatError.
std::shared_ptr<const io::TensorStore> open_flux_checkpoint(const std::string& path,
                                                            std::optional<std::string>* config_json);

// How one BFL tensor is assembled from diffusers tensors: taken as is, its diffusers parts stacked along dim 0 in
// the order of `names` (to_q/to_k/to_v -> qkv; + proj_mlp -> single-block linear1), or its two halves of rows
// swapped (norm_out.linear's (scale, shift) -> final_layer.adaLN_modulation.1's (shift, scale)). Also used to map
// diffusers LoRA keys onto our layers (core/flux/lora.cpp).
enum class DiffusersAssembly { Direct, Concat, SwapHalves };
struct DiffusersSource {
  std::vector<std::string> names;  // diffusers tensor names, without a store prefix
  DiffusersAssembly assembly = DiffusersAssembly::Direct;
};
// The diffusers tensors the BFL tensor `bfl` (e.g. "double_blocks.3.img_attn.qkv.weight") comes from; empty
// names when it has no diffusers counterpart.
DiffusersSource diffusers_source(const std::string& bfl);

// Loads the transformer at `path` (see above). Throws IoError / FormatError (files) or ModelError (content).
Flux load_flux(const std::string& path, const FluxLoadOptions& options = {}, FluxCheckpointInfo* info = nullptr);

// Same from an opened store (a test can then see that parameters are views of the store's mapping).
// `config_json`: a diffusers config.json to read the config from.
Flux load_flux(std::shared_ptr<const io::TensorStore> store, const FluxLoadOptions& options = {},
               FluxCheckpointInfo* info = nullptr, const std::optional<std::string>& config_json = std::nullopt);

}  // namespace dype::flux
