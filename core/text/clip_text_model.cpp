#include "core/text/clip_text_model.h"

#include <cmath>
#include <limits>
#include <set>

#include "core/common/error.h"

namespace dype::text {

namespace {
const char* const kAnchor = "text_model.embeddings.token_embedding.weight";
}

ClipTextConfig ClipTextConfig::from_json(const nlohmann::json& j0, const std::string& file) {
  const nlohmann::json& j = j0.contains("text_config") && j0["text_config"].is_object() ? j0["text_config"] : j0;
  const std::string type = j.value("model_type", std::string());
  if (!type.empty() && type != "clip_text_model" && type != "clip")
    throw ModelError("'" + file + "' describes a '" + type +
                     "' model, not a CLIP text encoder (model_type \"clip_text_model\")");
  using detail::config_double;
  using detail::config_int;
  ClipTextConfig c;
  c.vocab_size = config_int(j, "vocab_size", file);
  c.hidden_size = config_int(j, "hidden_size", file);
  c.intermediate_size = config_int(j, "intermediate_size", file);
  c.num_layers = config_int(j, "num_hidden_layers", file);
  c.num_heads = config_int(j, "num_attention_heads", file);
  c.max_positions = config_int(j, "max_position_embeddings", file);
  if (j.contains("layer_norm_eps")) c.layer_norm_eps = config_double(j, "layer_norm_eps", file);
  c.hidden_act = j.value("hidden_act", std::string("quick_gelu"));
  if (j.contains("eos_token_id")) c.eos_token_id = config_int(j, "eos_token_id", file);
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu")
    throw ModelError("'" + file + "': unsupported CLIP hidden_act \"" + c.hidden_act + "\" (quick_gelu or gelu)");
  if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0)
    throw ModelError("'" + file + "': hidden_size " + std::to_string(c.hidden_size) +
                     " is not divisible by num_attention_heads " + std::to_string(c.num_heads));
  return c;
}

ClipAttentionImpl::ClipAttentionImpl(const ClipTextConfig& c, io::WeightSource& src, const std::string& name)
    : num_heads(c.num_heads) {
  const auto d = c.hidden_size;
  q_proj = register_module("q_proj", Linear(src, name + ".q_proj", d, d, true));
  k_proj = register_module("k_proj", Linear(src, name + ".k_proj", d, d, true));
  v_proj = register_module("v_proj", Linear(src, name + ".v_proj", d, d, true));
  out_proj = register_module("out_proj", Linear(src, name + ".out_proj", d, d, true));
}

at::Tensor ClipAttentionImpl::forward(const at::Tensor& x, const at::Tensor& causal_mask) {
  const auto B = x.size(0), L = x.size(1), D = x.size(2);
  const auto hd = D / num_heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  auto heads = [&](const at::Tensor& t) { return t.view({B, L, num_heads, hd}).transpose(1, 2); };  // [B, H, L, hd]
  const at::Tensor q = heads(q_proj(x) * scale);
  const at::Tensor k = heads(k_proj(x));
  const at::Tensor v = heads(v_proj(x));
  at::Tensor logits = at::matmul(q, k.transpose(-1, -2)) + causal_mask;  // [B, H, L, L]
  const at::Tensor w = at::softmax(logits, -1);
  const at::Tensor o = at::matmul(w, v).transpose(1, 2).reshape({B, L, D});  // [B, L, D]
  return out_proj(o);
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipTextConfig& c, io::WeightSource& src, const std::string& name)
    : quick_gelu(c.hidden_act == "quick_gelu") {
  self_attn = register_module("self_attn", ClipAttention(c, src, name + ".self_attn"));
  layer_norm1 = register_module("layer_norm1", LayerNorm(src, name + ".layer_norm1", c.hidden_size, c.layer_norm_eps));
  auto mlp = scope(*this, "mlp");
  fc1 = mlp->register_module("fc1", Linear(src, name + ".mlp.fc1", c.hidden_size, c.intermediate_size, true));
  fc2 = mlp->register_module("fc2", Linear(src, name + ".mlp.fc2", c.intermediate_size, c.hidden_size, true));
  layer_norm2 = register_module("layer_norm2", LayerNorm(src, name + ".layer_norm2", c.hidden_size, c.layer_norm_eps));
}

