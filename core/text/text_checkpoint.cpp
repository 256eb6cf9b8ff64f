#include "core/text/text_checkpoint.h"

#include "core/common/error.h"
#include "core/io/checkpoint_kind.h"
#include "core/io/dtype.h"
#include "core/io/json_file.h"
#include "core/io/model_layout.h"
#include "core/io/weight_quantization.h"

namespace dype::text::detail {

TextCheckpoint open_text_checkpoint(const std::string& path, const std::string& anchor, const char* what) {
  TextCheckpoint c;
  if (const auto cfg = io::component_config(path, "")) {  // a diffusers text_encoder/ folder
    c.config_path = *cfg;
    c.config = io::read_json_object(c.config_path);
  }
  c.store = io::TensorStore::open(path);
  const std::vector<std::string> names = c.store->names();
  if (const auto prefix = io::find_key_prefix(names, anchor)) {
    c.prefix = *prefix;
    return c;
  }
  const std::string why = "it has no tensor '" + anchor + "'";
  // The anchor tells which component was expected; `what` words it when the anchor is not one io knows.
  const auto expected = io::classify_tensor_names({anchor});
  if (expected.empty()) throw ModelError("'" + c.store->label() + "' is not " + what + " checkpoint: " + why);
  throw ModelError(io::wrong_checkpoint_message(c.store->label(), expected.front().kind, why, names));
}

std::unique_ptr<io::CheckpointWeights> text_weights(const TextCheckpoint& ckpt, const char* component,
                                                    const TextEncoderOptions& options,
                                                    std::map<std::string, std::string> aliases,
                                                    std::function<bool(const std::string&)> ignore) {
  const std::string prefix = ckpt.prefix;
  auto resolve = [prefix, aliases = std::move(aliases)](const io::TensorStore& s, const std::string& name,
                                                        std::vector<std::string>& consumed) -> io::StoredWeight {
    std::string key = prefix + name;
    if (!s.contains(key)) {
      auto a = aliases.find(name);
      if (a == aliases.end() || !s.contains(prefix + a->second)) return {};
      key = prefix + a->second;
    }
    // Float8 codes and ComfyUI scales (scale_weight / weight_scale) stay with the weight; layers decode per use.
    return io::read_stored_weight(s, key, consumed);
  };
  auto w = std::make_unique<io::CheckpointWeights>(ckpt.store, component, options.dtype, options.device, prefix,
                                                   resolve, options.keep_storage_dtype);
  w->ignore_unexpected([prefix, ignore = std::move(ignore)](const std::string& n) {
    const std::string local = n.compare(0, prefix.size(), prefix) == 0 ? n.substr(prefix.size()) : n;
    return ignore && ignore(local);
  });
  return w;
}

std::int64_t config_int(const nlohmann::json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || !j[key].is_number_integer())
    throw ModelError("'" + file + "': \"" + key + "\" is missing or not an integer");
  return j[key].get<std::int64_t>();
}

double config_double(const nlohmann::json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || !j[key].is_number())
    throw ModelError("'" + file + "': \"" + key + "\" is missing or not a number");
  return j[key].get<double>();
}

}  // namespace dype::text::detail
