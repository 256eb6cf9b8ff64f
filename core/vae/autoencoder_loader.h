#pragma once
// Building an AutoEncoder from a checkpoint on disk, or with random weights for the demo model.
//
// Accepted layouts (detected from the tensor names, never from the file name):
//   BFL / ComfyUI single file  `ae.safetensors`: keys encoder.* / decoder.* exactly as the modules name them
//                              (a common prefix such as `first_stage_model.` or `vae.` is stripped). The
//                              architecture is inferred from the shapes; scale/shift are FLUX's (0.3611, 0.1159),
//                              so such a file must have 16 latent channels.
//   diffusers `vae/` folder    config.json (AutoencoderKL) + diffusion_pytorch_model.safetensors. Names are mapped
//                              onto BFL's: up_blocks.i -> up.(N-1-i) (reversed order), resnets.j -> block.j,
//                              mid_block.resnets.0/1 -> mid.block_1/2, attentions.0.{group_norm, to_q, to_k,
//                              to_v, to_out.0} -> attn_1.{norm, q, k, v, proj_out} (Linear [C, C] reshaped to the
//                              1x1 conv [C, C, 1, 1]), conv_shortcut -> nin_shortcut, conv_norm_out -> norm_out,
//                              downsamplers.0 / upsamplers.0 -> downsample / upsample. A lone diffusers-layout
//                              .safetensors file (no config.json) is inferred from its shapes like a BFL file.
// Any missing, mis-shaped or unexpected tensor is a ModelError that lists them all and names the file.
#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/io/tensor_store.h"
#include "core/vae/autoencoder.h"

namespace dype::vae {

// `path`: an ae.safetensors-style file, a diffusers vae/ folder, or a diffusers model folder (model_index.json),
// whose vae/ is used. Weights are converted to `dtype` on `device` at load (zero-copy when the file already
// stores `dtype` and the device is the CPU). Throws IoError, FormatError, ModelError.
AutoEncoder load_autoencoder(const std::string& path, at::ScalarType dtype = at::kFloat, at::Device device = at::kCPU);

// The demo model: every parameter drawn by io::RandomWeights from `seed` (same seed, same weights).
AutoEncoder make_random_autoencoder(const AutoEncoderConfig& cfg, std::uint64_t seed, at::ScalarType dtype = at::kFloat,
                                    at::Device device = at::kCPU);

// diffusers vae/config.json -> config. Throws ModelError (naming `label`) for a model this decoder cannot run
// (not an AutoencoderKL, other block types, no mid attention, activation other than silu).
AutoEncoderConfig config_from_diffusers(const nlohmann::json& config, const std::string& label);

// Infers ch, ch_mult, num_res_blocks, z/in/out channels from the tensor shapes of `store` (either layout);
// scale/shift are FLUX's. Throws ModelError naming the store when the shapes do not form a BFL autoencoder.
AutoEncoderConfig infer_autoencoder_config(const io::TensorStore& store);

// The diffusers name of a BFL parameter name (e.g. "decoder.up.3.block.0.conv1.weight" ->
// "decoder.up_blocks.0.resnets.0.conv1.weight" for 4 levels); "" for a name with no diffusers counterpart.
// Attention weights map to the current diffusers names (to_q, to_k, to_v, to_out.0).
std::string diffusers_vae_name(const std::string& bfl_name, int num_resolutions);

}  // namespace dype::vae
