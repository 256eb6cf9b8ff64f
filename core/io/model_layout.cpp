#include "core/io/model_layout.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/common/error.h"

namespace fs = std::filesystem;

namespace dype::io {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// ---- recognising components from tensor names -------------------------------------------------------------

struct Anchor {
  ComponentKind kind;
  KeyLayout layout;
  const char* key;  // a key every checkpoint of this kind has; what precedes it is the prefix
};
// The VAE anchors are refined to BFL or diffusers below (both layouts share conv_in).
constexpr Anchor kAnchors[] = {
    {ComponentKind::FluxTransformer, KeyLayout::Bfl, "double_blocks.0.img_attn.qkv.weight"},
    {ComponentKind::FluxTransformer, KeyLayout::Diffusers, "transformer_blocks.0.attn.to_q.weight"},
    {ComponentKind::Autoencoder, KeyLayout::Bfl, "decoder.conv_in.weight"},
    {ComponentKind::Autoencoder, KeyLayout::Bfl, "encoder.conv_in.weight"},
    {ComponentKind::ClipText, KeyLayout::HuggingFace, "text_model.embeddings.token_embedding.weight"},
    {ComponentKind::T5Encoder, KeyLayout::HuggingFace, "encoder.block.0.layer.0.SelfAttention.q.weight"},
};

// First key segments owned by each component (after its prefix), used to attribute names to components.
const std::vector<std::string>& roots(ComponentKind kind, KeyLayout layout) {
  static const std::vector<std::string> flux_bfl{"double_blocks.", "single_blocks.", "img_in.",      "txt_in.",
                                                 "time_in.",       "vector_in.",     "guidance_in.", "final_layer."};
  static const std::vector<std::string> flux_diffusers{"transformer_blocks.",
                                                       "single_transformer_blocks.",
                                                       "x_embedder.",
                                                       "context_embedder.",
                                                       "time_text_embed.",
                                                       "norm_out.",
                                                       "proj_out."};
  static const std::vector<std::string> vae{"encoder.", "decoder.", "quant_conv.", "post_quant_conv."};
  static const std::vector<std::string> clip{"text_model.", "text_projection.", "logit_scale"};
  static const std::vector<std::string> t5{"shared.", "encoder."};
  static const std::vector<std::string> none;
  switch (kind) {
    case ComponentKind::FluxTransformer: return layout == KeyLayout::Bfl ? flux_bfl : flux_diffusers;
    case ComponentKind::Autoencoder: return vae;
    case ComponentKind::ClipText: return clip;
    case ComponentKind::T5Encoder: return t5;
    default: return none;
  }
}

bool owns(const ComponentGuess& g, const std::string& name) {
  if (!starts_with(name, g.prefix)) return false;
  for (const auto& r : roots(g.kind, g.layout))
    if (name.compare(g.prefix.size(), r.size(), r) == 0) return true;
  return false;
}

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

// ---- files and folders --------------------------------------------------------------------------------------

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

struct FolderListing {
  std::vector<std::string> safetensors, indexes, bin_weights, subdirs;
  std::set<std::string> files;  // plain names of every regular file
};

FolderListing list_folder(const fs::path& dir) {
  FolderListing out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec2)) {
      if (!name.empty() && name[0] != '.') out.subdirs.push_back(it->path().string());
      continue;
    }
    if (!it->is_regular_file(ec2)) continue;
    out.files.insert(name);
    if (ends_with(name, ".safetensors.index.json"))
      out.indexes.push_back(it->path().string());
    else if (ends_with(name, ".safetensors"))
      out.safetensors.push_back(it->path().string());
    else if (ends_with(name, ".bin") || ends_with(name, ".ckpt") || ends_with(name, ".pt"))
      out.bin_weights.push_back(name);
  }
  if (ec) throw IoError("cannot list folder '" + dir.string() + "': " + ec.message());
  for (auto* v : {&out.safetensors, &out.indexes, &out.subdirs}) std::sort(v->begin(), v->end());
  return out;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw IoError("cannot open '" + p.string() + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("'" + p.string() + "' is not valid JSON: " + e.what());
  }
}

