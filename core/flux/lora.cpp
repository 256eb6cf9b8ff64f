#include "core/flux/lora.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "core/common/error.h"
#include "core/common/strings.h"
#include "core/flux/loader.h"
#include "core/io/tensor_store.h"

namespace dype::flux {

namespace {

std::string underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

// Where the adapters of one key stem go: a row range of one of our Linears.
struct Target {
  LinearImpl* layer = nullptr;
  std::string module;  // BFL name
  std::int64_t row_start = 0, rows = 0;
  bool swap_halves = false;  // diffusers norm_out.linear: B's (scale, shift) halves -> our (shift, scale)
  const char* family = "";
};

// Every stem a LoRA file may use for a layer of `model`, in each key family.
std::map<std::string, Target> lora_targets(const FluxImpl& model) {
  std::map<std::string, Target> t;
  const std::int64_t hidden = model.config().hidden_size;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    auto* lin = dynamic_cast<LinearImpl*>(item.value().get());
    if (!lin) continue;
    const std::string& m = item.key();
    const std::int64_t out = lin->out_features();
    const Target whole{lin, m, 0, out, false, "BFL"};
    t[m] = whole;
    t["lora_unet_" + underscored(m)] = Target{lin, m, 0, out, false, "kohya"};
    const DiffusersSource src = diffusers_source(m + ".weight");
    const std::size_t n = src.names.size();
    for (std::size_t i = 0; i < n; ++i) {
      const std::string d = src.names[i].substr(0, src.names[i].size() - std::string(".weight").size());
      Target part{lin, m, 0, out, src.assembly == DiffusersAssembly::SwapHalves, "diffusers"};
      if (src.assembly == DiffusersAssembly::Concat) {
        // q, k, v are `hidden` rows each; the last part (v, or proj_mlp in a single block) takes the rest.
        part.row_start = static_cast<std::int64_t>(i) * hidden;
        part.rows = i + 1 < n ? hidden : out - static_cast<std::int64_t>(n - 1) * hidden;
      }
      t[d] = part;
      part.family = "kohya";
      t["lora_transformer_" + underscored(d)] = part;
    }
  }
  return t;
}

enum class Role { Down, Up, Alpha };

// Splits "<stem>.<suffix>" for the LoRA suffixes of the three families; false for anything else.
bool split_key(const std::string& key, std::string* stem, Role* role) {
  static const std::pair<const char*, Role> suffixes[] = {
      {".lora_A.weight", Role::Down}, {".lora_B.weight", Role::Up},      {".lora_down.weight", Role::Down},
      {".lora_up.weight", Role::Up},  {".lora.down.weight", Role::Down}, {".lora.up.weight", Role::Up},
      {".alpha", Role::Alpha},
  };
  for (const auto& [suffix, r] : suffixes) {
    if (!ends_with(key, suffix)) continue;
    *stem = key.substr(0, key.size() - std::string(suffix).size());
    *role = r;
    return true;
  }
  return false;
}

// The target of a stem, trying the prefixes that trainers and converters put in front of the module names.
const Target* find_target(const std::map<std::string, Target>& targets, const std::string& stem) {
  static const char* prefixes[] = {"", "diffusion_model.", "model.diffusion_model.", "transformer.",
                                   "base_model.model."};
  for (const char* p : prefixes) {
    const std::string pre(p);
    if (stem.compare(0, pre.size(), pre) != 0) continue;
    if (auto it = targets.find(stem.substr(pre.size())); it != targets.end()) return &it->second;
  }
  return nullptr;
}

std::string listing(const std::vector<std::string>& keys, std::size_t max = 12) {
  std::ostringstream os;
  for (std::size_t i = 0; i < keys.size() && i < max; ++i) os << "\n    " << keys[i];
  if (keys.size() > max) os << "\n    ... and " << keys.size() - max << " more";
  return os.str();
}

struct Group {
  std::string down_key, up_key, alpha_key;
  const Target* target = nullptr;
};

}  // namespace

std::uint64_t LoraFile::bytes() const {
  std::uint64_t n = 0;
  for (const auto& l : layers) n += static_cast<std::uint64_t>(l.down.nbytes() + l.up.nbytes());
  return n;
}

