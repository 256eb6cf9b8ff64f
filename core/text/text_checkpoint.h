#pragma once
// Finding a text encoder's weights and configuration (internal to core/text): a ComfyUI single file
// (clip_l.safetensors, t5xxl_fp16.safetensors, ...), a diffusers component folder (text_encoder/ with
// config.json and model.safetensors or sharded model-0000N-of-0000M.safetensors + index), or a file inside one.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/io/tensor_store.h"
#include "core/io/weights.h"

namespace dype::text {

// Compute placement and weight storage of a text encoder.
struct TextEncoderOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;  // activations; float32 on CPU
  // Keep bf16 / fp16 / fp8 weights as stored (memory-mapped; float8 as its codes, with its ComfyUI scale) and
  // convert each layer's weights when it runs (T5-XXL fp8: 4.6 GiB instead of 19 GB in float32; results are
  // bit-identical to converting at load). false: convert everything to `dtype` at load.
  bool keep_storage_dtype = true;
};

namespace detail {

struct TextCheckpoint {
  std::shared_ptr<const io::TensorStore> store;
  std::optional<nlohmann::json> config;  // config.json of a diffusers folder
  std::string config_path;
  std::string prefix;  // in front of the HF keys (e.g. "text_encoders.clip_l.transformer.")
};

// Opens `path` (file, shard index or folder). `anchor` is a key every checkpoint of the kind holds (e.g.
// "text_model.embeddings.token_embedding.weight"); a key ending in it fixes the prefix. When none does, throws
// ModelError naming the file, the component the anchor belongs to, and what the file seems to hold instead
// (io::wrong_checkpoint_message); `what` (e.g. "a CLIP text encoder") words it for an anchor io does not know.
TextCheckpoint open_text_checkpoint(const std::string& path, const std::string& anchor, const char* what);

// CheckpointWeights for a text encoder: keys after `prefix`, `aliases` (reference name -> other stored name
// tried when the first is absent), float8 and ComfyUI scaled-fp8 weights read with their scales
// (io/weight_quantization.h), and `ignore` names tolerated as unexpected.
std::unique_ptr<io::CheckpointWeights> text_weights(const TextCheckpoint& ckpt, const char* component,
                                                    const TextEncoderOptions& options,
                                                    std::map<std::string, std::string> aliases,
                                                    std::function<bool(const std::string&)> ignore);

// config.json value with a type check; ModelError naming the file otherwise.
std::int64_t config_int(const nlohmann::json& j, const char* key, const std::string& file);
double config_double(const nlohmann::json& j, const char* key, const std::string& file);

}  // namespace detail
}  // namespace dype::text