// The shard files an index names (existence is checked when the store opens).
std::vector<std::string> shards_of_index(const std::string& index) {
  std::vector<std::string> out;
  try {
    const auto j = read_json(index);
    if (j.is_object() && j.contains("weight_map") && j["weight_map"].is_object())
      for (const auto& v : j["weight_map"])
        if (v.is_string()) out.push_back((fs::path(index).parent_path() / v.get<std::string>()).string());
  } catch (const Error&) {
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Tokenizer files in `dir`, and which tokenizer they make.
ComponentKind tokenizer_kind(const FolderListing& l, std::vector<std::string>* files) {
  ComponentKind kind = ComponentKind::Unknown;
  if (l.files.count("spiece.model"))
    kind = ComponentKind::T5Tokenizer;
  else if (l.files.count("vocab.json") && l.files.count("merges.txt"))
    kind = ComponentKind::ClipTokenizer;
  if (kind != ComponentKind::Unknown && files)
    for (const char* f : {"vocab.json", "merges.txt", "spiece.model", "tokenizer.json", "tokenizer_config.json",
                          "special_tokens_map.json"})
      if (l.files.count(f)) files->push_back(f);
  return kind;
}

// Components held by a set of weight files (one per recognised prefix; one Unknown entry when nothing is
// recognised or the files cannot be read).
std::vector<ModelComponent> describe_weights(const std::string& role, const std::string& path,
                                             const std::vector<std::string>& weight_files) {
  ModelComponent base;
  base.role = role;
  base.path = path;
  base.weight_files = weight_files;
  try {
    auto store = weight_files.size() == 1 ? TensorStore::open(weight_files[0]) : TensorStore::from_files(weight_files);
    const auto names = store->names();
    base.contents = classify_tensor_names(names);
    if (base.contents.empty()) {
      base.problem = "no FLUX component recognised among its " + std::to_string(names.size()) + " tensors" +
                     (names.empty() ? std::string() : " (first: '" + names.front() + "')");
      return {base};
    }
  } catch (const Error& e) {
    base.problem = e.what();
    return {base};
  }
  std::vector<ModelComponent> out;
  for (const auto& g : base.contents) {
    ModelComponent c = base;
    c.kind = g.kind;
    c.layout = g.layout;
    c.prefix = g.prefix;
    out.push_back(std::move(c));
  }
  return out;
}

ComponentKind kind_of_class(const std::string& cls) {
  if (cls.find("Transformer") != std::string::npos && cls.find("Flux") != std::string::npos)
    return ComponentKind::FluxTransformer;
  if (starts_with(cls, "AutoencoderKL")) return ComponentKind::Autoencoder;
  if (starts_with(cls, "CLIPTextModel")) return ComponentKind::ClipText;
  if (starts_with(cls, "T5EncoderModel")) return ComponentKind::T5Encoder;
  if (starts_with(cls, "CLIPTokenizer")) return ComponentKind::ClipTokenizer;
  if (starts_with(cls, "T5Tokenizer")) return ComponentKind::T5Tokenizer;
  if (ends_with(cls, "Scheduler")) return ComponentKind::Scheduler;
  return ComponentKind::Unknown;
}

bool is_weight_kind(ComponentKind k) {
  return k == ComponentKind::FluxTransformer || k == ComponentKind::Autoencoder || k == ComponentKind::ClipText ||
         k == ComponentKind::T5Encoder;
}

// Weight files of a diffusers component folder: its index when there is one, else every safetensors file.
std::vector<std::string> component_weights(const FolderListing& l) {
  if (l.indexes.size() == 1) return l.indexes;
  return l.safetensors;
}

// One diffusers subfolder, checked against the class model_index.json gives it.
std::vector<ModelComponent> diffusers_component(const fs::path& dir, const std::string& role, const std::string& cls) {
  ModelComponent c;
  c.role = role;
  c.class_name = cls;
  c.kind = kind_of_class(cls);
  c.path = (dir / role).string();
  if (!is_dir(c.path)) {
    c.problem = "subfolder '" + role + "' is missing (model_index.json lists " + cls + ")";
    return {c};
  }
  const FolderListing l = list_folder(c.path);
  if (l.files.count("config.json")) c.config_file = (fs::path(c.path) / "config.json").string();
  if (c.kind == ComponentKind::Scheduler) {
    if (l.files.count("scheduler_config.json"))
      c.config_file = (fs::path(c.path) / "scheduler_config.json").string();
    else
      c.problem = "scheduler_config.json is missing";
    return {c};
  }
  if (c.kind == ComponentKind::ClipTokenizer || c.kind == ComponentKind::T5Tokenizer) {
    const ComponentKind found = tokenizer_kind(l, &c.other_files);
    if (found != c.kind)
      c.problem = c.kind == ComponentKind::T5Tokenizer ? "spiece.model is missing (needed by the T5 tokenizer)"
                                                       : "vocab.json and merges.txt are needed by the CLIP tokenizer";
    return {c};
  }
  if (!is_weight_kind(c.kind)) {
    c.note = "class " + cls + " is not used by FLUX pipelines (ignored)";
    return {c};
  }
  const auto weights = component_weights(l);
  if (weights.empty()) {
    c.problem = l.bin_weights.empty()
                    ? "no .safetensors weights in '" + c.path + "'"
                    : "holds only PyTorch weights (" + l.bin_weights.front() + "); convert them to safetensors";
    return {c};
  }
  if (l.indexes.size() > 1) {
    c.problem = "several *.safetensors.index.json files in '" + c.path + "'";
    return {c};
  }
  auto found = describe_weights(role, c.path, weights);
  for (auto& f : found) {
    f.class_name = cls;
    f.config_file = c.config_file;
    if (f.problem.empty() && f.kind != c.kind)
      f.problem = "model_index.json names " + cls + " but the weights hold a " + component_kind_name(f.kind);
  }
  // A component folder describes one model: keep the entry of the expected kind when there are several.
  std::stable_partition(found.begin(), found.end(), [&](const ModelComponent& f) { return f.kind == c.kind; });
  return {found.front()};
}

// Safetensors files of a plain folder, an index grouping its shards into one component.
std::vector<ModelComponent> folder_weight_components(const FolderListing& l) {
  std::vector<ModelComponent> out;
  std::set<std::string> grouped;
  for (const auto& idx : l.indexes) {
    for (const auto& s : shards_of_index(idx)) grouped.insert(s);
    for (auto& c : describe_weights(fs::path(idx).filename().string(), idx, {idx})) out.push_back(std::move(c));
  }
  for (const auto& f : l.safetensors) {
    if (grouped.count(f)) continue;
    for (auto& c : describe_weights(fs::path(f).filename().string(), f, {f})) out.push_back(std::move(c));
  }
  return out;
}

std::vector<ModelComponent> tokenizer_subfolders(const FolderListing& l) {
  std::vector<ModelComponent> out;
  for (const auto& d : l.subdirs) {
    ModelComponent c;
    c.kind = tokenizer_kind(list_folder(d), &c.other_files);
    if (c.kind == ComponentKind::Unknown) continue;
    c.role = fs::path(d).filename().string() + "/";
    c.path = d;
    out.push_back(std::move(c));
  }
  return out;
}

ModelLayout detect_folder(const fs::path& dir, int depth);

ModelLayout detect_diffusers(const fs::path& dir) {
  ModelLayout m;
  m.kind = LayoutKind::DiffusersPipeline;
  m.path = dir.string();
  const auto index = read_json(dir / "model_index.json");
  if (!index.is_object()) throw FormatError("'" + (dir / "model_index.json").string() + "' is not a JSON object");
  if (index.contains("_class_name") && index["_class_name"].is_string())
    m.pipeline_class = index["_class_name"].get<std::string>();
  for (auto it = index.begin(); it != index.end(); ++it) {
    if (starts_with(it.key(), "_")) continue;
    const auto& v = it.value();
    // ["library", "Class"]; [null, null] marks an optional component that this pipeline does not ship.
    if (!v.is_array() || v.size() != 2 || !v[1].is_string()) continue;
    for (auto& c : diffusers_component(dir, it.key(), v[1].get<std::string>())) m.components.push_back(std::move(c));
  }
  std::stable_sort(m.components.begin(), m.components.end(), [](const ModelComponent& a, const ModelComponent& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.role < b.role;
  });
  return m;
}

// `depth`: how many levels of subfolders may be searched for models when `dir` holds none itself.
ModelLayout detect_folder(const fs::path& dir, int depth) {
  if (is_file(dir / "model_index.json")) return detect_diffusers(dir);
  const FolderListing l = list_folder(dir);
  ModelLayout m;
  m.path = dir.string();
  const auto weights = component_weights(l);
  if (l.files.count("config.json") && !weights.empty() && l.indexes.size() <= 1) {
    m.kind = LayoutKind::DiffusersComponent;
    m.components = describe_weights(dir.filename().string(), dir.string(), weights);
    for (auto& c : m.components) c.config_file = (dir / "config.json").string();
    return m;
  }
  if (!l.safetensors.empty() || !l.indexes.empty()) {
    m.kind = LayoutKind::FileFolder;
    m.components = folder_weight_components(l);
    for (auto& t : tokenizer_subfolders(l)) m.components.push_back(std::move(t));
    return m;
  }
  ModelComponent tok;
  tok.kind = tokenizer_kind(l, &tok.other_files);
  if (tok.kind != ComponentKind::Unknown) {
    m.kind = LayoutKind::TokenizerFolder;
    tok.role = dir.filename().string();
    tok.path = dir.string();
    m.components.push_back(std::move(tok));
    return m;
  }
  if (l.files.count("scheduler_config.json")) {
    m.kind = LayoutKind::SchedulerFolder;
    ModelComponent s;
    s.kind = ComponentKind::Scheduler;
    s.role = dir.filename().string();
    s.path = dir.string();
    s.config_file = (dir / "scheduler_config.json").string();
    m.components.push_back(std::move(s));
    return m;
  }
  if (depth > 0) {
    m.kind = LayoutKind::ModelCollection;
    for (const auto& d : l.subdirs) {
      try {
        const ModelLayout child = detect_folder(d, depth - 1);
        m.children.emplace_back(d, child.kind);
      } catch (const Error&) {  // a subfolder without a model is simply not listed
      }
    }
    if (!m.children.empty()) return m;
  }
  std::string hint;
  if (!l.bin_weights.empty())
    hint = " It holds PyTorch weights (" + l.bin_weights.front() + "): convert them to safetensors.";
  throw FormatError("folder '" + dir.string() +
                    "' holds no model: expected model_index.json (diffusers), *.safetensors files, tokenizer files, "
                    "or subfolders holding those." +
                    hint);
}

}  // namespace

// ---- public --------------------------------------------------------------------------------------------------

const char* component_kind_name(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::FluxTransformer: return "flux transformer";
    case ComponentKind::Autoencoder: return "autoencoder";
    case ComponentKind::ClipText: return "CLIP text encoder";
    case ComponentKind::T5Encoder: return "T5 encoder";
    case ComponentKind::ClipTokenizer: return "CLIP tokenizer";
    case ComponentKind::T5Tokenizer: return "T5 tokenizer";
    case ComponentKind::Scheduler: return "scheduler";
    case ComponentKind::Unknown: break;
  }
  return "unknown";
}

