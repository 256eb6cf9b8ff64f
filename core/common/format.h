#pragma once
// How numbers are written for people in messages: byte counts and tensor shapes. One home, so that every message
// of the project reads the same (binary units; shapes as LibTorch prints them).
#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace dype {

// "512 B", "12 KiB", "730 MiB", "1.5 GiB", "2.0 TiB".
std::string format_bytes(std::uint64_t bytes);

// "[1, 16, 128, 128]"; also takes a std::vector<std::int64_t> (a safetensors header's shape).
std::string shape_str(c10::IntArrayRef shape);

}  // namespace dype
