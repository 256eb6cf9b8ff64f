#include "core/io/stored_weight.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <array>

#include "core/common/error.h"

namespace dype::io {

namespace {

// Every float8 code's float32 value (bit-exact by construction: dtype.cpp decodes each code).
const std::array<float, 256>& float8_table(DType format) {
  static const auto tables = [] {
    std::array<std::array<float, 256>, 2> t{};
    for (int c = 0; c < 256; ++c) {
      t[0][c] = float8_e4m3_to_float(static_cast<std::uint8_t>(c));
      t[1][c] = float8_e5m2_to_float(static_cast<std::uint8_t>(c));
    }
    return t;
  }();
  return tables[format == DType::F8_E4M3 ? 0 : 1];
}

// out[i] = table[codes[i]] · scale(row of i), written as T. Chunks of whole rows run in parallel.
template <typename T>
void decode_rows(const std::uint8_t* codes, T* out, std::int64_t rows, std::int64_t row_len,
                 const std::array<float, 256>& table, const float* scale, bool per_row) {
  const std::int64_t grain = std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(1, row_len));
  at::parallel_for(0, rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::uint8_t* src = codes + r * row_len;
      T* dst = out + r * row_len;
      if (!scale) {
        for (std::int64_t i = 0; i < row_len; ++i) dst[i] = static_cast<T>(table[src[i]]);
      } else {
        const float s = scale[per_row ? r : 0];
        for (std::int64_t i = 0; i < row_len; ++i) dst[i] = static_cast<T>(table[src[i]] * s);
      }
    }
  });
}

}  // namespace

void decode_float8_into(const at::Tensor& codes_in, DType format, at::Tensor& out, const at::Tensor& scale_in) {
  if (!is_float8(format)) throw InvalidArgument(std::string("decode_float8: ") + dtype_name(format) + " is not float8");
  if (codes_in.scalar_type() != at::kByte) throw InvalidArgument("decode_float8: codes must be uint8");
  if (!out.is_cpu() || !out.is_contiguous() || out.sizes() != codes_in.sizes())
    throw InvalidArgument("decode_float8: the output must be a contiguous CPU tensor of the codes' shape");
  const at::Tensor codes = codes_in.cpu().contiguous();
  at::Tensor scale;
  if (scale_in.defined()) scale = scale_in.to(at::kCPU, at::kFloat).contiguous().reshape({-1});  // [1] or [rows]
  const std::int64_t rows = codes.dim() == 0 ? 1 : codes.size(0);
  const std::int64_t row_len = rows == 0 ? 0 : codes.numel() / rows;
  const bool per_row = scale.defined() && scale.numel() > 1;
  if (per_row && scale.numel() != rows)
    throw InvalidArgument("decode_float8: " + std::to_string(scale.numel()) + " scales for " + std::to_string(rows) +
                          " rows");
  const auto* src = codes.data_ptr<std::uint8_t>();
  const float* s = scale.defined() ? scale.data_ptr<float>() : nullptr;
  const auto& table = float8_table(format);
  switch (out.scalar_type()) {
    case at::kFloat: decode_rows(src, out.data_ptr<float>(), rows, row_len, table, s, per_row); break;
    case at::kBFloat16: decode_rows(src, out.data_ptr<at::BFloat16>(), rows, row_len, table, s, per_row); break;
    case at::kHalf: decode_rows(src, out.data_ptr<at::Half>(), rows, row_len, table, s, per_row); break;
    default:
      throw InvalidArgument(std::string("decode_float8: cannot decode to ") + c10::toString(out.scalar_type()) +
                            " (float32, bfloat16 or float16)");
  }
}

at::Tensor decode_float8(const at::Tensor& codes, DType format, at::ScalarType dtype, const at::Tensor& scale) {
  at::Tensor out = at::empty(codes.sizes(), at::TensorOptions().dtype(dtype));
  decode_float8_into(codes, format, out, scale);
  return out;
}

namespace {
thread_local at::Tensor t_scratch;  // flat, grown to the largest layer converted on this thread

// A contiguous view of this thread's scratch with `shape` and `dtype` (grown when too small).
at::Tensor scratch_view(at::IntArrayRef shape, at::ScalarType dtype) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  const std::int64_t bytes = n * static_cast<std::int64_t>(at::elementSize(dtype));
  if (!t_scratch.defined() || t_scratch.numel() < bytes) {
    t_scratch = at::Tensor();  // free the old one first: never two buffers of that size at once
    t_scratch = at::empty({bytes}, at::kByte);
  }
  return t_scratch.narrow(0, 0, bytes).view(dtype).view(shape);
}
}  // namespace

void release_weight_scratch() { t_scratch = at::Tensor(); }

