#pragma once
// A set of safetensors files seen as one name -> tensor map: a single file, several files (a component split in
// shards), or a `*.safetensors.index.json` (Hugging Face sharded layout, "weight_map": {name: shard file}).
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace dype::io {

class TensorStore {
 public:
  // `path`: a .safetensors file, a .safetensors.index.json, or a folder holding exactly one of
  // `*.safetensors.index.json` or one or more `*.safetensors` files. Throws IoError / FormatError.
  // An index is checked against its shards: every shard exists inside the index's folder and holds the tensors
  // the index assigns to it.
  static std::shared_ptr<const TensorStore> open(const std::string& path);
  // Several files seen as one; a tensor name present in two files is a FormatError.
  static std::shared_ptr<const TensorStore> from_files(const std::vector<std::string>& files);

  const std::string& label() const { return label_; }  // what was opened, for error messages
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }
  std::vector<std::string> names() const;  // sorted
  const TensorInfo* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  at::Tensor tensor(const std::string& name) const;
  at::Tensor tensor(const std::string& name, at::ScalarType dtype) const;
  // See SafetensorsFile::drop_resident_pages (every file of the store).
  void drop_resident_pages() const;
  // Stored form (see SafetensorsFile::stored): float8 codes as kByte where LibTorch has no float8 type.
  at::Tensor stored(const std::string& name, std::optional<DType>* codes = nullptr) const;

 private:
  static std::shared_ptr<TensorStore> build(const std::vector<std::string>& files, std::string label);
  const SafetensorsFile* file_of(const std::string& name) const;
  std::string label_;
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::vector<std::pair<std::string, std::size_t>> index_;  // sorted name -> file index
};

}  // namespace dype::io
