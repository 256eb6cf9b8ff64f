#include "core/vae/autoencoder_loader.h"

#include <filesystem>
#include <map>
#include <set>

#include "core/common/error.h"
#include "core/common/strings.h"
#include "core/io/checkpoint_kind.h"
#include "core/io/json_file.h"
#include "core/io/model_layout.h"
#include "core/io/weight_quantization.h"
#include "core/io/weights.h"

namespace fs = std::filesystem;

namespace dype::vae {

namespace {

// Replaces the first occurrence of `from` in `s`; false when absent.
bool replace_part(std::string& s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  if (pos == std::string::npos) return false;
  s.replace(pos, from.size(), to);
  return true;
}

// Reads the integer following `prefix` in `name` (e.g. "decoder.up_blocks." in "decoder.up_blocks.2.resnets...").
int index_after(const std::string& name, const std::string& prefix) {
  if (!starts_with(name, prefix)) return -1;
  std::size_t i = prefix.size(), j = i;
  while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
  if (j == i || j >= name.size() || name[j] != '.') return -1;
  return std::stoi(name.substr(i, j - i));
}

enum class Layout { bfl, diffusers };

struct Detected {
  Layout layout;
  std::string prefix;  // common key prefix before "encoder." / "decoder." ("" for plain files)
};

Detected detect_layout(const io::TensorStore& store) {
  const std::vector<std::string> names = store.names();
  const auto prefix = io::find_key_prefix(names, "decoder.conv_in.weight");
  if (!prefix)
    throw ModelError(io::wrong_checkpoint_message(
        store.label(), io::ComponentKind::Autoencoder,
        "it has no decoder.conv_in.weight (expected a FLUX ae.safetensors or a diffusers vae/ folder)", names));
  Detected d;
  d.prefix = *prefix;
  d.layout = store.contains(d.prefix + "decoder.conv_out.weight") &&
                     (store.contains(d.prefix + "decoder.conv_norm_out.weight") ||
                      store.contains(d.prefix + "decoder.up_blocks.0.resnets.0.conv1.weight"))
                 ? Layout::diffusers
                 : Layout::bfl;
  return d;
}

// Inverse of diffusers_vae_name: a stored diffusers name (without prefix) -> BFL name, "" when it has none.
std::string bfl_from_diffusers(const std::string& d, int n_levels) {
  std::string s = d;
  const bool enc = starts_with(s, "encoder."), dec = starts_with(s, "decoder.");
  if (!enc && !dec) return "";
  const std::string side = enc ? "encoder." : "decoder.";
  std::string rest = s.substr(side.size());
  if (replace_part(rest, "conv_norm_out.", "norm_out.")) return side + rest;
  if (starts_with(rest, "conv_in.") || starts_with(rest, "conv_out.")) return side + rest;
  if (starts_with(rest, "mid_block.")) {
    if (replace_part(rest, "mid_block.resnets.0.", "mid.block_1.") ||
        replace_part(rest, "mid_block.resnets.1.", "mid.block_2.")) {
      replace_part(rest, "conv_shortcut.", "nin_shortcut.");
      return side + rest;
    }
    static const std::pair<const char*, const char*> attn[] = {{"group_norm.", "norm."},
                                                               {"to_q.", "q."},
                                                               {"query.", "q."},
                                                               {"to_k.", "k."},
                                                               {"key.", "k."},
                                                               {"to_v.", "v."},
                                                               {"value.", "v."},
                                                               {"to_out.0.", "proj_out."},
                                                               {"proj_attn.", "proj_out."}};
    const std::string ap = "mid_block.attentions.0.";
    if (!starts_with(rest, ap)) return "";
    const std::string leaf = rest.substr(ap.size());
    for (const auto& [from, to] : attn)
      if (starts_with(leaf, from)) return side + "mid.attn_1." + to + leaf.substr(std::string(from).size());
    return "";
  }
  const std::string blocks = enc ? "down_blocks." : "up_blocks.";
  const int i = index_after(rest, blocks);
  if (i < 0 || i >= n_levels) return "";
  const int level = enc ? i : n_levels - 1 - i;  // diffusers up_blocks.0 is BFL's up.N-1 (lowest resolution)
  std::string tail = rest.substr(blocks.size() + std::to_string(i).size() + 1);
  const std::string lvl = (enc ? "down." : "up.") + std::to_string(level) + ".";
  const int r = index_after(tail, "resnets.");
  if (r >= 0) {
    tail = "block." + tail.substr(std::string("resnets.").size());
    replace_part(tail, "conv_shortcut.", "nin_shortcut.");
    return side + lvl + tail;
  }
  if (replace_part(tail, "downsamplers.0.", "downsample.") || replace_part(tail, "upsamplers.0.", "upsample."))
    return side + lvl + tail;
  return "";
}

int count_levels(const io::TensorStore& store, const std::string& prefix, Layout layout) {
  const std::string key = prefix + (layout == Layout::bfl ? "decoder.up." : "decoder.up_blocks.");
  std::set<int> levels;
  for (const auto& n : store.names()) {
    const int i = index_after(n, key);
    if (i >= 0) levels.insert(i);
  }
  if (levels.empty()) return 0;
  // Levels must be 0..N-1 without gaps.
  if (*levels.rbegin() + 1 != static_cast<int>(levels.size()))
    throw ModelError("'" + store.label() + "': decoder levels are not numbered 0..N-1 (found " +
                     std::to_string(levels.size()) + " levels up to " + std::to_string(*levels.rbegin()) + ")");
  return static_cast<int>(levels.size());
}

// BFL name -> stored name (prefix included) for every stored tensor that has a BFL counterpart.
std::map<std::string, std::string> build_key_map(const io::TensorStore& store, const Detected& d, int n_levels) {
  std::map<std::string, std::string> m;
  for (const auto& n : store.names()) {
    if (!starts_with(n, d.prefix)) continue;
    const std::string local = n.substr(d.prefix.size());
    const std::string bfl = d.layout == Layout::bfl ? local : bfl_from_diffusers(local, n_levels);
    if (!bfl.empty()) m.emplace(bfl, n);
  }
  return m;
}

std::vector<std::int64_t> shape_of(const io::TensorStore& store, const std::map<std::string, std::string>& keys,
                                   const std::string& bfl) {
  auto it = keys.find(bfl);
  if (it == keys.end()) return {};
  const io::TensorInfo* info = store.find(it->second);
  return info ? info->shape : std::vector<std::int64_t>{};
}

AutoEncoderConfig infer_from_keys(const io::TensorStore& store, const std::map<std::string, std::string>& keys,
                                  int n_levels) {
  auto fail = [&](const std::string& why) -> AutoEncoderConfig {
    throw ModelError("cannot infer the autoencoder architecture from '" + store.label() + "': " + why);
  };
  auto need = [&](const std::string& name, std::size_t ndim) {
    auto s = shape_of(store, keys, name);
    if (s.size() != ndim) fail("tensor " + name + " is missing or not " + std::to_string(ndim) + "-D");
    return s;
  };
  if (n_levels < 1) fail("no decoder levels (decoder.up.N / decoder.up_blocks.N) found");
  AutoEncoderConfig c;
  const auto enc_in = need("encoder.conv_in.weight", 4);    // [ch, in, 3, 3]
  const auto dec_in = need("decoder.conv_in.weight", 4);    // [C_top, z, 3, 3]
  const auto dec_out = need("decoder.conv_out.weight", 4);  // [out, ch*mult0, 3, 3]
  const auto enc_out = need("encoder.conv_out.weight", 4);  // [2z, C_top, 3, 3]
  c.ch = static_cast<int>(enc_in[0]);
  c.in_channels = static_cast<int>(enc_in[1]);
  c.z_channels = static_cast<int>(dec_in[1]);
  c.out_ch = static_cast<int>(dec_out[0]);
  if (enc_out[0] != 2 * c.z_channels)
    fail("encoder.conv_out has " + std::to_string(enc_out[0]) +
         " outputs, expected 2 x z_channels = " + std::to_string(2 * c.z_channels));
  c.ch_mult.clear();
  for (int level = 0; level < n_levels; ++level) {
    const auto s = need("decoder.up." + std::to_string(level) + ".block.0.conv2.weight", 4);
    if (s[0] % c.ch != 0)
      fail("decoder level " + std::to_string(level) + " width " + std::to_string(s[0]) + " is not a multiple of ch " +
           std::to_string(c.ch));
    c.ch_mult.push_back(static_cast<int>(s[0] / c.ch));
  }
  int blocks = 0;
  while (keys.count("decoder.up.0.block." + std::to_string(blocks) + ".conv1.weight")) ++blocks;
  if (blocks < 2) fail("decoder level 0 has " + std::to_string(blocks) + " ResNet blocks (at least 2 expected)");
  c.num_res_blocks = blocks - 1;
  // GroupNorm(32) is fixed by the architecture; diffusers' config.json states it when it differs.
  c.norm_groups = 32;
  return c;
}

}  // namespace

std::string diffusers_vae_name(const std::string& bfl_name, int num_resolutions) {
  const bool enc = starts_with(bfl_name, "encoder."), dec = starts_with(bfl_name, "decoder.");
  if (!enc && !dec) return "";
  const std::string side = enc ? "encoder." : "decoder.";
  std::string rest = bfl_name.substr(side.size());
  if (replace_part(rest, "norm_out.", "conv_norm_out.")) return side + rest;
  if (starts_with(rest, "conv_in.") || starts_with(rest, "conv_out.")) return side + rest;
  if (replace_part(rest, "mid.block_1.", "mid_block.resnets.0.") ||
      replace_part(rest, "mid.block_2.", "mid_block.resnets.1.")) {
    replace_part(rest, "nin_shortcut.", "conv_shortcut.");
    return side + rest;
  }
  if (starts_with(rest, "mid.attn_1.")) {
    std::string leaf = rest.substr(std::string("mid.attn_1.").size());
    static const std::pair<const char*, const char*> attn[] = {
        {"norm.", "group_norm."}, {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
    for (const auto& [from, to] : attn)
      if (starts_with(leaf, from)) return side + "mid_block.attentions.0." + to + leaf.substr(std::string(from).size());
    return "";
  }
  const std::string lvl_key = enc ? "down." : "up.";
  const int level = index_after(rest, lvl_key);
  if (level < 0 || level >= num_resolutions) return "";
  std::string tail = rest.substr(lvl_key.size() + std::to_string(level).size() + 1);
  const int i = enc ? level : num_resolutions - 1 - level;
  const std::string blk = (enc ? "down_blocks." : "up_blocks.") + std::to_string(i) + ".";
  if (starts_with(tail, "block.")) {
    tail = "resnets." + tail.substr(std::string("block.").size());
    replace_part(tail, "nin_shortcut.", "conv_shortcut.");
    return side + blk + tail;
  }
  if (replace_part(tail, "downsample.", "downsamplers.0.") || replace_part(tail, "upsample.", "upsamplers.0."))
    return side + blk + tail;
  return "";
}

AutoEncoderConfig config_from_diffusers(const nlohmann::json& j, const std::string& label) {
  auto fail = [&](const std::string& why) -> void {
    throw ModelError("'" + label + "' describes an autoencoder this program cannot run: " + why);
  };
  try {
    if (!j.is_object()) fail("the config is not a JSON object");
    const std::string cls = j.value("_class_name", std::string("AutoencoderKL"));
    if (cls != "AutoencoderKL") fail("_class_name is '" + cls + "', expected 'AutoencoderKL'");
    if (j.value("act_fn", std::string("silu")) != "silu") fail("act_fn is not 'silu'");
    if (!j.value("mid_block_add_attention", true)) fail("mid_block_add_attention is false");
    AutoEncoderConfig c;
    c.in_channels = j.value("in_channels", 3);
    c.out_ch = j.value("out_channels", 3);
    c.z_channels = j.value("latent_channels", 4);
    c.num_res_blocks = j.value("layers_per_block", 1);
    c.norm_groups = j.value("norm_num_groups", 32);
    if (!j.contains("block_out_channels") || !j["block_out_channels"].is_array() || j["block_out_channels"].empty())
      fail("block_out_channels is missing");
    const auto boc = j["block_out_channels"].get<std::vector<int>>();
    c.ch = boc[0];
    c.ch_mult.clear();
    for (int b : boc) {
      if (c.ch <= 0 || b % c.ch != 0)
        fail("block_out_channels entry " + std::to_string(b) + " is not a multiple of the first, " +
             std::to_string(c.ch));
      c.ch_mult.push_back(b / c.ch);
    }
    for (const char* key : {"down_block_types", "up_block_types"}) {
      if (!j.contains(key)) continue;
      const auto types = j[key].get<std::vector<std::string>>();
      const std::string want = key[0] == 'd' ? "DownEncoderBlock2D" : "UpDecoderBlock2D";
      if (types.size() != boc.size()) fail(std::string(key) + " has " + std::to_string(types.size()) + " entries");
      for (const auto& t : types)
        if (t != want) fail(std::string(key) + " contains '" + t + "', only '" + want + "' is supported");
    }
    c.scale_factor =
        j.contains("scaling_factor") && j["scaling_factor"].is_number() ? j["scaling_factor"].get<double>() : 0.18215;
    // diffusers treats a missing/null shift as no shift.
    c.shift_factor =
        j.contains("shift_factor") && j["shift_factor"].is_number() ? j["shift_factor"].get<double>() : 0.0;
    c.validate();
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("'" + label + "': unexpected value type in the autoencoder config: " + e.what());
  } catch (const InvalidArgument& e) {
    throw ModelError("'" + label + "': " + e.what());
  }
}

AutoEncoderConfig infer_autoencoder_config(const io::TensorStore& store) {
  const Detected d = detect_layout(store);
  const int n = count_levels(store, d.prefix, d.layout);
  AutoEncoderConfig c = infer_from_keys(store, build_key_map(store, d, n), n);
  c.validate();
  return c;
}

AutoEncoder load_autoencoder(const std::string& path, at::ScalarType dtype, at::Device device) {
  // A diffusers model folder stands for its vae/. A lone file takes no config.json from beside it: it is
  // inferred from its shapes like a BFL file (see the header).
  const std::string target = io::component_path(path, "vae", "autoencoder");
  std::string weights_path = target, config_path;
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    config_path = io::component_config(target, "").value_or("");
    // Prefer the float32/bf16 main file over variants (diffusion_pytorch_model.fp16.safetensors) beside it.
    const fs::path main_file = fs::path(target) / "diffusion_pytorch_model.safetensors";
    if (fs::exists(main_file, ec)) weights_path = main_file.string();
  }
  auto store = io::TensorStore::open(weights_path);
  const Detected d = detect_layout(*store);
  for (const char* q : {"quant_conv.weight", "post_quant_conv.weight"})
    if (store->contains(d.prefix + q))
      throw ModelError("'" + store->label() + "' has " + q +
                       ": that is a Stable Diffusion-style VAE; FLUX's autoencoder has no quant convolutions");
  const int n = count_levels(*store, d.prefix, d.layout);
  auto keys = std::make_shared<std::map<std::string, std::string>>(build_key_map(*store, d, n));

  AutoEncoderConfig cfg;
  if (!config_path.empty()) {
    cfg = config_from_diffusers(io::read_json(config_path), config_path);
    if (cfg.num_resolutions() != n)
      throw ModelError("'" + config_path + "' describes " + std::to_string(cfg.num_resolutions()) + " levels but '" +
                       store->label() + "' holds " + std::to_string(n) + " decoder levels");
  } else {
    cfg = infer_from_keys(*store, *keys, n);
    cfg.validate();
    if (cfg.z_channels != 16)
      throw ModelError("'" + store->label() + "' has " + std::to_string(cfg.z_channels) +
                       " latent channels; FLUX's autoencoder has 16 (give a diffusers vae/ folder with its config.json "
                       "for other autoencoders)");
  }

  // Resolver: BFL name -> stored tensor; diffusers' attention Linear [C, C] becomes the 1x1 conv [C, C, 1, 1].
  io::CheckpointWeights::Resolver resolve = [keys](const io::TensorStore& s, const std::string& name,
                                                   std::vector<std::string>& consumed) -> io::StoredWeight {
    auto it = keys->find(name);
    if (it == keys->end()) return {};
    io::StoredWeight w = io::read_stored_weight(s, it->second, consumed);
    const bool attn_weight = name.find(".attn_1.") != std::string::npos && ends_with(name, ".weight") &&
                             name.find(".norm.") == std::string::npos;
    if (attn_weight && w.data.dim() == 2) w.data = w.data.reshape({w.data.size(0), w.data.size(1), 1, 1});
    return w;
  };
  io::CheckpointWeights w(store, "autoencoder", dtype, device, d.prefix, resolve);
  return AutoEncoder(w, cfg);
}

AutoEncoder make_random_autoencoder(const AutoEncoderConfig& cfg, std::uint64_t seed, at::ScalarType dtype,
                                    at::Device device) {
  io::RandomWeights w(seed, dtype, device);
  return AutoEncoder(w, cfg);
}

}  // namespace dype::vae
