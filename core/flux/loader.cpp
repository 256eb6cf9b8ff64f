#include "core/flux/loader.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/format.h"
#include "core/common/strings.h"
#include "core/io/checkpoint_kind.h"
#include "core/io/json_file.h"
#include "core/io/model_layout.h"
#include "core/io/weight_quantization.h"
#include "core/io/weights.h"

namespace dype::flux {

namespace {

using Assembly = DiffusersAssembly;

}  // namespace

DiffusersSource diffusers_source(const std::string& bfl) {
  // split "<head>.<leaf>" where leaf is weight / bias / scale
  const auto dot = bfl.rfind('.');
  if (dot == std::string::npos) return {};
  const std::string head = bfl.substr(0, dot), leaf = bfl.substr(dot + 1);
  auto direct = [](std::string n) { return DiffusersSource{{std::move(n)}, Assembly::Direct}; };

  static const std::map<std::string, std::string> top = {
      {"img_in", "x_embedder"},
      {"txt_in", "context_embedder"},
      {"time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"},
      {"time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"},
      {"guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"},
      {"guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"},
      {"vector_in.in_layer", "time_text_embed.text_embedder.linear_1"},
      {"vector_in.out_layer", "time_text_embed.text_embedder.linear_2"},
      {"final_layer.linear", "proj_out"},
  };
  if (auto it = top.find(head); it != top.end()) return direct(it->second + "." + leaf);
  // diffusers' AdaLayerNormContinuous emits (scale, shift); BFL's LastLayer (shift, scale).
  if (head == "final_layer.adaLN_modulation.1") return {{"norm_out.linear." + leaf}, Assembly::SwapHalves};

  auto block = [&](const std::string& kind, std::string& index, std::string& rest) {
    if (!starts_with(head, kind)) return false;
    const std::string tail = head.substr(kind.size());
    const auto d = tail.find('.');
    if (d == std::string::npos) return false;
    index = tail.substr(0, d);
    rest = tail.substr(d + 1);
    return !index.empty() && index.find_first_not_of("0123456789") == std::string::npos;
  };
  std::string n, rest;
  if (block("double_blocks.", n, rest)) {
    const std::string p = "transformer_blocks." + n + ".";
    static const std::map<std::string, std::string> dbl = {
        {"img_mod.lin", "norm1.linear"},        {"txt_mod.lin", "norm1_context.linear"},
        {"img_attn.proj", "attn.to_out.0"},     {"txt_attn.proj", "attn.to_add_out"},
        {"img_mlp.0", "ff.net.0.proj"},         {"img_mlp.2", "ff.net.2"},
        {"txt_mlp.0", "ff_context.net.0.proj"}, {"txt_mlp.2", "ff_context.net.2"},
    };
    static const std::map<std::string, std::string> dbl_norm = {
        {"img_attn.norm.query_norm", "attn.norm_q"},
        {"img_attn.norm.key_norm", "attn.norm_k"},
        {"txt_attn.norm.query_norm", "attn.norm_added_q"},
        {"txt_attn.norm.key_norm", "attn.norm_added_k"},
    };
    if (auto it = dbl.find(rest); it != dbl.end()) return direct(p + it->second + "." + leaf);
    if (auto it = dbl_norm.find(rest); it != dbl_norm.end() && leaf == "scale")
      return direct(p + it->second + ".weight");
    if (rest == "img_attn.qkv")
      return {{p + "attn.to_q." + leaf, p + "attn.to_k." + leaf, p + "attn.to_v." + leaf}, Assembly::Concat};
    if (rest == "txt_attn.qkv")
      return {{p + "attn.add_q_proj." + leaf, p + "attn.add_k_proj." + leaf, p + "attn.add_v_proj." + leaf},
              Assembly::Concat};
    return {};
  }
  if (block("single_blocks.", n, rest)) {
    const std::string p = "single_transformer_blocks." + n + ".";
    if (rest == "linear1")
      return {{p + "attn.to_q." + leaf, p + "attn.to_k." + leaf, p + "attn.to_v." + leaf, p + "proj_mlp." + leaf},
              Assembly::Concat};
    if (rest == "linear2") return direct(p + "proj_out." + leaf);
    if (rest == "modulation.lin") return direct(p + "norm.linear." + leaf);
    if (rest == "norm.query_norm" && leaf == "scale") return direct(p + "attn.norm_q.weight");
    if (rest == "norm.key_norm" && leaf == "scale") return direct(p + "attn.norm_k.weight");
    return {};
  }
  return {};
}

namespace {

// Shapes of BFL names as the diffusers store would assemble them (for config inference).
ShapeLookup diffusers_shapes(const io::TensorStore& store, const std::string& prefix) {
  return [&store, prefix](const std::string& bfl) -> std::optional<std::vector<std::int64_t>> {
    const DiffusersSource src = diffusers_source(bfl);
    if (src.names.empty()) return std::nullopt;
    std::vector<std::int64_t> shape;
    for (const auto& n : src.names) {
      const io::TensorInfo* info = store.find(prefix + n);
      if (!info) return std::nullopt;
      if (shape.empty())
        shape = info->shape;
      else if (!shape.empty() && !info->shape.empty())
        shape[0] += info->shape[0];
    }
    return shape;
  };
}

ShapeLookup bfl_shapes(const io::TensorStore& store, const std::string& prefix) {
  return [&store, prefix](const std::string& bfl) -> std::optional<std::vector<std::int64_t>> {
    const io::TensorInfo* info = store.find(prefix + bfl);
    if (!info) return std::nullopt;
    return info->shape;
  };
}

// The diffusers resolver: assembles BFL tensors from diffusers ones; notes what could not be assembled.
io::CheckpointWeights::Resolver diffusers_resolver(std::string prefix,
                                                   std::shared_ptr<std::vector<std::string>> notes) {
  return [prefix, notes](const io::TensorStore& store, const std::string& bfl,
                         std::vector<std::string>& consumed) -> io::StoredWeight {
    const DiffusersSource src = diffusers_source(bfl);
    if (src.names.empty()) return {};
    std::vector<io::StoredWeight> parts;
    std::vector<std::string> absent;
    for (const auto& n : src.names) {
      if (!store.contains(prefix + n)) {
        absent.push_back(prefix + n);
        continue;
      }
      parts.push_back(io::read_stored_weight(store, prefix + n, consumed));
    }
    if (!absent.empty()) {
      std::string msg = bfl + " <- ";
      for (std::size_t i = 0; i < absent.size(); ++i) msg += (i ? ", " : "") + absent[i];
      notes->push_back(msg);
      return {};
    }
    if (src.assembly == Assembly::Direct) return parts[0];
    if (src.assembly == Assembly::SwapHalves) {
      const at::Tensor& t = parts[0].data;
      if (t.dim() < 1 || t.size(0) % 2 != 0) {
        notes->push_back(bfl + " <- " + prefix + src.names[0] + ": shape " + shape_str(t.sizes()) +
                         " cannot be split into (scale, shift) halves");
        return {};
      }
      const std::int64_t h = t.size(0) / 2;
      return io::concat_rows(
          {parts[0].narrow_rows(h, h), parts[0].narrow_rows(0, h)});  // (scale, shift) -> (shift, scale)
    }
    // Concat along dim 0 (parts must agree on everything but their row count).
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const at::Tensor& a = parts[i].data;
      const at::Tensor& b = parts[0].data;
      const bool ok = a.dim() == b.dim() && a.dim() >= 1 && a.sizes().slice(1) == b.sizes().slice(1) &&
                      a.scalar_type() == b.scalar_type() && parts[i].codes == parts[0].codes;
      if (!ok) {
        std::string msg = bfl + " <- parts with incompatible shapes/dtypes:";
        for (std::size_t j = 0; j < parts.size(); ++j)
          msg += " " + prefix + src.names[j] + " " + shape_str(parts[j].data.sizes());
        notes->push_back(msg);
        return {};
      }
    }
    return io::concat_rows(parts);
  };
}

}  // namespace

