#include "core/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/common/error.h"
#include "core/common/format.h"
#include "core/io/stored_weight.h"

namespace dype::io {

namespace {

[[noreturn]] void format_error(const std::string& file, const std::string& what) {
  throw FormatError("safetensors file '" + file + "': " + what);
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return true;
  *out = a * b;
  return false;
}

}  // namespace

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<TensorInfo> SafetensorsFile::parse_header(const char* json, std::size_t len, std::uint64_t data_size,
                                                      const std::string& file,
                                                      std::map<std::string, std::string>* metadata) {
  // nlohmann keeps the last of duplicate keys silently, so a parser callback watches every key. It also bounds the
  // nesting depth: a valid header nests at most three levels ({name: {shape: [..]}}), and refusing deeper input
  // early keeps a hostile header from building (and later printing) an arbitrarily deep document.
  std::set<std::string> seen_top, seen_entry;
  std::string entry_name;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if ((ev == E::object_start || ev == E::array_start) && depth >= 3)
      format_error(file, "header nests JSON deeper than a safetensors header can (entry '" + entry_name +
                             "'): file corrupt or not safetensors?");
    if (ev == E::key && depth == 1) {
      entry_name = parsed.get_ref<const std::string&>();
      seen_entry.clear();
      if (!seen_top.insert(entry_name).second)
        format_error(file, "tensor name '" + entry_name + "' appears twice in the header");
    } else if (ev == E::key && depth == 2) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!seen_entry.insert(k).second) format_error(file, "entry '" + entry_name + "': key '" + k + "' appears twice");
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(json, json + len, on_event);
  } catch (const nlohmann::json::exception& e) {
    format_error(file, std::string("header is not valid JSON (") + e.what() + "): file corrupt or not safetensors?");
  }
  if (!header.is_object()) format_error(file, "header is not a JSON object: file corrupt or not safetensors?");

  std::vector<TensorInfo> out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) format_error(file, "__metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) format_error(file, "__metadata__ value for '" + m.key() + "' is not a string");
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!v.is_object()) format_error(file, where + "entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) format_error(file, where + "missing or non-string dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) format_error(file, where + "missing or non-array shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      format_error(file, where + "data_offsets must be an array of two integers");
    TensorInfo info;
    info.name = name;
    const auto dt = parse_dtype(v["dtype"].get<std::string>());
    if (!dt)
      format_error(file, where + "unknown dtype '" + v["dtype"].get<std::string>() +
                             "' (this version reads F64, F32, F16, BF16, F8_E4M3, F8_E5M2 and integer types; "
                             "convert the file, e.g. to BF16 or F8_E4M3)");
    info.dtype = *dt;
    const auto& shape = v["shape"];
    if (shape.size() > kMaxRank)
      format_error(file, where + "shape has " + std::to_string(shape.size()) + " dimensions (at most " +
                             std::to_string(kMaxRank) + " supported)");
    std::uint64_t count = 1;
    for (const auto& d : shape) {
      // nlohmann stores non-negative integers as unsigned and only "-N" as signed; floats are neither.
      if (!d.is_number_integer()) format_error(file, where + "shape entries must be non-negative integers");
      if (!d.is_number_unsigned() && d.get<std::int64_t>() < 0)
        format_error(file, where + "negative dimension " + std::to_string(d.get<std::int64_t>()) + " in shape");
      const auto dim = d.is_number_unsigned() ? d.get<std::uint64_t>() : 0;
      constexpr auto kMaxCount = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      if (dim > kMaxCount || mul_overflows(count, dim, &count) || count > kMaxCount)  // numel() is int64
        format_error(file, where + "shape " + shape.dump() + " is too large (element count overflows)");
      info.shape.push_back(static_cast<std::int64_t>(dim));
    }
    std::uint64_t offsets[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const auto& o = v["data_offsets"][k];
      if (!o.is_number_integer()) format_error(file, where + "data_offsets must be non-negative integers");
      if (!o.is_number_unsigned() && o.get<std::int64_t>() < 0)
        format_error(file, where + "negative data offset " + std::to_string(o.get<std::int64_t>()));
      offsets[k] = o.is_number_unsigned() ? o.get<std::uint64_t>() : 0;
    }
    info.begin = offsets[0];
    info.end = offsets[1];
    const std::string range = "[" + std::to_string(info.begin) + "," + std::to_string(info.end) + ")";
    if (info.end < info.begin) format_error(file, where + "data_offsets " + range + " end before they begin");
    std::uint64_t expected = 0;
    if (mul_overflows(count, dtype_size(info.dtype), &expected) || expected != info.end - info.begin)
      format_error(file, where + "size mismatch: " + std::string(dtype_name(info.dtype)) + " " + shape_str(info.shape) +
                             " needs " + std::to_string(expected) + " bytes but offsets " + range + " hold " +
                             std::to_string(info.end - info.begin));
    if (info.end > data_size)
      format_error(file, where + "offsets " + range + " exceed the data section of " + std::to_string(data_size) +
                             " bytes: file truncated?");
    out.push_back(std::move(info));
  }
  // Overlap check over the byte ranges (empty tensors occupy nothing and may sit anywhere).
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : out)
    if (t.end > t.begin) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      format_error(file, "tensors '" + by_offset[i - 1]->name + "' [" + std::to_string(by_offset[i - 1]->begin) + "," +
                             std::to_string(by_offset[i - 1]->end) + ") and '" + by_offset[i]->name + "' [" +
                             std::to_string(by_offset[i]->begin) + "," + std::to_string(by_offset[i]->end) +
                             ") overlap in the data section");
  std::sort(out.begin(), out.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return out;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  // stat first: open() on a FIFO or device could block or read something that is not a file.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw IoError("'" + path + "' is not a regular file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("'" + path + "' is not a regular file");
  }
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->file_size_ = static_cast<std::uint64_t>(st.st_size);
  if (f->file_size_ < 8) {
    ::close(fd);
    format_error(path, "file is " + std::to_string(f->file_size_) + " bytes, too short for a header: truncated?");
  }
  // Map the whole file lazily: private + writable gives copy-on-write pages, so tensors viewing it may be
  // modified in place by LibTorch without touching the file; MAP_NORESERVE keeps 24 GB files cheap to map.
  void* addr = ::mmap(nullptr, f->file_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  ::close(fd);
  if (addr == MAP_FAILED) throw IoError("cannot memory-map '" + path + "': " + std::strerror(errno));
  const std::uint64_t size = f->file_size_;
  f->mapping_ = std::shared_ptr<void>(addr, [size](void* p) { ::munmap(p, size); });

  std::uint64_t header_len = 0;
  std::memcpy(&header_len, addr, 8);  // little-endian on every platform we build for
  if (header_len > kMaxHeaderBytes)
    format_error(path, "header length " + std::to_string(header_len) + " exceeds the " +
                           std::to_string(kMaxHeaderBytes) + "-byte limit: not a safetensors file?");
  if (header_len > size - 8)
    format_error(path, "header length " + std::to_string(header_len) + " exceeds file size " + std::to_string(size) +
                           ": file truncated?");
  f->data_offset_ = 8 + header_len;
  f->tensors_ =
      parse_header(static_cast<const char*>(addr) + 8, header_len, size - f->data_offset_, path, &f->metadata_);
  return f;
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return (it != tensors_.end() && it->name == name) ? &*it : nullptr;
}