at::Tensor ClipEncoderLayerImpl::forward(const at::Tensor& x0, const at::Tensor& causal_mask) {
  at::Tensor x = x0 + self_attn(layer_norm1(x0), causal_mask);  // [B, L, D]
  at::Tensor h = fc1(layer_norm2(x));                           // [B, L, I]
  h = quick_gelu ? h * at::sigmoid(1.702 * h) : at::gelu(h);
  return x + fc2(h);
}

ClipTextModelImpl::ClipTextModelImpl(const ClipTextConfig& c, io::WeightSource& src)
    : config_(c), device_(src.device()), dtype_(src.dtype()) {
  auto text_model = scope(*this, "text_model");
  auto embeddings = scope(*text_model, "embeddings");
  token_embedding = embeddings->register_module(
      "token_embedding", Embedding(src, "text_model.embeddings.token_embedding", c.vocab_size, c.hidden_size));
  position_embedding = embeddings->register_module(
      "position_embedding", Embedding(src, "text_model.embeddings.position_embedding", c.max_positions, c.hidden_size));
  auto encoder = scope(*text_model, "encoder");
  layers = encoder->register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_layers; ++i)
    layers->push_back(ClipEncoderLayer(c, src, "text_model.encoder.layers." + std::to_string(i)));
  final_layer_norm = text_model->register_module(
      "final_layer_norm", LayerNorm(src, "text_model.final_layer_norm", c.hidden_size, c.layer_norm_eps));
  src.finish();
}

ClipTextOutput ClipTextModelImpl::forward(const at::Tensor& ids_in, std::map<std::string, at::Tensor>* capture) {
  if (ids_in.dim() != 2 || at::isFloatingType(ids_in.scalar_type()) || ids_in.size(1) < 1)
    throw InvalidArgument("CLIP text encoder: expected integer token ids of shape [B, L], got " +
                          std::string(ids_in.toString()) + " " + c10::str(ids_in.sizes()));
  const auto B = ids_in.size(0), L = ids_in.size(1);
  if (L > config_.max_positions)
    throw InvalidArgument("CLIP text encoder: " + std::to_string(L) + " tokens, at most " +
                          std::to_string(config_.max_positions) + " (tokenize with truncation)");
  const at::Tensor ids_cpu = ids_in.to(at::kCPU, at::kLong).contiguous();
  const auto lo = ids_cpu.min().item<std::int64_t>(), hi = ids_cpu.max().item<std::int64_t>();
  if (lo < 0 || hi >= config_.vocab_size)
    throw InvalidArgument("CLIP text encoder: token id " + std::to_string(lo < 0 ? lo : hi) +
                          " outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");

  const at::Tensor ids = ids_cpu.to(device_);
  const at::Tensor positions = at::arange(L, at::TensorOptions().dtype(at::kLong).device(device_));
  at::Tensor x = token_embedding(ids, dtype_) + position_embedding(positions, dtype_).unsqueeze(0);  // [B, L, D]
  if (capture) (*capture)["embeddings"] = x;

  // Causal mask: key j > query i gets the most negative finite value added (weight exactly 0 after softmax).
  const at::Tensor mask = at::full({L, L}, std::numeric_limits<float>::lowest(), x.options()).triu(1);  // [L, L]
  for (std::size_t i = 0; i < layers->size(); ++i) {
    x = layers->ptr<ClipEncoderLayerImpl>(i)->forward(x, mask);
    if (capture) (*capture)["layer" + std::to_string(i)] = x;
  }
  ClipTextOutput out;
  out.last_hidden_state = final_layer_norm(x);  // [B, L, D]

  // Pooled position per row: first maximum of ids (legacy rule) or first eos_token_id.
  std::vector<std::int64_t> index(B, 0);
  const auto acc = ids_cpu.accessor<std::int64_t, 2>();
  for (std::int64_t b = 0; b < B; ++b) {
    std::int64_t best = 0;
    for (std::int64_t i = 0; i < L; ++i) {
      if (config_.eos_token_id == 2) {
        if (acc[b][i] > acc[b][best]) best = i;
      } else if (acc[b][i] == config_.eos_token_id) {
        best = i;
        break;
      }
    }
    index[b] = best;
  }
  const at::Tensor rows = at::arange(B, at::TensorOptions().dtype(at::kLong).device(device_));
  const at::Tensor cols = at::tensor(index, at::TensorOptions().dtype(at::kLong)).to(device_);
  out.pooled = out.last_hidden_state.index({rows, cols});  // [B, D]
  return out;
}

