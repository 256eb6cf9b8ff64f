#pragma once
// Memory-mapped, lazy, validating reader for the safetensors format used by every FLUX checkpoint.
//
// Opening a file reads and validates only the JSON header (bounded to kMaxHeaderBytes); tensor data stays in the
// page cache until a tensor is touched. Tensors whose stored dtype is the one asked for are zero-copy views over
// the mapping (the mapping lives as long as any such tensor). The mapping is private and copy-on-write, so an
// in-place operation on a view can never modify the file or fault.
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/io/dtype.h"

namespace dype::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte offsets relative to the start of the data section
  std::uint64_t end = 0;
  std::int64_t numel() const;
  std::uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  static constexpr std::uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;
  static constexpr std::size_t kMaxRank = 32;  // real checkpoints use <= 5 dimensions

  // Opens and validates. Throws IoError (cannot open/map) or FormatError (anything malformed); the message
  // names the file and, where it applies, the tensor.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);
  // Parses a header from memory (used by the fuzz target and by open()). `data_size` is the size of the data
  // section that follows the header. Throws FormatError.
  static std::vector<TensorInfo> parse_header(const char* json, std::size_t len, std::uint64_t data_size,
                                              const std::string& file_label,
                                              std::map<std::string, std::string>* metadata = nullptr);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t file_size() const { return file_size_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }

  // The tensor in its stored dtype when LibTorch has that type (zero-copy); float8 on a LibTorch without float8
  // types is decoded to float32. Throws FormatError for an unknown name.
  at::Tensor tensor(const std::string& name) const;
  // The tensor converted to `dtype` (zero-copy when it is already stored as `dtype`). Float8 decoding is exact.
  at::Tensor tensor(const std::string& name, at::ScalarType dtype) const;
  // Drops this process's resident pages of the file (madvise MADV_DONTNEED): the next access faults them in again
  // from the page cache (or the disk). For memory that a phase no longer needs but that must stay mapped (the
  // transformer's weights while the VAE decodes). Weights are never written through the mapping, so nothing is
  // lost. Returns false when the kernel refused.
  bool drop_resident_pages() const;
  // The raw bytes of a tensor as a 1-D uint8 view.
  at::Tensor raw_bytes(const std::string& name) const;
  // The tensor in its stored form without any conversion: the zero-copy view of tensor(name), except float8 on a
  // LibTorch without float8 types, which comes as its codes (kByte, the tensor's shape, a view of the mapping)
  // with `*codes` set to the format. Per-layer decoding (io::StoredWeight) starts from this.
  at::Tensor stored(const std::string& name, std::optional<DType>* codes = nullptr) const;

 private:
  SafetensorsFile() = default;
  const std::uint8_t* data_ptr(const TensorInfo& info) const;
  at::Tensor float8_codes(const TensorInfo& info) const;  // kByte view with the tensor's shape

  std::string path_;
  std::uint64_t file_size_ = 0;
  std::uint64_t data_offset_ = 0;  // 8 + header length
  std::shared_ptr<void> mapping_;  // munmap on release; shared with every zero-copy tensor
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (any dtype LibTorch has; contiguous copies are made as needed) to a safetensors file through a
// temporary file renamed into place. Used for --save-latent, `dype schedule --out`, and the tests.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace dype::io
