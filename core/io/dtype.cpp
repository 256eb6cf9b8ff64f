#include "core/io/dtype.h"

#include <torch/version.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace dype::io {

namespace {
struct Entry {
  DType dt;
  const char* name;
  std::size_t size;
};
constexpr std::array<Entry, 12> kTable{{{DType::F64, "F64", 8},
                                        {DType::F32, "F32", 4},
                                        {DType::F16, "F16", 2},
                                        {DType::BF16, "BF16", 2},
                                        {DType::F8_E4M3, "F8_E4M3", 1},
                                        {DType::F8_E5M2, "F8_E5M2", 1},
                                        {DType::I64, "I64", 8},
                                        {DType::I32, "I32", 4},
                                        {DType::I16, "I16", 2},
                                        {DType::I8, "I8", 1},
                                        {DType::U8, "U8", 1},
                                        {DType::BOOL, "BOOL", 1}}};

const Entry& entry(DType dt) {
  for (const auto& e : kTable)
    if (e.dt == dt) return e;
  return kTable[0];  // unreachable: every enumerator is in the table
}
}  // namespace

std::optional<DType> parse_dtype(const std::string& name) {
  for (const auto& e : kTable)
    if (name == e.name) return e.dt;
  return std::nullopt;
}

const char* dtype_name(DType dt) { return entry(dt).name; }
std::size_t dtype_size(DType dt) { return entry(dt).size; }
bool is_float8(DType dt) { return dt == DType::F8_E4M3 || dt == DType::F8_E5M2; }

std::optional<at::ScalarType> native_scalar_type(DType dt) {
  switch (dt) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::BOOL: return at::kBool;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    case DType::F8_E4M3: return at::kFloat8_e4m3fn;
    case DType::F8_E5M2: return at::kFloat8_e5m2;
#else
    case DType::F8_E4M3:
    case DType::F8_E5M2: return std::nullopt;
#endif
  }
  return std::nullopt;
}

float float8_e4m3_to_float(std::uint8_t code) {
  const bool neg = code & 0x80;
  const int exp = (code >> 3) & 0xF;
  const int man = code & 0x7;
  float v;
  if (exp == 0xF && man == 0x7) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -9);  // subnormal: m/8 * 2^-6
  } else {
    v = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  }
  return neg ? -v : v;
}

float float8_e5m2_to_float(std::uint8_t code) {
  // e5m2 is the upper byte of an IEEE half: widen and reuse the half decoder of c10.
  const std::uint16_t half_bits = static_cast<std::uint16_t>(code) << 8;
  c10::Half h(half_bits, c10::Half::from_bits());
  return static_cast<float>(h);
}

}  // namespace dype::io
