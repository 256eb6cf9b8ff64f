#include "core/text/t5_encoder.h"

#include <cmath>
#include <set>

#include "core/common/error.h"

namespace dype::text {

namespace {
const char* const kAnchor = "encoder.block.0.layer.0.SelfAttention.q.weight";

// The "gelu_new" activation of T5 v1.1: 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))).
at::Tensor gelu_tanh(const at::Tensor& v) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * v * (1.0 + at::tanh(k * (v + 0.044715 * at::pow(v, 3.0))));
}
}  // namespace

T5EncoderConfig T5EncoderConfig::from_json(const nlohmann::json& j, const std::string& file) {
  const std::string type = j.value("model_type", std::string());
  if (!type.empty() && type != "t5")
    throw ModelError("'" + file + "' describes a '" + type + "' model, not a T5 encoder (model_type \"t5\")");
  using detail::config_double;
  using detail::config_int;
  T5EncoderConfig c;
  c.vocab_size = config_int(j, "vocab_size", file);
  c.d_model = config_int(j, "d_model", file);
  c.d_kv = config_int(j, "d_kv", file);
  c.num_heads = config_int(j, "num_heads", file);
  c.d_ff = config_int(j, "d_ff", file);
  c.num_layers = config_int(j, "num_layers", file);
  if (j.contains("relative_attention_num_buckets"))
    c.num_buckets = config_int(j, "relative_attention_num_buckets", file);
  if (j.contains("relative_attention_max_distance"))
    c.max_distance = config_int(j, "relative_attention_max_distance", file);
  if (j.contains("layer_norm_epsilon")) c.eps = config_double(j, "layer_norm_epsilon", file);
  const std::string ff = j.value("feed_forward_proj", std::string("relu"));
  if (ff != "gated-gelu")
    throw ModelError("'" + file + "': feed_forward_proj \"" + ff +
                     "\" is not supported (only T5 v1.1 \"gated-gelu\" encoders, as FLUX uses)");
  if (c.num_buckets < 4 || c.max_distance <= c.num_buckets / 4)
    throw ModelError("'" + file + "': invalid relative attention buckets " + std::to_string(c.num_buckets) +
                     " / max distance " + std::to_string(c.max_distance));
  return c;
}

at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, bool bidirectional,
                                       std::int64_t num_buckets, std::int64_t max_distance) {
  at::Tensor rp = relative_position.to(at::kLong);
  at::Tensor buckets = at::zeros_like(rp);
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (rp > 0).to(at::kLong) * num_buckets;
    rp = rp.abs();
  } else {
    rp = -at::minimum(rp, at::zeros_like(rp));
  }
  const std::int64_t max_exact = num_buckets / 2;
  const at::Tensor is_small = rp < max_exact;
  // The same float32 operations, in the same order, as the reference (log(0) of small offsets is discarded).
  at::Tensor large = at::log(rp.to(at::kFloat) / static_cast<double>(max_exact)) /
                     std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) *
                     static_cast<double>(num_buckets - max_exact);
  large = at::where(is_small, at::zeros_like(large), large);  // keep -inf out of the integer cast
  large = large.to(at::kLong) + max_exact;
  large = at::minimum(large, at::full_like(large, num_buckets - 1));
  return buckets + at::where(is_small, rp, large);
}

T5AttentionImpl::T5AttentionImpl(const T5EncoderConfig& c, io::WeightSource& src, const std::string& name,
                                 bool has_bias_table)
    : num_heads(c.num_heads), d_kv(c.d_kv), num_buckets(c.num_buckets), max_distance(c.max_distance) {
  const auto inner = c.num_heads * c.d_kv;
  q = register_module("q", Linear(src, name + ".q", c.d_model, inner, false));
  k = register_module("k", Linear(src, name + ".k", c.d_model, inner, false));
  v = register_module("v", Linear(src, name + ".v", c.d_model, inner, false));
  o = register_module("o", Linear(src, name + ".o", inner, c.d_model, false));
  if (has_bias_table)
    relative_attention_bias = register_module(
        "relative_attention_bias", Embedding(src, name + ".relative_attention_bias", c.num_buckets, c.num_heads));
}

