#pragma once
// Element types of the safetensors format and their mapping onto LibTorch scalar types.
#include <ATen/ATen.h>

#include <cstddef>
#include <optional>
#include <string>

namespace dype::io {

enum class DType { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };

// "F32" -> DType::F32; std::nullopt for an unknown name.
std::optional<DType> parse_dtype(const std::string& name);
const char* dtype_name(DType dt);
std::size_t dtype_size(DType dt);
bool is_float8(DType dt);

// The LibTorch scalar type that holds this dtype bit for bit, if this LibTorch build has one
// (float8 types exist only from LibTorch 2.1 on).
std::optional<at::ScalarType> native_scalar_type(DType dt);

// Bit-exact float8 decoding (e4m3fn: bias 7, no inf, 0x7F/0xFF NaN; e5m2: IEEE-like, bias 15).
float float8_e4m3_to_float(std::uint8_t code);
float float8_e5m2_to_float(std::uint8_t code);

}  // namespace dype::io
