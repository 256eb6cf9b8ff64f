#include "core/io/tensor_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/strings.h"

namespace fs = std::filesystem;

namespace dype::io {

namespace {
struct ShardIndex {
  std::vector<std::string> shards;                // full paths, in order of first mention
  std::map<std::string, std::string> weight_map;  // tensor name -> full shard path
};

ShardIndex read_index(const std::string& index_path) {
  std::ifstream in(index_path);
  if (!in) throw IoError("cannot open shard index '" + index_path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("shard index '" + index_path + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw FormatError("shard index '" + index_path + "' has no \"weight_map\" object");
  if (j["weight_map"].empty()) throw FormatError("shard index '" + index_path + "' lists no tensors");
  const fs::path dir = fs::path(index_path).parent_path();
  ShardIndex index;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw FormatError("shard index '" + index_path + "': entry '" + it.key() + "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    // Shards are plain file names beside the index: anything else could make a downloaded index read an
    // arbitrary file.
    if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
        shard.find('\0') != std::string::npos)
      throw FormatError("shard index '" + index_path + "': shard name '" + shard + "' for tensor '" + it.key() +
                        "' leaves the index's folder (only plain file names are allowed)");
    const std::string full = (dir / shard).string();
    if (std::find(index.shards.begin(), index.shards.end(), full) == index.shards.end()) {
      std::error_code ec;
      if (!fs::is_regular_file(full, ec))
        throw IoError("shard index '" + index_path + "' names shard '" + shard + "' (for tensor '" + it.key() +
                      "'), but '" + full + "' does not exist: incomplete download?");
      index.shards.push_back(full);
    }
    index.weight_map[it.key()] = full;
  }
  return index;
}
}  // namespace

std::shared_ptr<TensorStore> TensorStore::build(const std::vector<std::string>& paths, std::string label) {
  if (paths.empty()) throw InvalidArgument("no safetensors file given for '" + label + "'");
  auto store = std::make_shared<TensorStore>();
  for (const auto& p : paths) store->files_.push_back(SafetensorsFile::open(p));
  store->label_ = std::move(label);
  for (std::size_t i = 0; i < store->files_.size(); ++i)
    for (const auto& t : store->files_[i]->tensors()) store->index_.emplace_back(t.name, i);
  std::sort(store->index_.begin(), store->index_.end());
  for (std::size_t i = 1; i < store->index_.size(); ++i)
    if (store->index_[i].first == store->index_[i - 1].first)
      throw FormatError("tensor '" + store->index_[i].first + "' appears in both '" +
                        store->files_[store->index_[i - 1].second]->path() + "' and '" +
                        store->files_[store->index_[i].second]->path() + "'");
  return store;
}

std::shared_ptr<const TensorStore> TensorStore::open(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw IoError("'" + path + "' does not exist");
  if (fs::is_directory(status)) {
    std::vector<std::string> indexes, files;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ec2;
      if (!it->is_regular_file(ec2)) continue;
      const std::string p = it->path().string();
      if (ends_with(p, ".safetensors.index.json"))
        indexes.push_back(p);
      else if (ends_with(p, ".safetensors"))
        files.push_back(p);
    }
    if (ec) throw IoError("cannot list folder '" + path + "': " + ec.message());
    if (indexes.size() > 1) throw FormatError("folder '" + path + "' holds several *.safetensors.index.json files");
    if (indexes.size() == 1) return open(indexes[0]);
    if (files.empty()) throw IoError("folder '" + path + "' holds no .safetensors file");
    std::sort(files.begin(), files.end());
    return build(files, path);
  }
  if (ends_with(path, ".index.json")) {
    const ShardIndex index = read_index(path);
    auto store = build(index.shards, path);
    for (const auto& [name, shard] : index.weight_map) {
      const SafetensorsFile* f = store->file_of(name);
      if (!f)
        throw FormatError("shard index '" + path + "' places tensor '" + name + "' in '" + shard +
                          "', but no shard holds it: incomplete download or mismatched index?");
      if (f->path() != shard)
        throw FormatError("shard index '" + path + "' places tensor '" + name + "' in '" + shard + "', but it is in '" +
                          f->path() + "'");
    }
    return store;
  }
  return build({path}, path);
}

std::shared_ptr<const TensorStore> TensorStore::from_files(const std::vector<std::string>& paths) {
  std::string label = paths.empty() ? std::string("(no files)") : paths.front();
  if (paths.size() > 1) label += " (+" + std::to_string(paths.size() - 1) + " shards)";
  return build(paths, std::move(label));
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [n, i] : index_) out.push_back(n);
  return out;
}

const SafetensorsFile* TensorStore::file_of(const std::string& name) const {
  auto it = std::lower_bound(index_.begin(), index_.end(), name,
                             [](const auto& e, const std::string& n) { return e.first < n; });
  if (it == index_.end() || it->first != name) return nullptr;
  return files_[it->second].get();
}

const TensorInfo* TensorStore::find(const std::string& name) const {
  const SafetensorsFile* f = file_of(name);
  return f ? f->find(name) : nullptr;
}

at::Tensor TensorStore::tensor(const std::string& name) const {
  const SafetensorsFile* f = file_of(name);
  if (!f) throw ModelError("'" + label_ + "' has no tensor named '" + name + "'");
  return f->tensor(name);
}

at::Tensor TensorStore::tensor(const std::string& name, at::ScalarType dtype) const {
  const SafetensorsFile* f = file_of(name);
  if (!f) throw ModelError("'" + label_ + "' has no tensor named '" + name + "'");
  return f->tensor(name, dtype);
}

void TensorStore::drop_resident_pages() const {
  for (const auto& f : files_) f->drop_resident_pages();
}

at::Tensor TensorStore::stored(const std::string& name, std::optional<DType>* codes) const {
  const SafetensorsFile* f = file_of(name);
  if (!f) throw ModelError("'" + label_ + "' has no tensor named '" + name + "'");
  return f->stored(name, codes);
}

}  // namespace dype::io