at::Tensor T5AttentionImpl::compute_bias(std::int64_t q_len, std::int64_t k_len, at::ScalarType dtype) {
  // bias[h, i, j] depends only on j - i: look up the Lq + Lk - 1 distinct offsets once (not Lq * Lk), then lay
  // them out as a Toeplitz matrix. Row r of X = v[:, r .. r + Lk) holds offsets r - (Lq - 1) + j, so query
  // i = Lq - 1 - r: X flipped along the rows is the bias.
  const auto opts = at::TensorOptions().dtype(at::kLong).device(relative_attention_bias->weight.data.device());
  const at::Tensor offsets = at::arange(-(q_len - 1), k_len, opts);  // [Lq + Lk - 1]
  const at::Tensor buckets = t5_relative_position_bucket(offsets, true, num_buckets, max_distance);
  const at::Tensor v = relative_attention_bias(buckets, dtype).t().contiguous();      // [H, Lq + Lk - 1]
  const at::Tensor x = v.as_strided({num_heads, q_len, k_len}, {v.stride(0), 1, 1});  // [H, Lq, Lk]
  return x.flip({1}).unsqueeze(0);                                                    // [1, H, Lq, Lk]
}

at::Tensor T5AttentionImpl::forward(const at::Tensor& x, const at::Tensor& position_bias) {
  const auto B = x.size(0), L = x.size(1);
  auto heads = [&](const at::Tensor& t) { return t.view({B, L, num_heads, d_kv}).transpose(1, 2); };  // [B, H, L, dk]
  const at::Tensor qh = heads(q(x)), kh = heads(k(x)), vh = heads(v(x));
  const at::Tensor scores = at::matmul(qh, kh.transpose(-1, -2)) + position_bias;  // [B, H, L, L], no 1/sqrt(d)
  const at::Tensor w = at::softmax(scores.to(at::kFloat), -1).to(scores.scalar_type());
  const at::Tensor out = at::matmul(w, vh).transpose(1, 2).reshape({B, L, num_heads * d_kv});  // [B, L, H*dk]
  return o(out);
}

T5BlockImpl::T5BlockImpl(const T5EncoderConfig& c, io::WeightSource& src, const std::string& name,
                         bool has_bias_table) {
  auto layer = register_module("layer", torch::nn::ModuleList());
  auto self_attention = std::make_shared<torch::nn::Module>();
  auto feed_forward = std::make_shared<torch::nn::Module>();
  layer->push_back(self_attention);  // layer.0
  layer->push_back(feed_forward);    // layer.1
  const std::string l0 = name + ".layer.0", l1 = name + ".layer.1";
  attention =
      self_attention->register_module("SelfAttention", T5Attention(c, src, l0 + ".SelfAttention", has_bias_table));
  attention_norm = self_attention->register_module("layer_norm", RmsNorm(src, l0 + ".layer_norm", c.d_model, c.eps));
  auto dense = scope(*feed_forward, "DenseReluDense");
  wi_0 = dense->register_module("wi_0", Linear(src, l1 + ".DenseReluDense.wi_0", c.d_model, c.d_ff, false));
  wi_1 = dense->register_module("wi_1", Linear(src, l1 + ".DenseReluDense.wi_1", c.d_model, c.d_ff, false));
  wo = dense->register_module("wo", Linear(src, l1 + ".DenseReluDense.wo", c.d_ff, c.d_model, false));
  ff_norm = feed_forward->register_module("layer_norm", RmsNorm(src, l1 + ".layer_norm", c.d_model, c.eps));
}

at::Tensor T5BlockImpl::forward(const at::Tensor& x0, const at::Tensor& position_bias) {
  at::Tensor x = x0 + attention(attention_norm(x0), position_bias);  // [B, L, D]
  const at::Tensor h = ff_norm(x);
  return x + wo(gelu_tanh(wi_0(h)) * wi_1(h));  // gated GELU, [B, L, D]
}

T5EncoderImpl::T5EncoderImpl(const T5EncoderConfig& c, io::WeightSource& src)
    : config_(c), device_(src.device()), dtype_(src.dtype()) {
  shared = register_module("shared", Embedding(src, "shared", c.vocab_size, c.d_model));
  auto encoder = scope(*this, "encoder");
  blocks = encoder->register_module("block", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_layers; ++i)
    blocks->push_back(T5Block(c, src, "encoder.block." + std::to_string(i), /*has_bias_table=*/i == 0));
  final_layer_norm =
      encoder->register_module("final_layer_norm", RmsNorm(src, "encoder.final_layer_norm", c.d_model, c.eps));
  src.finish();
}