LoraFile load_lora(const std::string& path, const FluxImpl& model) {
  const auto store = io::TensorStore::open(path);
  const std::map<std::string, Target> targets = lora_targets(model);
  const std::string what = "LoRA '" + path + "'";

  std::map<std::string, Group> groups;  // by stem as written in the file
  std::vector<std::string> unmatched;
  const std::vector<std::string> names = store->names();
  for (const auto& key : names) {
    std::string stem;
    Role role;
    const Target* target = split_key(key, &stem, &role) ? find_target(targets, stem) : nullptr;
    if (!target) {
      unmatched.push_back(key);
      continue;
    }
    Group& g = groups[stem];
    g.target = target;
    (role == Role::Down ? g.down_key : role == Role::Up ? g.up_key : g.alpha_key) = key;
  }
  if (names.empty()) throw ModelError(what + " holds no tensors");
  if (!unmatched.empty()) {
    const bool text = std::any_of(unmatched.begin(), unmatched.end(), [](const std::string& k) {
      return k.rfind("lora_te", 0) == 0 || k.rfind("text_encoder", 0) == 0;
    });
    throw ModelError(
        what + ": " + std::to_string(unmatched.size()) + " of " + std::to_string(names.size()) +
        " tensors match no layer of this FLUX transformer (" + model.config().describe() + "):" + listing(unmatched) +
        "\n  Expected LoRA keys of BFL/ComfyUI (diffusion_model.double_blocks.N.img_attn.qkv.lora_A.weight), kohya "
        "(lora_unet_double_blocks_N_img_attn_qkv.lora_down.weight, .alpha) or diffusers/PEFT "
        "(transformer.transformer_blocks.N.attn.to_q.lora_A.weight) for this model's layers" +
        (text ? std::string(".\n  Text-encoder LoRA (lora_te*, text_encoder.*) is not supported.") : std::string(".")));
  }

  LoraFile file;
  file.path = path;
  std::set<std::string> families;
  std::vector<std::string> problems;
  for (const auto& [stem, g] : groups) {
    const Target& t = *g.target;
    if (g.down_key.empty() || g.up_key.empty()) {
      problems.push_back(
          stem + ": " +
          (g.down_key.empty() ? "an up/B matrix without its down/A" : "a down/A matrix without its up/B"));
      continue;
    }
    LoraLayer l;
    l.module = t.module;
    l.key = stem;
    // Copies in the file's dtype (bf16 usually: half the memory of float32) rather than views of the mapping: a
    // LoRA file replaced or truncated while it is cached must not fault the next set_loras.
    l.down = store->tensor(g.down_key).clone();  // [r, in]
    l.up = store->tensor(g.up_key).clone();      // [rows, r]
    if (!l.down.is_floating_point() || !l.up.is_floating_point()) {
      problems.push_back(stem + ": A and B must be floating-point, got " +
                         std::string(c10::toString(l.down.scalar_type())) + " and " +
                         c10::toString(l.up.scalar_type()));
      continue;
    }
    const std::int64_t in = t.layer->in_features();
    const bool ok = l.down.dim() == 2 && l.up.dim() == 2 && l.down.size(1) == in && l.up.size(0) == t.rows &&
                    l.up.size(1) == l.down.size(0) && l.down.size(0) > 0;
    if (!ok) {
      problems.push_back(
          stem + ": A " + c10::str(l.down.sizes()) + ", B " + c10::str(l.up.sizes()) + " do not fit " + t.module +
          (t.rows != t.layer->out_features()
               ? " rows [" + std::to_string(t.row_start) + ", " + std::to_string(t.row_start + t.rows) + ")"
               : std::string()) +
          " (expected A [r, " + std::to_string(in) + "], B [" + std::to_string(t.rows) + ", r])");
      continue;
    }
    const std::int64_t rank = l.down.size(0);
    if (!g.alpha_key.empty()) {
      const at::Tensor alpha = store->tensor(g.alpha_key, at::kFloat);
      if (alpha.numel() != 1) {
        problems.push_back(g.alpha_key + ": alpha must be a single value, got shape " + c10::str(alpha.sizes()));
        continue;
      }
      l.alpha_scale = alpha.item<double>() / static_cast<double>(rank);
    }
    if (t.swap_halves) {
      const std::int64_t h = l.up.size(0) / 2;
      l.up = at::cat({l.up.narrow(0, h, h), l.up.narrow(0, 0, h)}, 0);  // (scale, shift) -> (shift, scale)
    }
    l.row_start = t.row_start;
    file.rank = std::max(file.rank, rank);
    families.insert(t.family);
    file.layers.push_back(std::move(l));
  }
  if (!problems.empty())
    throw ModelError(what + ": " + std::to_string(problems.size()) +
                     " adapters cannot be applied to this FLUX "
                     "transformer (" +
                     model.config().describe() + "):" + listing(problems));
  for (const auto& f : families) file.formats += (file.formats.empty() ? "" : " + ") + f;
  return file;
}

void set_loras(FluxImpl& model, const std::vector<LoraAdapterSet>& loras) {
  std::map<std::string, std::vector<LoraDelta>> per_module;
  for (const auto& set : loras) {
    if (!set.file) continue;
    for (const auto& l : set.file->layers)
      per_module[l.module].push_back(LoraDelta{l.down, l.up, set.strength * l.alpha_scale, l.row_start});
  }
  // Every Linear is set, so that a layer that had adapters before and has none now loses them.
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    auto* lin = dynamic_cast<LinearImpl*>(item.value().get());
    if (!lin) continue;
    auto it = per_module.find(item.key());
    lin->set_loras(it == per_module.end() ? std::vector<LoraDelta>{} : it->second, model.dtype(), model.device());
  }
}

}  // namespace dype::flux
