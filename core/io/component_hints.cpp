#include "core/io/component_hints.h"

#include <cstdio>
#include <set>

#include "core/common/strings.h"
#include "core/io/json_file.h"

namespace dype::io {

namespace {

// Distinct block indices N among names "<prefix><root>N.<...>".
std::int64_t count_blocks(const std::vector<std::string>& names, const std::string& head) {
  std::set<long> seen;
  for (const auto& n : names) {
    if (!starts_with(n, head)) continue;
    const std::size_t dot = n.find('.', head.size());
    if (dot == std::string::npos || dot == head.size()) continue;
    const std::string idx = n.substr(head.size(), dot - head.size());
    if (idx.size() > 9 || idx.find_first_not_of("0123456789") != std::string::npos) continue;
    seen.insert(std::stol(idx));
  }
  return static_cast<std::int64_t>(seen.size());
}

std::string format_ratio(std::int64_t num, std::int64_t den) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(num) / static_cast<double>(den));
  return buf;
}

}  // namespace

ComponentHints infer_hints(const TensorStore& store, const ComponentGuess& g) {
  ComponentHints h;
  const auto names = store.names();
  const std::string& p = g.prefix;
  auto dim = [&](const std::string& name, std::size_t i) -> std::int64_t {
    const TensorInfo* t = store.find(p + name);
    return (t && t->shape.size() > i) ? t->shape[i] : -1;
  };
  auto has = [&](const std::string& name) { return store.contains(p + name); };
  auto num = [&](const std::string& key, std::int64_t v) {
    if (v < 0) return;
    h.numbers[key] = v;
    h.items.emplace_back(key, std::to_string(v));
  };
  auto text = [&](const std::string& key, const std::string& v) { h.items.emplace_back(key, v); };

  switch (g.kind) {
    case ComponentKind::FluxTransformer: {
      const bool bfl = g.layout == KeyLayout::Bfl;
      const std::int64_t hidden = bfl ? dim("img_in.weight", 0) : dim("x_embedder.weight", 0);
      const std::int64_t head_dim = bfl ? dim("double_blocks.0.img_attn.norm.query_norm.scale", 0)
                                        : dim("transformer_blocks.0.attn.norm_q.weight", 0);
      const std::int64_t mlp =
          bfl ? dim("double_blocks.0.img_mlp.0.weight", 0) : dim("transformer_blocks.0.ff.net.0.proj.weight", 0);
      const bool guidance =
          bfl ? has("guidance_in.in_layer.weight") : has("time_text_embed.guidance_embedder.linear_1.weight");
      num("hidden_size", hidden);
      if (hidden > 0 && head_dim > 0 && hidden % head_dim == 0) num("num_heads", hidden / head_dim);
      num("head_dim", head_dim);
      num("depth", count_blocks(names, p + (bfl ? "double_blocks." : "transformer_blocks.")));
      num("depth_single_blocks", count_blocks(names, p + (bfl ? "single_blocks." : "single_transformer_blocks.")));
      num("mlp_hidden_dim", mlp);
      if (mlp > 0 && hidden > 0) text("mlp_ratio", format_ratio(mlp, hidden));
      num("in_channels", bfl ? dim("img_in.weight", 1) : dim("x_embedder.weight", 1));
      num("context_in_dim", bfl ? dim("txt_in.weight", 1) : dim("context_embedder.weight", 1));
      num("vec_in_dim",
          bfl ? dim("vector_in.in_layer.weight", 1) : dim("time_text_embed.text_embedder.linear_1.weight", 1));
      text("qkv_bias",
           has(bfl ? "double_blocks.0.img_attn.qkv.bias" : "transformer_blocks.0.attn.to_q.bias") ? "yes" : "no");
      h.numbers["guidance_embed"] = guidance ? 1 : 0;
      text("guidance_embed", guidance ? "yes" : "no");
      text("variant", guidance ? "dev (guidance embedding present)" : "schnell (no guidance embedding)");
      break;
    }
    case ComponentKind::Autoencoder: {
      const bool bfl = g.layout == KeyLayout::Bfl;
      const bool enc = has("encoder.conv_in.weight"), dec = has("decoder.conv_in.weight");
      num("latent_channels", dec ? dim("decoder.conv_in.weight", 1) : dim("encoder.conv_out.weight", 0) / 2);
      num("base_channels", enc ? dim("encoder.conv_in.weight", 0) : -1);
      num("in_channels", enc ? dim("encoder.conv_in.weight", 1) : -1);
      num("out_channels", dec ? dim("decoder.conv_out.weight", 0) : -1);
      const std::int64_t levels = dec ? count_blocks(names, p + (bfl ? "decoder.up." : "decoder.up_blocks."))
                                      : count_blocks(names, p + (bfl ? "encoder.down." : "encoder.down_blocks."));
      num("levels", levels);
      if (enc)
        num("res_blocks", count_blocks(names, p + (bfl ? "encoder.down.0.block." : "encoder.down_blocks.0.resnets.")));
      if (levels > 0 && levels < 16) num("spatial_factor", std::int64_t{1} << (levels - 1));
      text("parts", enc && dec ? "encoder + decoder" : (dec ? "decoder only" : "encoder only"));
      break;
    }
    case ComponentKind::ClipText: {
      num("vocab_size", dim("text_model.embeddings.token_embedding.weight", 0));
      num("hidden_size", dim("text_model.embeddings.token_embedding.weight", 1));
      num("num_layers", count_blocks(names, p + "text_model.encoder.layers."));
      num("intermediate_size", dim("text_model.encoder.layers.0.mlp.fc1.weight", 0));
      num("max_positions", dim("text_model.embeddings.position_embedding.weight", 0));
      text("text_projection", has("text_projection.weight") ? "yes" : "no");
      break;
    }
    case ComponentKind::T5Encoder: {
      const std::string emb = has("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
      const std::string attn = "encoder.block.0.layer.0.SelfAttention.";
      const bool gated = has("encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
      num("vocab_size", dim(emb, 0));
      num("d_model", dim(emb, 1));
      num("num_layers", count_blocks(names, p + "encoder.block."));
      num("num_heads", dim(attn + "relative_attention_bias.weight", 1));
      num("inner_dim", dim(attn + "q.weight", 0));
      num("d_ff", dim(gated ? "encoder.block.0.layer.1.DenseReluDense.wi_0.weight"
                            : "encoder.block.0.layer.1.DenseReluDense.wi.weight",
                      0));
      num("relative_buckets", dim(attn + "relative_attention_bias.weight", 0));
      text("feed_forward", gated ? "gated-gelu (v1.1)" : "relu (v1.0)");
      break;
    }
    default: break;
  }
  return h;
}

std::vector<std::string> check_config(const std::string& config_path, ComponentKind kind, const ComponentHints& hints) {
  const auto cfg = read_json_object(config_path);
  // (config.json key, hint key)
  static const std::vector<std::pair<const char*, const char*>> flux{{"num_layers", "depth"},
                                                                     {"num_single_layers", "depth_single_blocks"},
                                                                     {"attention_head_dim", "head_dim"},
                                                                     {"num_attention_heads", "num_heads"},
                                                                     {"in_channels", "in_channels"},
                                                                     {"joint_attention_dim", "context_in_dim"},
                                                                     {"pooled_projection_dim", "vec_in_dim"},
                                                                     {"guidance_embeds", "guidance_embed"}};
  static const std::vector<std::pair<const char*, const char*>> vae{{"latent_channels", "latent_channels"},
                                                                    {"in_channels", "in_channels"},
                                                                    {"out_channels", "out_channels"},
                                                                    {"layers_per_block", "res_blocks"}};
  static const std::vector<std::pair<const char*, const char*>> clip{{"vocab_size", "vocab_size"},
                                                                     {"hidden_size", "hidden_size"},
                                                                     {"num_hidden_layers", "num_layers"},
                                                                     {"intermediate_size", "intermediate_size"},
                                                                     {"max_position_embeddings", "max_positions"}};
  static const std::vector<std::pair<const char*, const char*>> t5{
      {"vocab_size", "vocab_size"}, {"d_model", "d_model"}, {"num_layers", "num_layers"},
      {"num_heads", "num_heads"},   {"d_ff", "d_ff"},       {"relative_attention_num_buckets", "relative_buckets"}};
  static const std::vector<std::pair<const char*, const char*>> none;
  const auto& table = kind == ComponentKind::FluxTransformer ? flux
                      : kind == ComponentKind::Autoencoder   ? vae
                      : kind == ComponentKind::ClipText      ? clip
                      : kind == ComponentKind::T5Encoder     ? t5
                                                             : none;
  std::vector<std::string> out;
  auto compare = [&](const std::string& what, std::int64_t expected, const char* hint_key) {
    auto it = hints.numbers.find(hint_key);
    if (it == hints.numbers.end() || it->second == expected) return;
    out.push_back("config.json " + what + " = " + std::to_string(expected) + ", but the weights give " + hint_key +
                  " = " + std::to_string(it->second));
  };
  for (const auto& [key, hint_key] : table) {
    if (!cfg.contains(key)) continue;
    const auto& v = cfg[key];
    if (v.is_boolean())
      compare(key, v.get<bool>() ? 1 : 0, hint_key);
    else if (v.is_number_integer())
      compare(key, v.get<std::int64_t>(), hint_key);
  }
  if (kind == ComponentKind::Autoencoder && cfg.contains("block_out_channels") &&
      cfg["block_out_channels"].is_array() && !cfg["block_out_channels"].empty()) {
    const auto& b = cfg["block_out_channels"];
    compare("len(block_out_channels)", static_cast<std::int64_t>(b.size()), "levels");
    if (b[0].is_number_integer()) compare("block_out_channels[0]", b[0].get<std::int64_t>(), "base_channels");
  }
  if (kind == ComponentKind::T5Encoder && cfg.contains("d_kv") && cfg["d_kv"].is_number_integer() &&
      cfg.contains("num_heads") && cfg["num_heads"].is_number_integer())
    compare("d_kv * num_heads", cfg["d_kv"].get<std::int64_t>() * cfg["num_heads"].get<std::int64_t>(), "inner_dim");
  return out;
}

}  // namespace dype::io
