#pragma once
// Hyper-parameters of a FLUX.1 transformer (BFL `FluxParams`). They come from a diffusers `transformer/config.json`
// when one is present, otherwise they are inferred from the tensor shapes of the checkpoint (DESIGN.md §3).
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/dype/rope_frequencies.h"

namespace dype::flux {

struct FluxConfig {
  std::int64_t in_channels = 64;  // packed latent features per token (16 channels × 2×2 patch)
  std::int64_t out_channels = 64;
  std::int64_t vec_in_dim = 768;       // CLIP pooled size
  std::int64_t context_in_dim = 4096;  // T5 hidden size
  std::int64_t hidden_size = 3072;
  double mlp_ratio = 4.0;
  std::int64_t num_heads = 24;
  std::int64_t depth = 19;                // double-stream blocks
  std::int64_t depth_single_blocks = 38;  // single-stream blocks
  std::vector<std::int64_t> axes_dim{16, 56, 56};
  double theta = 10000.0;
  bool qkv_bias = true;
  bool guidance_embed = true;  // dev: yes, schnell: no

  static FluxConfig dev();
  static FluxConfig schnell();

  std::int64_t head_dim() const { return num_heads > 0 ? hidden_size / num_heads : 0; }
  std::int64_t mlp_hidden_dim() const {
    return static_cast<std::int64_t>(static_cast<double>(hidden_size) * mlp_ratio);
  }
  RopeGeometry rope_geometry() const { return RopeGeometry{theta, axes_dim}; }
  // Number of parameters of the model this config describes (weights + biases + norm scales).
  std::int64_t parameter_count() const;

  // Throws ModelError naming the offending numbers when the config cannot describe a FLUX transformer
  // (hidden not divisible by heads, axes not summing to the head dim, odd axis, non-positive sizes, ...).
  // `source` (file name) is put in the message.
  void validate(const std::string& source = "") const;
  // One line, e.g. "hidden 3072, 24 heads × 128, 19 double + 38 single blocks, context 4096, vec 768, guidance".
  std::string describe() const;

  bool operator==(const FluxConfig& o) const;
  bool operator!=(const FluxConfig& o) const { return !(*this == o); }
};

// From a diffusers FluxTransformer2DModel config.json (num_layers, num_single_layers, attention_head_dim,
// num_attention_heads, joint_attention_dim, pooled_projection_dim, in_channels, out_channels, guidance_embeds,
// axes_dims_rope, patch_size). Missing fields keep FLUX.1-dev's values; `source` names the file in errors.
// Throws ModelError for an unsupported config (patch_size != 1, wrong types).
FluxConfig flux_config_from_diffusers(const nlohmann::json& j, const std::string& source);

// Shape of a tensor by its BFL name (e.g. "img_in.weight"), or nullopt when the checkpoint has none.
using ShapeLookup = std::function<std::optional<std::vector<std::int64_t>>(const std::string& bfl_name)>;

// Infers the config from tensor shapes: hidden and in_channels from img_in.weight, out_channels from
// final_layer.linear.weight, depths by counting blocks, head dim from a query_norm.scale, heads = hidden / head
// dim, context/vec dims from txt_in / vector_in.in_layer, guidance_embed iff guidance_in.* exists, mlp ratio
// from img_mlp.0 (or single linear1), axes = head_dim·[1/8, 7/16, 7/16], theta 10000. The result is validated.
FluxConfig infer_flux_config(const ShapeLookup& shape_of, const std::string& source);

}  // namespace dype::flux
