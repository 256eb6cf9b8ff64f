#pragma once
// T5 v1.1 encoder (Hugging Face T5EncoderModel semantics, gated-GELU): shared token embedding, pre-RMS-norm
// self-attention without 1/sqrt(d) scaling plus a bidirectional relative position bias computed once from block
// 0's table and shared by every block, gated-GELU (tanh) feed-forward, final RMS norm. FLUX uses its last hidden
// state as the text sequence `txt`. Parameters are registered under the HF keys (encoder.block.N.layer.M...).
//
//   auto t5 = load_t5_encoder("models/t5xxl_fp16.safetensors", {at::kCPU, at::kFloat, /*keep compact*/ true});
//   at::Tensor txt = t5->forward(ids);   // ids [B, 512] int64 -> [B, 512, d_model]
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/io/weights.h"
#include "core/text/text_checkpoint.h"
#include "core/text/text_layers.h"

namespace dype::text {

struct T5EncoderConfig {
  std::int64_t vocab_size = 32128;
  std::int64_t d_model = 4096;
  std::int64_t d_kv = 64;
  std::int64_t num_heads = 64;
  std::int64_t d_ff = 10240;
  std::int64_t num_layers = 24;
  std::int64_t num_buckets = 32;
  std::int64_t max_distance = 128;
  double eps = 1e-6;

  // google/t5-v1_1-xxl encoder, as FLUX.1 uses it (t5xxl).
  static T5EncoderConfig t5_xxl() { return {}; }
  // From a Hugging Face config.json (T5EncoderModel / T5ForConditionalGeneration, feed_forward_proj
  // "gated-gelu"). Throws ModelError naming `file` for another kind of model or an unsupported variant.
  static T5EncoderConfig from_json(const nlohmann::json& j, const std::string& file);
};

// T5's relative position -> bucket rule (bidirectional: positive offsets use the upper half of the buckets;
// exact buckets below half of each half, logarithmic ones up to max_distance; the log term in float32 as the
// reference computes it). relative_position = key_pos - query_pos, any integer shape; returns int64 buckets.
at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, bool bidirectional = true,
                                       std::int64_t num_buckets = 32, std::int64_t max_distance = 128);

class T5AttentionImpl : public torch::nn::Module {
 public:
  T5AttentionImpl(const T5EncoderConfig& c, io::WeightSource& src, const std::string& name, bool has_bias_table);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& position_bias);  // [B, L, D] -> [B, L, D]
  // [1, H, Lq, Lk] from this layer's relative_attention_bias table (block 0 only).
  at::Tensor compute_bias(std::int64_t q_len, std::int64_t k_len, at::ScalarType dtype);
  Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  Embedding relative_attention_bias{nullptr};
  std::int64_t num_heads, d_kv, num_buckets, max_distance;
};
TORCH_MODULE(T5Attention);

class T5BlockImpl : public torch::nn::Module {
 public:
  T5BlockImpl(const T5EncoderConfig& c, io::WeightSource& src, const std::string& name, bool has_bias_table);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& position_bias);
  // layer.0 = {SelfAttention, layer_norm}, layer.1 = {DenseReluDense: wi_0, wi_1, wo; layer_norm}
  T5Attention attention{nullptr};
  RmsNorm attention_norm{nullptr}, ff_norm{nullptr};
  Linear wi_0{nullptr}, wi_1{nullptr}, wo{nullptr};
};
TORCH_MODULE(T5Block);

// Optional per-call hook, called after every encoder layer with (layers done, total layers). T5-XXL's 24 layers
// over 512 tokens take a while on a CPU: the hook lets a caller stop between layers by throwing (normally
// dype::Cancelled), which propagates out of forward with no partial result.
using T5LayerObserver = std::function<void(int done, int total)>;

class T5EncoderImpl : public torch::nn::Module {
 public:
  // Takes every parameter from `src`, then src.finish() (ModelError listing every problem at once).
  T5EncoderImpl(const T5EncoderConfig& config, io::WeightSource& src);

  // ids [B, L] integer -> last hidden state [B, L, d_model] in the model's activation dtype. No attention mask:
  // padding takes part in attention, as in the reference. `capture` receives "embeddings", "block0", ...
  at::Tensor forward(const at::Tensor& ids, std::map<std::string, at::Tensor>* capture = nullptr,
                     const T5LayerObserver& on_layer = nullptr);

  const T5EncoderConfig& config() const { return config_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }

 private:
  T5EncoderConfig config_;
  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  Embedding shared{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  RmsNorm final_layer_norm{nullptr};
};
TORCH_MODULE(T5Encoder);

// Loads a T5 encoder from a ComfyUI single file (t5xxl_fp16 / t5xxl_fp8_e4m3fn[_scaled]; config inferred from
// shapes; encoder.embed_tokens.weight accepted for shared.weight; decoder / lm_head tensors of a full
// T5ForConditionalGeneration ignored), a diffusers `text_encoder_2/` folder (config.json; sharded or not) or a
// file inside one. `config` overrides config.json / inference. Errors name the file (e.g. a CLIP file given here).
T5Encoder load_t5_encoder(const std::string& path, const TextEncoderOptions& options = {},
                          const std::optional<T5EncoderConfig>& config = std::nullopt);

// The configuration a checkpoint implies (heads from the relative_attention_bias table, d_kv from q).
T5EncoderConfig infer_t5_encoder_config(const io::TensorStore& store, const std::string& prefix = "");

// Deterministic random weights (demo model, benchmarks).
T5Encoder make_random_t5_encoder(const T5EncoderConfig& config, std::uint64_t seed, at::ScalarType dtype = at::kFloat,
                                 at::Device device = at::kCPU);

}  // namespace dype::text
