#pragma once
// A byte-level safetensors writer for tests, independent of core/io: the header JSON is assembled by hand and the
// data bytes are given by the test, so a round trip through SafetensorsFile checks the reader against the format
// itself rather than against our own writer. It can also write deliberately malformed files.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace dype::test {

struct RawTensor {
  std::string name;
  std::string dtype;  // as spelled in the file: "F32", "F8_E4M3", ...
  std::vector<std::int64_t> shape;
  std::string bytes;  // little-endian element bytes
};

template <typename T>
std::string le_bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(&out[0], values.data(), out.size());  // x86-64 and aarch64 are little-endian
  return out;
}

inline std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// The JSON header for `tensors` laid out back to back in the given order, plus optional raw metadata JSON
// (an object literal such as {"k":"v"}; "" for none).
inline std::string header_json(const std::vector<RawTensor>& tensors, const std::string& metadata_json = "") {
  std::string h = "{";
  bool first = true;
  if (!metadata_json.empty()) {
    h += "\"__metadata__\":" + metadata_json;
    first = false;
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (!first) h += ",";
    first = false;
    h += "\"" + json_escape(t.name) + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) h += (i ? "," : "") + std::to_string(t.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  return h + "}";
}

// 8-byte little-endian length, header, data. `pad_to`: pad the header with spaces to a multiple (1 = none).
// `length_override` writes that value as the header length instead of the real one.
inline std::string file_bytes(const std::string& header, const std::string& data, std::size_t pad_to = 8,
                              const std::uint64_t* length_override = nullptr) {
  std::string h = header;
  if (pad_to > 1) h.append((pad_to - h.size() % pad_to) % pad_to, ' ');
  const std::uint64_t n = length_override ? *length_override : h.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + h + data;
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("test could not write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A well-formed file holding `tensors` (and metadata), written to `path`.
inline void write_safetensors(const std::string& path, const std::vector<RawTensor>& tensors,
                              const std::string& metadata_json = "", std::size_t pad_to = 8) {
  std::string data;
  for (const auto& t : tensors) data += t.bytes;
  write_file(path, file_bytes(header_json(tensors, metadata_json), data, pad_to));
}

}  // namespace dype::test