const char* layout_name(FluxLayout layout) { return layout == FluxLayout::BFL ? "BFL" : "diffusers"; }

FluxCheckpointInfo inspect_flux_checkpoint(const io::TensorStore& store,
                                           const std::optional<std::string>& config_json) {
  FluxCheckpointInfo info;
  info.label = store.label();
  const std::vector<std::string> names = store.names();
  ShapeLookup shapes;
  if (auto p = io::find_key_prefix(names, "img_in.weight")) {
    info.layout = FluxLayout::BFL;
    info.prefix = *p;
    shapes = bfl_shapes(store, info.prefix);
  } else if (auto q = io::find_key_prefix(names, "x_embedder.weight");
             q && store.contains(*q + "time_text_embed.timestep_embedder.linear_1.weight")) {
    info.layout = FluxLayout::Diffusers;
    info.prefix = *q;
    shapes = diffusers_shapes(store, info.prefix);
  } else {
    throw ModelError(io::wrong_checkpoint_message(store.label(), io::ComponentKind::FluxTransformer,
                                                  "it holds neither BFL keys (img_in.weight, double_blocks.N...) nor "
                                                  "diffusers keys (x_embedder.weight, transformer_blocks.N...)",
                                                  names));
  }
  if (info.layout == FluxLayout::Diffusers && config_json) {
    info.config = flux_config_from_diffusers(io::read_json(*config_json), *config_json);
    info.config_source = *config_json;
  } else {
    info.config = infer_flux_config(shapes, store.label());
    info.config_source = "tensor shapes";
  }
  return info;
}