const char* key_layout_name(KeyLayout layout) {
  switch (layout) {
    case KeyLayout::Bfl: return "BFL keys";
    case KeyLayout::Diffusers: return "diffusers keys";
    case KeyLayout::HuggingFace: return "Hugging Face keys";
    case KeyLayout::None: break;
  }
  return "no weights";
}

const char* layout_kind_name(LayoutKind kind) {
  switch (kind) {
    case LayoutKind::DiffusersPipeline: return "diffusers pipeline folder";
    case LayoutKind::DiffusersComponent: return "diffusers component folder";
    case LayoutKind::SingleFile: return "single safetensors file";
    case LayoutKind::ShardedIndex: return "sharded safetensors index";
    case LayoutKind::FileFolder: return "folder of single-file components";
    case LayoutKind::TokenizerFolder: return "tokenizer folder";
    case LayoutKind::SchedulerFolder: return "scheduler folder";
    case LayoutKind::ModelCollection: return "folder of model folders";
  }
  return "unknown";
}

std::vector<ComponentGuess> classify_tensor_names(const std::vector<std::string>& names) {
  std::vector<ComponentGuess> guesses;
  for (const auto& n : names) {
    for (const auto& a : kAnchors) {
      if (!ends_with(n, a.key)) continue;
      const std::string prefix = n.substr(0, n.size() - std::string(a.key).size());
      if (!prefix.empty() && prefix.back() != '.') continue;  // "single_transformer_blocks.0..." is not a match
      const bool known = std::any_of(guesses.begin(), guesses.end(),
                                     [&](const ComponentGuess& g) { return g.kind == a.kind && g.prefix == prefix; });
      if (known) continue;
      ComponentGuess g;
      g.kind = a.kind;
      g.layout = a.layout;
      g.prefix = prefix;
      guesses.push_back(g);
    }
  }
  // VAE layout: BFL has encoder.down.N / decoder.up.N / *.mid.block_1, diffusers *_blocks and mid_block.
  for (auto& g : guesses) {
    if (g.kind != ComponentKind::Autoencoder) continue;
    const bool diffusers = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return starts_with(n, g.prefix + "decoder.mid_block.") || starts_with(n, g.prefix + "encoder.mid_block.") ||
             starts_with(n, g.prefix + "decoder.up_blocks.") || starts_with(n, g.prefix + "encoder.down_blocks.");
    });
    g.layout = diffusers ? KeyLayout::Diffusers : KeyLayout::Bfl;
  }
  // Attribute every name to the matching component with the longest prefix.
  std::sort(guesses.begin(), guesses.end(), [](const ComponentGuess& a, const ComponentGuess& b) {
    return a.prefix.size() != b.prefix.size() ? a.prefix.size() > b.prefix.size() : a.kind < b.kind;
  });
  for (const auto& n : names)
    for (auto& g : guesses)
      if (owns(g, n)) {
        ++g.tensor_count;
        break;
      }
  return guesses;
}

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
  const auto cfg = read_json(config_path);
  if (!cfg.is_object()) throw FormatError("'" + config_path + "' is not a JSON object");
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

