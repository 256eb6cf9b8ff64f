#pragma once
// SHA-256 (FIPS 180-4) of a byte string or of a file, as lowercase hex: image metadata names each LoRA by the
// hash of its file, as A1111 / Civitai do, so that a restored image finds out whether the file is the same.
#include <cstddef>
#include <cstdint>
#include <string>

namespace dype {

std::string sha256_hex(const void* data, std::size_t size);
// Reads the file in blocks; IoError when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace dype