Flux load_flux(std::shared_ptr<const io::TensorStore> store, const FluxLoadOptions& options,
               FluxCheckpointInfo* info_out, const std::optional<std::string>& config_json) {
  FluxCheckpointInfo info = inspect_flux_checkpoint(*store, config_json);
  if (options.config) {
    info.config = *options.config;
    info.config.validate(store->label());
    info.config_source = "explicit";
  }
  auto notes = std::make_shared<std::vector<std::string>>();
  io::CheckpointWeights::Resolver resolver;
  if (info.layout == FluxLayout::Diffusers) resolver = diffusers_resolver(info.prefix, notes);
  io::CheckpointWeights ws(store, "FLUX transformer", options.dtype, options.device, info.prefix, resolver,
                           options.keep_storage_dtype);
  Flux model(info.config, ws);
  try {
    ws.finish();
  } catch (const ModelError& e) {
    std::string msg = e.what();
    msg += "\n  Layout: " + std::string(layout_name(info.layout)) +
           (info.prefix.empty() ? "" : " with prefix '" + info.prefix + "'") + "; config from " + info.config_source +
           ": " + info.config.describe();
    if (!notes->empty()) {
      msg += "\n  diffusers tensors that could not be assembled into BFL ones:";
      for (std::size_t i = 0; i < notes->size() && i < 12; ++i) msg += "\n    " + (*notes)[i];
      if (notes->size() > 12) msg += "\n    ... and " + std::to_string(notes->size() - 12) + " more";
    }
    throw ModelError(msg);
  }
  if (info_out) *info_out = info;
  return model;
}

std::shared_ptr<const io::TensorStore> open_flux_checkpoint(const std::string& path,
                                                            std::optional<std::string>* config_json) {
  // A diffusers model folder stands for its transformer/; a diffusers-key file may sit beside its config.json
  // (inspect uses the config only for the diffusers layout).
  const std::string target = io::component_path(path, "transformer", "FLUX transformer");
  *config_json = io::component_config(target, "FluxTransformer2DModel");
  return io::TensorStore::open(target);
}

Flux load_flux(const std::string& path, const FluxLoadOptions& options, FluxCheckpointInfo* info) {
  std::optional<std::string> config_json;
  auto store = open_flux_checkpoint(path, &config_json);
  return load_flux(store, options, info, config_json);
}

}  // namespace dype::flux