at::Tensor StoredWeight::to_transient(at::ScalarType dtype, at::Device device) const {
  const bool plain = !codes && !scale.defined() && data.scalar_type() == dtype && data.device() == device;
  if (plain || !device.is_cpu() || !data.is_cpu()) return to(dtype, device);
  // Training (a trainer set requires_grad and autograd is recording): the shared scratch would be overwritten
  // before the backward pass needs it, and a write into it is invisible to autograd: the differentiable
  // conversion instead. (Float8 codes are integers, which LibTorch never lets require a gradient.)
  if (data.requires_grad() && at::GradMode::is_enabled()) return to(dtype, device);
  at::Tensor out = scratch_view(data.sizes(), dtype);
  if (codes) {
    decode_float8_into(data, *codes, out, scale);
    return out;
  }
  out.copy_(data);
  if (scale.defined()) {
    at::Tensor s = scale.to(dtype);
    if (s.numel() > 1) {
      std::vector<std::int64_t> shape(static_cast<std::size_t>(out.dim()), 1);
      shape[0] = s.numel();
      s = s.reshape(shape);
    } else {
      s = s.reshape({});
    }
    out.mul_(s);
  }
  return out;
}

at::Tensor StoredWeight::to(at::ScalarType dtype, at::Device device) const {
  if (codes) return decode_float8(data, *codes, dtype, scale).to(device);
  at::Tensor w = (data.scalar_type() == dtype && data.device() == device) ? data : data.to(device, dtype);
  if (!scale.defined()) return w;
  // ComfyUI's order: the stored value in the compute dtype times the scale in the compute dtype.
  at::Tensor s = scale.to(device, dtype);
  if (s.numel() > 1) {
    std::vector<std::int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
    shape[0] = s.numel();
    s = s.reshape(shape);  // [rows, 1, ...]
  } else {
    s = s.reshape({});
  }
  return w * s;
}

StoredWeight StoredWeight::rows(const at::Tensor& index) const {
  StoredWeight out;
  out.data = data.index_select(0, index.to(data.device(), at::kLong));
  out.codes = codes;
  if (scale.defined()) out.scale = scale.numel() > 1 ? scale.reshape({-1}).index_select(0, index.to(at::kLong)) : scale;
  return out;
}

StoredWeight StoredWeight::narrow_rows(std::int64_t start, std::int64_t length) const {
  StoredWeight out;
  out.data = data.narrow(0, start, length);
  out.codes = codes;
  if (scale.defined()) out.scale = scale.numel() > 1 ? scale.reshape({-1}).narrow(0, start, length) : scale;
  return out;
}

StoredWeight concat_rows(const std::vector<StoredWeight>& parts) {
  if (parts.empty()) throw InvalidArgument("concat_rows: no parts");
  const StoredWeight& first = parts.front();
  std::vector<std::int64_t> shape = first.data.sizes().vec();
  if (shape.empty()) throw InvalidArgument("concat_rows: scalar weights have no rows");
  shape[0] = 0;
  bool any_scale = false, all_same_single = true;
  for (const auto& p : parts) {
    if (p.data.dim() != first.data.dim() || p.data.sizes().slice(1) != first.data.sizes().slice(1) ||
        p.data.scalar_type() != first.data.scalar_type() || p.codes != first.codes)
      throw InvalidArgument("concat_rows: parts " + std::string(c10::str(first.data.sizes())) + " and " +
                            std::string(c10::str(p.data.sizes())) + " differ in trailing shape or stored dtype");
    shape[0] += p.data.size(0);
    any_scale = any_scale || p.scale.defined();
    all_same_single = all_same_single && p.scale.defined() && p.scale.numel() == 1 && first.scale.defined() &&
                      p.scale.item<float>() == first.scale.item<float>();
  }
  // copy_ works for every stored dtype (float8 codes included), where at::cat may not.
  StoredWeight out;
  out.codes = first.codes;
  out.data = at::empty(shape, first.data.options());
  std::int64_t row = 0;
  for (const auto& p : parts) {
    out.data.narrow(0, row, p.data.size(0)).copy_(p.data);
    row += p.data.size(0);
  }
  if (!any_scale) return out;
  if (all_same_single) {
    out.scale = first.scale;
    return out;
  }
  std::vector<at::Tensor> per_row;
  for (const auto& p : parts) {
    const std::int64_t n = p.data.size(0);
    if (!p.scale.defined())
      per_row.push_back(at::ones({n}, at::kFloat));
    else if (p.scale.numel() == 1)
      per_row.push_back(at::full({n}, p.scale.item<float>(), at::kFloat));
    else
      per_row.push_back(p.scale.reshape({n}).to(at::kFloat));
  }
  out.scale = at::cat(per_row);  // [rows]
  return out;
}

std::uint64_t StoredWeight::nbytes() const {
  std::uint64_t n = data.defined() ? static_cast<std::uint64_t>(data.numel()) * data.element_size() : 0;
  if (scale.defined()) n += static_cast<std::uint64_t>(scale.numel()) * scale.element_size();
  return n;
}

}  // namespace dype::io