ClipTextConfig infer_clip_text_config(const io::TensorStore& store, const std::string& prefix) {
  auto shape = [&](const std::string& key) -> std::vector<std::int64_t> {
    const io::TensorInfo* t = store.find(prefix + key);
    if (!t) throw ModelError("'" + store.label() + "' has no tensor '" + prefix + key + "' (CLIP text encoder)");
    return t->shape;
  };
  ClipTextConfig c;
  const auto tok = shape("text_model.embeddings.token_embedding.weight");
  const auto pos = shape("text_model.embeddings.position_embedding.weight");
  const auto fc1 = shape("text_model.encoder.layers.0.mlp.fc1.weight");
  if (tok.size() != 2 || pos.size() != 2 || fc1.size() != 2)
    throw ModelError("'" + store.label() + "': CLIP embedding / MLP tensors are not matrices");
  c.vocab_size = tok[0];
  c.hidden_size = tok[1];
  c.max_positions = pos[0];
  c.intermediate_size = fc1[0];
  std::set<std::int64_t> layer_ids;
  const std::string lp = prefix + "text_model.encoder.layers.";
  for (const auto& n : store.names()) {
    if (n.compare(0, lp.size(), lp) != 0) continue;
    const auto dot = n.find('.', lp.size());
    try {
      layer_ids.insert(std::stoll(n.substr(lp.size(), dot - lp.size())));
    } catch (const std::exception&) {
      throw ModelError("'" + store.label() + "': unexpected CLIP tensor name '" + n + "'");
    }
  }
  c.num_layers = static_cast<std::int64_t>(layer_ids.size());
  const std::int64_t head_dim = c.hidden_size >= 512 ? 64 : 32;
  if (c.hidden_size % head_dim != 0)
    throw ModelError("'" + store.label() + "': cannot infer the CLIP head count for hidden size " +
                     std::to_string(c.hidden_size) + "; put a config.json beside it");
  c.num_heads = c.hidden_size / head_dim;
  return c;
}

ClipTextModel load_clip_text_model(const std::string& path, const TextEncoderOptions& options,
                                   const std::optional<ClipTextConfig>& config) {
  const auto ckpt = detail::open_text_checkpoint(path, kAnchor, "a CLIP text encoder");
  ClipTextConfig c;
  if (config)
    c = *config;
  else if (ckpt.config)
    c = ClipTextConfig::from_json(*ckpt.config, ckpt.config_path);
  else
    c = infer_clip_text_config(*ckpt.store, ckpt.prefix);
  // Known companions of the text tower in CLIP checkpoints that the text encoder does not use.
  auto ignore = [](const std::string& n) {
    return n == "text_projection.weight" || n == "logit_scale" || n == "text_model.embeddings.position_ids" ||
           n.rfind("vision_model.", 0) == 0 || n == "visual_projection.weight";
  };
  auto src = detail::text_weights(ckpt, "CLIP text encoder", options, {}, ignore);
  return ClipTextModel(c, *src);
}

ClipTextModel make_random_clip_text_model(const ClipTextConfig& config, std::uint64_t seed, at::ScalarType dtype,
                                          at::Device device) {
  io::RandomWeights src(seed, dtype, device);
  return ClipTextModel(config, src);
}

}  // namespace dype::text