const std::uint8_t* SafetensorsFile::data_ptr(const TensorInfo& info) const {
  return static_cast<const std::uint8_t*>(mapping_.get()) + data_offset_ + info.begin;
}

bool SafetensorsFile::drop_resident_pages() const { return ::madvise(mapping_.get(), file_size_, MADV_DONTNEED) == 0; }

at::Tensor SafetensorsFile::raw_bytes(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (!info) format_error(path_, "no tensor named '" + name + "'");
  auto keep = mapping_;
  return at::from_blob(
      const_cast<std::uint8_t*>(data_ptr(*info)), {static_cast<std::int64_t>(info->nbytes())}, [keep](void*) {},
      at::TensorOptions().dtype(at::kByte));
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (!info) format_error(path_, "no tensor named '" + name + "'");
  const auto native = native_scalar_type(info->dtype);
  if (!native) return decode_float8(float8_codes(*info), info->dtype);
  const std::uint8_t* p = data_ptr(*info);
  if (info->dtype == DType::BOOL) {
    // A bool holding any byte but 0 or 1 is undefined behaviour in C++; refuse such data instead of viewing it.
    for (std::uint64_t i = 0; i < info->nbytes(); ++i)
      if (p[i] > 1)
        format_error(path_, "tensor '" + name + "': BOOL element " + std::to_string(i) + " holds byte value " +
                                std::to_string(p[i]) + " (only 0 and 1 are valid)");
  }
  const std::size_t elem = dtype_size(info->dtype);
  if (reinterpret_cast<std::uintptr_t>(p) % elem != 0) {
    // Misaligned data (legal in the format, rare in practice): copy instead of handing out an unaligned view.
    at::Tensor out = at::empty(info->shape, at::TensorOptions().dtype(*native));
    if (info->nbytes()) std::memcpy(out.data_ptr(), p, info->nbytes());
    return out;
  }
  auto keep = mapping_;
  return at::from_blob(
      const_cast<std::uint8_t*>(p), info->shape, [keep](void*) {}, at::TensorOptions().dtype(*native));
}