const ModelComponent* ModelLayout::find(ComponentKind kind) const {
  for (const auto* list : {&components, &siblings})
    for (const auto& c : *list)
      if (c.kind == kind && c.problem.empty()) return &c;
  return nullptr;
}

ModelLayout detect_model_layout(const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();  // "folder/" names the folder
  const auto st = fs::status(p, ec);
  if (!fs::exists(st)) throw IoError("'" + path + "' does not exist");
  if (fs::is_directory(st)) return detect_folder(p, 2);
  if (!fs::is_regular_file(st)) throw FormatError("'" + path + "' is neither a file nor a folder");
  const std::string name = p.filename().string();
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (name == "model_index.json") return detect_diffusers(dir);
  ModelLayout m;
  m.path = p.string();
  if (ends_with(name, ".safetensors.index.json")) {
    m.kind = LayoutKind::ShardedIndex;
    m.components = describe_weights(name, path, {path});
  } else if (ends_with(name, ".safetensors")) {
    m.kind = LayoutKind::SingleFile;
    m.components = describe_weights(name, path, {path});
  } else {
    throw FormatError("'" + path +
                      "' is not a model file: dype reads *.safetensors files, *.safetensors.index.json shard indexes, "
                      "and model folders (diffusers with model_index.json, or folders of safetensors files)");
  }
  // What lies beside it: the other single-file components and tokenizer folders a FLUX pipeline needs.
  const FolderListing l = list_folder(dir);
  std::set<std::string> own;
  if (m.kind == LayoutKind::ShardedIndex)
    for (const auto& s : shards_of_index(path)) own.insert(fs::path(s).lexically_normal().string());
  own.insert(p.lexically_normal().string());
  for (auto& c : folder_weight_components(l))
    if (!own.count(fs::path(c.path).lexically_normal().string())) m.siblings.push_back(std::move(c));
  for (auto& t : tokenizer_subfolders(l)) m.siblings.push_back(std::move(t));
  return m;
}

}  // namespace dype::io
