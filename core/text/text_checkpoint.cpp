#include "core/text/text_checkpoint.h"

#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/io/dtype.h"
#include "core/io/weight_quantization.h"

namespace fs = std::filesystem;

namespace dype::text::detail {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A stored name that is `anchor` behind a prefix ending at a name boundary ("" or "...").
bool has_key_like(const io::TensorStore& store, const std::string& anchor) {
  for (const auto& n : store.names())
    if (ends_with(n, anchor) && (n.size() == anchor.size() || n[n.size() - anchor.size() - 1] == '.')) return true;
  return false;
}

}  // namespace

std::string guess_content(const io::TensorStore& store) {
  if (has_key_like(store, "text_model.embeddings.token_embedding.weight")) return "a CLIP text encoder";
  if (has_key_like(store, "encoder.block.0.layer.0.SelfAttention.q.weight")) return "a T5 encoder";
  if (has_key_like(store, "double_blocks.0.img_attn.qkv.weight") ||
      has_key_like(store, "transformer_blocks.0.attn.to_q.weight"))
    return "a FLUX transformer";
  if (has_key_like(store, "decoder.conv_in.weight") || has_key_like(store, "encoder.conv_in.weight"))
    return "an autoencoder (VAE)";
  return "";
}

TextCheckpoint open_text_checkpoint(const std::string& path, const std::string& anchor, const char* what) {
  TextCheckpoint c;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path cfg = fs::path(path) / "config.json";
    if (fs::exists(cfg, ec)) {
      c.config_path = cfg.string();
      std::ifstream in(c.config_path);
      if (!in) throw IoError("cannot open '" + c.config_path + "'");
      try {
        c.config = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        throw FormatError("'" + c.config_path + "' is not valid JSON (" + e.what() + ")");
      }
      if (!c.config->is_object()) throw FormatError("'" + c.config_path + "' is not a JSON object");
    }
  }
  c.store = io::TensorStore::open(path);

  bool found = false;
  if (c.store->contains(anchor)) {
    found = true;
  } else {
    for (const auto& n : c.store->names()) {
      if (ends_with(n, anchor) && n[n.size() - anchor.size() - 1] == '.') {
        c.prefix = n.substr(0, n.size() - anchor.size());
        found = true;
        break;
      }
    }
  }
  if (!found) {
    const std::string seems = guess_content(*c.store);
    std::string msg = "'" + c.store->label() + "' is not " + what + " checkpoint: it has no tensor '" + anchor + "'";
    if (!seems.empty()) msg += "; it looks like " + seems + " (was it given in the wrong place?)";
    throw ModelError(msg);
  }
  return c;
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
