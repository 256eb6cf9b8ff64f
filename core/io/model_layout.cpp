#include "core/io/model_layout.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/common/error.h"
#include "core/common/strings.h"
#include "core/io/json_file.h"
#include "core/io/tensor_store.h"

namespace fs = std::filesystem;

namespace dype::io {

namespace {

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
  const auto index = read_json_object((dir / "model_index.json").string());
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

std::string component_path(const std::string& path, const std::string& subfolder, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(what + " '" + path + "' does not exist");
  if (!fs::is_directory(path, ec) || !is_file(fs::path(path) / "model_index.json")) return path;
  const fs::path sub = fs::path(path) / subfolder;
  if (!is_dir(sub)) throw IoError("diffusers model folder '" + path + "' has no " + subfolder + "/ sub-folder");
  return sub.string();
}

std::optional<std::string> component_config(const std::string& path, const std::string& class_name) {
  if (is_dir(path)) {
    const fs::path cfg = fs::path(path) / "config.json";
    return is_file(cfg) ? std::optional<std::string>(cfg.string()) : std::nullopt;
  }
  if (class_name.empty()) return std::nullopt;
  const fs::path cfg = fs::path(path).parent_path() / "config.json";
  if (!is_file(cfg)) return std::nullopt;
  const auto j = read_json(cfg.string());
  if (j.is_object() && j.value("_class_name", std::string()) == class_name) return cfg.string();
  return std::nullopt;
}

}  // namespace dype::io