at::Tensor T5EncoderImpl::forward(const at::Tensor& ids_in, std::map<std::string, at::Tensor>* capture,
                                  const T5LayerObserver& on_layer) {
  if (ids_in.dim() != 2 || at::isFloatingType(ids_in.scalar_type()) || ids_in.size(1) < 1)
    throw InvalidArgument("T5 encoder: expected integer token ids of shape [B, L], got " +
                          std::string(ids_in.toString()) + " " + c10::str(ids_in.sizes()));
  const auto L = ids_in.size(1);
  const at::Tensor ids_cpu = ids_in.to(at::kCPU, at::kLong);
  const auto lo = ids_cpu.min().item<std::int64_t>(), hi = ids_cpu.max().item<std::int64_t>();
  if (lo < 0 || hi >= config_.vocab_size)
    throw InvalidArgument("T5 encoder: token id " + std::to_string(lo < 0 ? lo : hi) + " outside the vocabulary [0, " +
                          std::to_string(config_.vocab_size) + ")");
  at::Tensor x = shared(ids_cpu.to(device_), dtype_);  // [B, L, D]
  if (capture) (*capture)["embeddings"] = x;
  const at::Tensor bias = blocks->ptr<T5BlockImpl>(0)->attention->compute_bias(L, L, dtype_);  // [1, H, L, L]
  const int layers = static_cast<int>(blocks->size());
  for (int i = 0; i < layers; ++i) {
    x = blocks->ptr<T5BlockImpl>(i)->forward(x, bias);
    if (capture) (*capture)["block" + std::to_string(i)] = x;
    if (on_layer) on_layer(i + 1, layers);
  }
  return final_layer_norm(x);
}

T5EncoderConfig infer_t5_encoder_config(const io::TensorStore& store, const std::string& prefix) {
  auto shape = [&](const std::string& key, const char* alt = nullptr) -> std::vector<std::int64_t> {
    const io::TensorInfo* t = store.find(prefix + key);
    if (!t && alt) t = store.find(prefix + alt);
    if (!t) throw ModelError("'" + store.label() + "' has no tensor '" + prefix + key + "' (T5 encoder)");
    if (t->shape.size() != 2) throw ModelError("'" + store.label() + "': '" + t->name + "' is not a matrix");
    return t->shape;
  };
  if (store.contains(prefix + "encoder.block.0.layer.1.DenseReluDense.wi.weight"))
    throw ModelError("'" + store.label() +
                     "' is a T5 v1.0 encoder (non-gated feed-forward): only T5 v1.1 (gated-GELU) is supported");
  T5EncoderConfig c;
  const auto emb = shape("shared.weight", "encoder.embed_tokens.weight");
  const auto q = shape("encoder.block.0.layer.0.SelfAttention.q.weight");
  const auto rel = shape("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
  const auto wi = shape("encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
  c.vocab_size = emb[0];
  c.d_model = emb[1];
  c.num_buckets = rel[0];
  c.num_heads = rel[1];
  if (c.num_heads <= 0 || q[0] % c.num_heads != 0)
    throw ModelError("'" + store.label() + "': q projection rows " + std::to_string(q[0]) + " not divisible by the " +
                     std::to_string(c.num_heads) + " heads of the position-bias table");
  c.d_kv = q[0] / c.num_heads;
  c.d_ff = wi[0];
  std::set<std::int64_t> ids;
  const std::string bp = prefix + "encoder.block.";
  for (const auto& n : store.names()) {
    if (n.compare(0, bp.size(), bp) != 0) continue;
    try {
      ids.insert(std::stoll(n.substr(bp.size(), n.find('.', bp.size()) - bp.size())));
    } catch (const std::exception&) {
      throw ModelError("'" + store.label() + "': unexpected T5 tensor name '" + n + "'");
    }
  }
  c.num_layers = static_cast<std::int64_t>(ids.size());
  return c;
}

T5Encoder load_t5_encoder(const std::string& path, const TextEncoderOptions& options,
                          const std::optional<T5EncoderConfig>& config) {
  const auto ckpt = detail::open_text_checkpoint(path, kAnchor, "a T5 encoder");
  T5EncoderConfig c;
  if (config)
    c = *config;
  else if (ckpt.config)
    c = T5EncoderConfig::from_json(*ckpt.config, ckpt.config_path);
  else
    c = infer_t5_encoder_config(*ckpt.store, ckpt.prefix);
  auto ignore = [](const std::string& n) {
    return n == "encoder.embed_tokens.weight" || n == "shared.weight" || n == "lm_head.weight" ||
           n.rfind("decoder.", 0) == 0;
  };
  auto src =
      detail::text_weights(ckpt, "T5 encoder", options, {{"shared.weight", "encoder.embed_tokens.weight"}}, ignore);
  return T5Encoder(c, *src);
}

T5Encoder make_random_t5_encoder(const T5EncoderConfig& config, std::uint64_t seed, at::ScalarType dtype,
                                 at::Device device) {
  io::RandomWeights src(seed, dtype, device);
  return T5Encoder(config, src);
}

}  // namespace dype::text
