#include "core/io/weight_quantization.h"

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/strings.h"

namespace dype::io {

namespace {

// Tensor-name endings of quantisation schemes we do not compute, and what they are (for the message).
struct Foreign {
  const char* suffix;
  const char* scheme;
};
constexpr Foreign kForeign[] = {
    {".weight_scale_2", "two-level (NVFP4-style) scales"},
    {".pre_quant_scale", "AWQ-style smoothing scales"},
    {".weight_scale_inv", "block-wise fp8 scales (DeepSeek-style)"},
    {".weight.absmax", "bitsandbytes 4-bit"},
    {".weight.quant_map", "bitsandbytes 4-bit"},
    {".qweight", "GPTQ / AWQ integer weights"},
    {".qzeros", "GPTQ / AWQ integer weights"},
    {".weight_zero_point", "integer zero points"},
};

// What a per-layer format string means to us: the float8 dtype it stores, or nothing (not computable here).
std::optional<DType> float8_format(const std::string& format) {
  if (format == "float8_e4m3fn") return DType::F8_E4M3;
  if (format == "float8_e5m2") return DType::F8_E5M2;
  return std::nullopt;
}

[[noreturn]] void refuse(const TensorStore& store, const std::string& what) {
  throw FormatError("'" + store.label() + "': " + what);
}

// The JSON held by a `X.comfy_quant` tensor (its bytes are UTF-8 text).
nlohmann::json comfy_quant_json(const TensorStore& store, const std::string& key) {
  const at::Tensor bytes = store.stored(key).reshape({-1}).contiguous();
  if (bytes.scalar_type() != at::kByte && bytes.scalar_type() != at::kChar)
    refuse(store, "'" + key + "' should hold JSON bytes (U8), not " + std::string(c10::toString(bytes.scalar_type())));
  const auto* p = static_cast<const char*>(bytes.data_ptr());
  try {
    return nlohmann::json::parse(p, p + bytes.numel());
  } catch (const nlohmann::json::exception& e) {
    refuse(store, "'" + key + "' is not valid JSON (" + e.what() + ")");
  }
}

void check_layer_format(const TensorStore& store, const std::string& where, const nlohmann::json& desc) {
  if (!desc.is_object() || !desc.contains("format") || !desc["format"].is_string())
    refuse(store, where + " does not name a \"format\"");
  const std::string format = desc["format"].get<std::string>();
  if (!float8_format(format))
    refuse(store, where + " quantises as '" + format +
                      "'; this version computes only float8_e4m3fn and float8_e5m2 layers (use a bf16 or plain fp8 "
                      "file of this model)");
}

std::string weight_of(const std::string& aux, const std::string& suffix) {
  return aux.substr(0, aux.size() - suffix.size()) + ".weight";
}

}  // namespace

const char* scaled_fp8_form_name(ScaledFp8Form form) {
  switch (form) {
    case ScaledFp8Form::None: return "none";
    case ScaledFp8Form::Legacy: return "scaled fp8 (legacy)";
    case ScaledFp8Form::ComfyQuant: return "comfy_quant";
  }
  return "none";
}

bool is_quantization_aux(const std::string& name) {
  return name == "scaled_fp8" || ends_with(name, ".scaled_fp8") || ends_with(name, ".scale_input") ||
         ends_with(name, ".input_scale") || ends_with(name, ".comfy_quant");
}

bool is_weight_scale(const std::string& name) {
  return ends_with(name, ".scale_weight") || ends_with(name, ".weight_scale");
}

ScaledFp8Form check_quantization(const TensorStore& store, const std::string& prefix) {
  bool marker = false;
  std::vector<std::string> legacy_scales, new_scales;
  for (const auto& n : store.names()) {
    if (!starts_with(n, prefix) && n != "scaled_fp8") continue;
    for (const auto& f : kForeign)
      if (ends_with(n, f.suffix))
        refuse(store, "tensor '" + n + "' belongs to " + f.scheme +
                          ", a quantisation this version does not compute (it reads BF16, F16, F32, F8_E4M3 / "
                          "F8_E5M2 and ComfyUI scaled fp8)");
    if (n == "scaled_fp8" || ends_with(n, ".scaled_fp8")) marker = true;
    if (ends_with(n, ".scale_weight")) legacy_scales.push_back(n);
    if (ends_with(n, ".weight_scale")) new_scales.push_back(n);
    if (ends_with(n, ".comfy_quant")) check_layer_format(store, "'" + n + "'", comfy_quant_json(store, n));
  }
  for (const auto& f : store.files()) {
    auto it = f->metadata().find("_quantization_metadata");
    if (it == f->metadata().end()) continue;
    nlohmann::json meta;
    try {
      meta = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      refuse(store, "metadata _quantization_metadata is not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!meta.is_object() || !meta.contains("layers") || !meta["layers"].is_object())
      refuse(store, "metadata _quantization_metadata has no \"layers\" object");
    for (auto l = meta["layers"].begin(); l != meta["layers"].end(); ++l)
      check_layer_format(store, "layer '" + l.key() + "' (in _quantization_metadata)", l.value());
  }
  if (!legacy_scales.empty() && !marker)
    refuse(store, "has " + std::to_string(legacy_scales.size()) + " ComfyUI scale tensors such as '" +
                      legacy_scales.front() +
                      "' but no 'scaled_fp8' marker tensor: the file was altered or is not a scaled-fp8 checkpoint");
  for (const auto* list : {&legacy_scales, &new_scales})
    for (const auto& s : *list) {
      const std::string w = weight_of(s, list == &legacy_scales ? ".scale_weight" : ".weight_scale");
      const TensorInfo* info = store.find(w);
      if (!info) refuse(store, "scale '" + s + "' has no weight '" + w + "' beside it");
      // ComfyUI writes scales beside float8 weights; the product is defined for any float, but an integer weight
      // with a scale is another scheme (int8), which this version does not compute.
      const bool is_float = is_float8(info->dtype) || info->dtype == DType::F16 || info->dtype == DType::BF16 ||
                            info->dtype == DType::F32 || info->dtype == DType::F64;
      if (!is_float)
        refuse(store, "scale '" + s + "' belongs to '" + w + "', stored as " + dtype_name(info->dtype) +
                          "; integer-quantised weights are not supported (use a bf16 or fp8 file)");
    }
  if (!new_scales.empty()) return ScaledFp8Form::ComfyQuant;
  if (!legacy_scales.empty()) return ScaledFp8Form::Legacy;
  return ScaledFp8Form::None;
}

StoredWeight read_stored_weight(const TensorStore& store, const std::string& key, std::vector<std::string>& consumed) {
  StoredWeight w;
  w.data = store.stored(key, &w.codes);
  consumed.push_back(key);
  if (!ends_with(key, ".weight")) return w;
  const std::string base = key.substr(0, key.size() - 7);
  std::string scale_key;
  for (const char* suffix : {".scale_weight", ".weight_scale"})
    if (store.contains(base + suffix)) scale_key = base + suffix;
  if (scale_key.empty()) return w;
  consumed.push_back(scale_key);
  const TensorInfo* info = store.find(scale_key);
  if (!info || (info->dtype != DType::F32 && info->dtype != DType::F16 && info->dtype != DType::BF16))
    refuse(store, "scale '" + scale_key + "' must be F32, F16 or BF16");
  const at::Tensor s = store.tensor(scale_key, at::kFloat);
  const std::int64_t rows = w.data.dim() > 0 ? w.data.size(0) : 1;
  const bool per_tensor = s.numel() == 1;
  const bool per_row = s.numel() == rows && (s.dim() == 1 || (s.dim() == 2 && s.size(1) == 1));
  if (!per_tensor && !per_row)
    refuse(store, "scale '" + scale_key + "' has shape " + std::string(c10::str(s.sizes())) +
                      ", which is neither one "
                      "value nor one per row of '" +
                      key + "' " + std::string(c10::str(w.data.sizes())) + " (block-wise scales are not supported)");
  if (!at::isfinite(s).all().item<bool>()) refuse(store, "scale '" + scale_key + "' holds a non-finite value");
  w.scale = per_tensor ? s.reshape({}).clone() : s.reshape({rows}).clone();  // own copy: tiny
  if (store.contains(base + ".comfy_quant")) consumed.push_back(base + ".comfy_quant");
  return w;
}

}  // namespace dype::io
