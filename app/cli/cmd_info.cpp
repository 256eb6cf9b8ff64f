// `dype info PATH [--json]`: what a model path holds (layout, components, per file: tensors, dtypes, parameters,
// bytes) and the architecture the weights imply, cross-checked with config.json where there is one.
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/common/error.h"
#include "core/common/format.h"
#include "core/common/system_memory.h"
#include "core/io/component_hints.h"
#include "core/io/model_layout.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "core/io/weight_quantization.h"
#include "core/pipeline/memory_plan.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dype::cli {

namespace {

void print_help(std::ostream& os) {
  os << "usage: dype info PATH [--json]\n       dype info --devices\n\n"
        "Describes a model path: a diffusers folder (model_index.json), a diffusers component folder, a single\n"
        "safetensors file (flux transformer, autoencoder, CLIP-L, T5; ComfyUI prefixes allowed), a sharded\n"
        "*.safetensors.index.json, or a folder of such files. Per file: tensor count, dtypes, parameters, bytes;\n"
        "per component: the architecture read off the tensor shapes, checked against config.json.\n\n"
        "  --json      machine-readable output\n"
        "  --devices   the compute devices: the CPU and every GPU the CUDA driver sees (model, memory)\n";
}

std::string grouped(std::uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

std::string relative(const std::string& p, const std::string& base) {
  const fs::path r = fs::path(p).lexically_relative(fs::path(base));
  return (r.empty() || r.string().rfind("..", 0) == 0) ? p : r.string();
}

// The files a component's weights live in (an index expands to its shards).
std::vector<std::string> weight_files_of(const io::ModelComponent& c) {
  std::vector<std::string> out;
  for (const auto& w : c.weight_files) {
    if (w.size() > 5 && w.compare(w.size() - 5, 5, ".json") == 0) {
      for (const auto& f : io::TensorStore::open(w)->files()) out.push_back(f->path());
    } else {
      out.push_back(w);
    }
  }
  return out;
}

json file_stats(const std::string& path) {
  const auto f = io::SafetensorsFile::open(path);
  std::map<std::string, std::uint64_t> dtypes;
  std::uint64_t params = 0, bytes = 0;
  for (const auto& t : f->tensors()) {
    ++dtypes[io::dtype_name(t.dtype)];
    bytes += t.nbytes();
    // Scales and format descriptions of quantised files are not model parameters.
    if (!io::is_quantization_aux(t.name) && !io::is_weight_scale(t.name))
      params += static_cast<std::uint64_t>(t.numel());
  }
  std::string quantization;
  try {
    quantization = io::scaled_fp8_form_name(io::check_quantization(*io::TensorStore::from_files({path}), ""));
  } catch (const FormatError& e) {
    quantization = std::string("not supported: ") + e.what();
  }
  return {
      {"path", path},   {"tensors", f->tensors().size()}, {"dtypes", dtypes},          {"parameters", params},
      {"bytes", bytes}, {"file_size", f->file_size()},    {"metadata", f->metadata()}, {"quantization", quantization}};
}

json describe_component(const io::ModelComponent& c) {
  json j = {{"role", c.role}, {"kind", io::component_kind_name(c.kind)}, {"path", c.path}, {"problem", c.problem}};
  if (!c.class_name.empty()) j["class"] = c.class_name;
  if (!c.note.empty()) j["note"] = c.note;
  if (!c.config_file.empty()) j["config_file"] = c.config_file;
  if (!c.other_files.empty()) j["other_files"] = c.other_files;
  if (c.weight_files.empty() || !c.problem.empty()) return j;
  j["key_layout"] = io::key_layout_name(c.layout);
  j["prefix"] = c.prefix;
  const auto store = c.weight_files.size() == 1 ? io::TensorStore::open(c.weight_files[0])
                                                : io::TensorStore::from_files(c.weight_files);
  j["files"] = json::array();
  for (const auto& f : weight_files_of(c)) j["files"].push_back(file_stats(f));
  for (const auto& g : c.contents) {
    if (g.kind != c.kind || g.prefix != c.prefix) continue;
    j["component_tensors"] = g.tensor_count;
    const auto hints = io::infer_hints(*store, g);
    j["hints"] = json::array();
    for (const auto& [k, v] : hints.items) j["hints"].push_back({k, v});
    if (!c.config_file.empty()) j["config_mismatches"] = io::check_config(c.config_file, c.kind, hints);
  }
  if (c.contents.size() > 1) {
    j["file_holds"] = json::array();
    for (const auto& g : c.contents)
      j["file_holds"].push_back(
          {{"kind", io::component_kind_name(g.kind)}, {"prefix", g.prefix}, {"tensors", g.tensor_count}});
  }
  return j;
}

json describe(const std::string& path, int depth) {
  const io::ModelLayout m = io::detect_model_layout(path);
  json j = {{"path", m.path}, {"layout", io::layout_kind_name(m.kind)}};
  if (!m.pipeline_class.empty()) j["pipeline_class"] = m.pipeline_class;
  j["components"] = json::array();
  for (const auto& c : m.components) j["components"].push_back(describe_component(c));
  if (!m.siblings.empty()) {
    j["siblings"] = json::array();
    for (const auto& c : m.siblings)
      j["siblings"].push_back(
          {{"role", c.role}, {"kind", io::component_kind_name(c.kind)}, {"path", c.path}, {"problem", c.problem}});
  }
  if (!m.children.empty()) {
    j["children"] = json::array();
    for (const auto& [child, kind] : m.children)
      j["children"].push_back(depth > 0 ? describe(child, depth - 1) : json{{"path", child}});
  }
  return j;
}

bool has_problem(const json& j) {
  for (const char* list : {"components", "children"})
    if (j.contains(list))
      for (const auto& c : j[list]) {
        if (c.contains("problem") && !c["problem"].get<std::string>().empty()) return true;
        if (c.contains("config_mismatches") && !c["config_mismatches"].empty()) return true;
        if (std::string(list) == "children" && has_problem(c)) return true;
      }
  return false;
}

void print_text(const json& j, std::ostream& os, const std::string& indent) {
  const std::string base = j["path"].get<std::string>();
  const std::string base_dir = fs::is_directory(base) ? base : fs::path(base).parent_path().string();
  os << indent << j["path"].get<std::string>() << "\n";
  os << indent << "  layout: " << j["layout"].get<std::string>();
  if (j.contains("pipeline_class")) os << " (" << j["pipeline_class"].get<std::string>() << ")";
  os << "\n";
  for (const auto& c : j["components"]) {
    os << indent << "  " << c["role"].get<std::string>();
    if (c.contains("class")) os << " [" << c["class"].get<std::string>() << "]";
    os << ": " << c["kind"].get<std::string>();
    if (c.contains("key_layout")) {
      os << ", " << c["key_layout"].get<std::string>();
      if (!c["prefix"].get<std::string>().empty()) os << ", prefix '" << c["prefix"].get<std::string>() << "'";
    }
    if (c.contains("other_files")) {
      os << " (";
      for (std::size_t i = 0; i < c["other_files"].size(); ++i)
        os << (i ? ", " : "") << c["other_files"][i].get<std::string>();
      os << ")";
    }
    if (c.contains("config_file") && !c.contains("files"))
      os << " (" << fs::path(c["config_file"].get<std::string>()).filename().string() << ")";
    os << "\n";
    if (c.contains("note")) os << indent << "    note: " << c["note"].get<std::string>() << "\n";
    if (!c["problem"].get<std::string>().empty())
      os << indent << "    PROBLEM: " << c["problem"].get<std::string>() << "\n";
    if (c.contains("files"))
      for (const auto& f : c["files"]) {
        os << indent << "    file " << relative(f["path"].get<std::string>(), base_dir) << ": "
           << f["tensors"].get<std::uint64_t>() << " tensors, dtypes";
        for (auto it = f["dtypes"].begin(); it != f["dtypes"].end(); ++it)
          os << ' ' << it.key() << " x" << it.value().get<std::uint64_t>();
        os << ", " << grouped(f["parameters"].get<std::uint64_t>()) << " parameters, "
           << grouped(f["bytes"].get<std::uint64_t>()) << " bytes (" << format_bytes(f["bytes"].get<std::uint64_t>())
           << ")\n";
        if (f["quantization"].get<std::string>() != "none")
          os << indent << "      quantization: " << f["quantization"].get<std::string>() << "\n";
      }
    if (c.contains("file_holds")) {
      os << indent << "    the file holds " << c["file_holds"].size() << " components:";
      for (const auto& h : c["file_holds"])
        os << " " << h["kind"].get<std::string>() << " ('" << h["prefix"].get<std::string>() << "', "
           << h["tensors"].get<std::uint64_t>() << " tensors);";
      os << "\n";
    }
    if (c.contains("hints")) {
      os << indent << "    from the shapes:";
      for (std::size_t i = 0; i < c["hints"].size(); ++i)
        os << (i ? ", " : " ") << c["hints"][i][0].get<std::string>() << " " << c["hints"][i][1].get<std::string>();
      os << "\n";
    }
    if (c.contains("config_mismatches")) {
      if (c["config_mismatches"].empty()) os << indent << "    config.json agrees with the weights\n";
      for (const auto& m : c["config_mismatches"]) os << indent << "    MISMATCH: " << m.get<std::string>() << "\n";
    }
  }
  if (j.contains("siblings")) {
    os << indent << "  beside it:";
    for (std::size_t i = 0; i < j["siblings"].size(); ++i) {
      const auto& s = j["siblings"][i];
      os << (i ? ", " : " ") << s["role"].get<std::string>() << " (" << s["kind"].get<std::string>()
         << (s["problem"].get<std::string>().empty() ? "" : ", unreadable") << ")";
    }
    os << "\n";
  }
  if (j.contains("children")) {
    os << indent << "  holds " << j["children"].size() << " model folder(s):\n";
    for (const auto& c : j["children"]) {
      if (c.contains("layout"))
        print_text(c, os, indent + "    ");
      else
        os << indent << "    " << c["path"].get<std::string>() << " (run dype info on it)\n";
    }
  }
}

}  // namespace

int cmd_info(int argc, char** argv) {
  Args args(argc, argv, 2, {"json", "help", "devices"});
  args.allow_only({"json", "help", "devices"});
  if (args.has("help")) {
    print_help(std::cout);
    return 0;
  }
  if (args.has("devices")) {
    bool cuda_usable = false;
    const auto devices = list_devices(&cuda_usable);
    for (const auto& d : devices) {
      std::cout << d.id << ": " << d.name << ", " << format_bytes(d.total_bytes);
      if (d.free_bytes) std::cout << " (" << format_bytes(d.free_bytes) << " free)";
      if (d.id != "cpu" && !cuda_usable) std::cout << " - not usable: this build's LibTorch has no CUDA";
      std::cout << "\n";
    }
    if (devices.size() == 1) std::cout << "no CUDA GPU visible (no NVIDIA driver, or no GPU)\n";
    return 0;
  }
  if (args.positional().size() != 1) {
    print_help(std::cerr);
    throw InvalidArgument("'dype info' takes exactly one PATH (a model folder or a .safetensors file)");
  }
  const json j = describe(args.positional()[0], 2);
  if (args.has("json"))
    std::cout << j.dump(2) << "\n";
  else
    print_text(j, std::cout, "");
  return has_problem(j) ? 1 : 0;
}

}  // namespace dype::cli
