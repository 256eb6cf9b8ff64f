#pragma once
// CLIP text encoder (Hugging Face CLIPTextModel semantics): token + position embeddings, pre-LayerNorm
// transformer layers with a causal mask and quick-GELU MLPs, final LayerNorm. FLUX uses its pooled output as
// the vector conditioning `y`. Parameters are registered under the HF keys (text_model.encoder.layers.N...).
//
//   auto clip = load_clip_text_model("models/clip_l.safetensors");   // or a diffusers text_encoder/ folder
//   ClipTextOutput out = clip->forward(ids);                          // ids [B, 77] int64
//   out.pooled                                                        // [B, hidden]
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/io/weights.h"
#include "core/text/text_checkpoint.h"
#include "core/text/text_layers.h"

namespace dype::text {

struct ClipTextConfig {
  std::int64_t vocab_size = 49408;
  std::int64_t hidden_size = 768;
  std::int64_t intermediate_size = 3072;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t max_positions = 77;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // or "gelu" (erf)
  // Hugging Face's pooling rule: with eos_token_id == 2 (the value in the OpenAI/FLUX configs) the pooled
  // position is argmax(ids) (the first EOS, EOS being the largest id); otherwise the first id == eos_token_id.
  std::int64_t eos_token_id = 2;

  // OpenAI CLIP ViT-L/14 text tower, as FLUX.1 uses it (clip_l).
  static ClipTextConfig clip_l() { return {}; }
  // From a Hugging Face config.json (CLIPTextModel / CLIPTextModelWithProjection, or a CLIPModel's
  // "text_config"). Throws ModelError naming `file` when it describes another kind of model.
  static ClipTextConfig from_json(const nlohmann::json& j, const std::string& file);
};

struct ClipTextOutput {
  at::Tensor last_hidden_state;  // [B, L, hidden]
  at::Tensor pooled;             // [B, hidden]
};

class ClipAttentionImpl : public torch::nn::Module {
 public:
  ClipAttentionImpl(const ClipTextConfig& c, io::WeightSource& src, const std::string& name);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& causal_mask);  // [B, L, D] -> [B, L, D]
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  std::int64_t num_heads;
};
TORCH_MODULE(ClipAttention);

class ClipEncoderLayerImpl : public torch::nn::Module {
 public:
  ClipEncoderLayerImpl(const ClipTextConfig& c, io::WeightSource& src, const std::string& name);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& causal_mask);
  LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  ClipAttention self_attn{nullptr};
  Linear fc1{nullptr}, fc2{nullptr};  // registered as mlp.fc1 / mlp.fc2
  bool quick_gelu;
};
TORCH_MODULE(ClipEncoderLayer);

class ClipTextModelImpl : public torch::nn::Module {
 public:
  // Takes every parameter from `src` (then calls src.finish(), which reports all missing / mis-shaped /
  // unexpected tensors at once as a ModelError).
  ClipTextModelImpl(const ClipTextConfig& config, io::WeightSource& src);

  // ids [B, L] integer (L <= max_positions; padding positions are computed like any other, as in the
  // reference). Runs in the dtype of the model's activations (TextEncoderOptions::dtype), on its device.
  // `capture`, when given, receives the residual stream: "embeddings", "layer0", "layer1", ...
  ClipTextOutput forward(const at::Tensor& ids, std::map<std::string, at::Tensor>* capture = nullptr);

  const ClipTextConfig& config() const { return config_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }

 private:
  ClipTextConfig config_;
  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  Embedding token_embedding{nullptr}, position_embedding{nullptr};
  torch::nn::ModuleList layers{nullptr};
  LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(ClipTextModel);

// Loads a CLIP text encoder from a ComfyUI single file (clip_l.safetensors; config inferred from the tensor
// shapes, extra keys such as text_projection / logit_scale / position_ids tolerated), a diffusers
// `text_encoder/` folder (config.json; sharded or not) or a file inside one. `config`, when given, overrides
// config.json / inference. Throws IoError / FormatError / ModelError naming the file (e.g. a T5 file given here).
ClipTextModel load_clip_text_model(const std::string& path, const TextEncoderOptions& options = {},
                                   const std::optional<ClipTextConfig>& config = std::nullopt);

// The configuration a checkpoint implies: head count follows the published CLIP text towers (head_dim 64:
// 512/8, 768/12, 1024/16, 1280/20); narrower test models (hidden < 512, e.g. the golden tiny-dev set) use
// head_dim 32.
ClipTextConfig infer_clip_text_config(const io::TensorStore& store, const std::string& prefix = "");

// Deterministic random weights (demo model, benchmarks).
ClipTextModel make_random_clip_text_model(const ClipTextConfig& config, std::uint64_t seed,
                                          at::ScalarType dtype = at::kFloat, at::Device device = at::kCPU);

}  // namespace dype::text
