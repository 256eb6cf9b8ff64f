#include "core/io/tensor_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/error.h"

namespace fs = std::filesystem;

namespace dype::io {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> shards_from_index(const std::string& index_path) {
  std::ifstream in(index_path);
  if (!in) throw IoError("cannot open shard index '" + index_path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("shard index '" + index_path + "' is not valid JSON: " + e.what());
  }
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    throw FormatError("shard index '" + index_path + "' has no \"weight_map\" object");
  std::vector<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw FormatError("shard index '" + index_path + "': entry '" + it.key() + "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == "..")
      throw FormatError("shard index '" + index_path + "': shard name '" + shard + "' leaves the folder");
    if (std::find(shards.begin(), shards.end(), shard) == shards.end()) shards.push_back(shard);
  }
  const fs::path dir = fs::path(index_path).parent_path();
  for (auto& s : shards) s = (dir / s).string();
  return shards;
}
}  // namespace

std::shared_ptr<const TensorStore> TensorStore::open(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError("'" + path + "' does not exist");
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> indexes, files;
    for (const auto& e : fs::directory_iterator(path)) {
      const std::string p = e.path().string();
      if (ends_with(p, ".safetensors.index.json")) indexes.push_back(p);
      else if (ends_with(p, ".safetensors")) files.push_back(p);
    }
    if (indexes.size() > 1) throw FormatError("folder '" + path + "' holds several *.safetensors.index.json files");
    if (indexes.size() == 1) return open(indexes[0]);
    if (files.empty()) throw IoError("folder '" + path + "' holds no .safetensors file");
    std::sort(files.begin(), files.end());
    auto store = from_files(files);
    const_cast<TensorStore&>(*store).label_ = path;
    return store;
  }
  if (ends_with(path, ".index.json")) {
    auto store = from_files(shards_from_index(path));
    const_cast<TensorStore&>(*store).label_ = path;
    return store;
  }
  return from_files({path});
}

std::shared_ptr<const TensorStore> TensorStore::from_files(const std::vector<std::string>& paths) {
  auto store = std::make_shared<TensorStore>();
  for (const auto& p : paths) store->files_.push_back(SafetensorsFile::open(p));
  store->label_ = paths.size() == 1 ? paths[0] : paths.front() + " (+" + std::to_string(paths.size() - 1) + " shards)";
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

}  // namespace dype::io