at::Tensor SafetensorsFile::tensor(const std::string& name, at::ScalarType dtype) const {
  const TensorInfo* info = find(name);
  if (!info) format_error(path_, "no tensor named '" + name + "'");
  if (is_float8(info->dtype) && !native_scalar_type(info->dtype)) {
    if (dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf)
      return decode_float8(float8_codes(*info), info->dtype, dtype);
    return decode_float8(float8_codes(*info), info->dtype).to(dtype);
  }
  at::Tensor t = tensor(name);
  return t.scalar_type() == dtype ? t : t.to(dtype);
}

at::Tensor SafetensorsFile::float8_codes(const TensorInfo& info) const {
  auto keep = mapping_;
  return at::from_blob(
      const_cast<std::uint8_t*>(data_ptr(info)), info.shape, [keep](void*) {}, at::TensorOptions().dtype(at::kByte));
}

at::Tensor SafetensorsFile::stored(const std::string& name, std::optional<DType>* codes) const {
  const TensorInfo* info = find(name);
  if (!info) format_error(path_, "no tensor named '" + name + "'");
  if (codes) codes->reset();
  if (is_float8(info->dtype) && !native_scalar_type(info->dtype)) {
    if (codes) *codes = info->dtype;
    return float8_codes(*info);  // zero-copy: bytes are always aligned
  }
  return tensor(name);
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  auto dtype_of = [](at::ScalarType s) -> const char* {
    switch (s) {
      case at::kDouble: return "F64";
      case at::kFloat: return "F32";
      case at::kHalf: return "F16";
      case at::kBFloat16: return "BF16";
      case at::kLong: return "I64";
      case at::kInt: return "I32";
      case at::kShort: return "I16";
      case at::kChar: return "I8";
      case at::kByte: return "U8";
      case at::kBool: return "BOOL";
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
      case at::kFloat8_e4m3fn: return "F8_E4M3";
      case at::kFloat8_e5m2: return "F8_E5M2";
#endif
      default: throw InvalidArgument(std::string("cannot store dtype ") + c10::toString(s) + " in safetensors");
    }
  };
  std::vector<std::pair<std::string, at::Tensor>> sorted;
  for (const auto& [n, t] : tensors) sorted.emplace_back(n, t.detach().to(at::kCPU).contiguous());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].first == "__metadata__")
      throw InvalidArgument("cannot save '" + path + "': '__metadata__' is reserved and cannot name a tensor");
    if (i > 0 && sorted[i].first == sorted[i - 1].first)
      throw InvalidArgument("cannot save '" + path + "': tensor name '" + sorted[i].first + "' given twice");
  }
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [n, t] : sorted) {
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * t.element_size();
    header[n] = {
        {"dtype", dtype_of(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string h;
  try {
    h = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata string that is not valid UTF-8
    throw InvalidArgument("cannot save '" + path + "': " + e.what());
  }
  h.append((8 - h.size() % 8) % 8, ' ');
  const std::string tmp = path + ".part";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot write '" + tmp + "': " + std::strerror(errno));
    const std::uint64_t n = h.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& [name, t] : sorted)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw IoError("writing '" + path + "' failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    std::remove(tmp.c_str());
    throw IoError("cannot move '" + tmp + "' to '" + path + "': " + err);
  }
}

}  // namespace dype::io
