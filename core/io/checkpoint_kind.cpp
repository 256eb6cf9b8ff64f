#include "core/io/checkpoint_kind.h"

#include <algorithm>
#include <sstream>

#include "core/common/strings.h"

namespace dype::io {

namespace {

struct Anchor {
  ComponentKind kind;
  KeyLayout layout;
  const char* key;  // a key every checkpoint of this kind has; what precedes it is the prefix
};
// The VAE anchors are refined to BFL or diffusers below (both layouts share conv_in).
constexpr Anchor kAnchors[] = {
    {ComponentKind::FluxTransformer, KeyLayout::Bfl, "double_blocks.0.img_attn.qkv.weight"},
    {ComponentKind::FluxTransformer, KeyLayout::Diffusers, "transformer_blocks.0.attn.to_q.weight"},
    {ComponentKind::Autoencoder, KeyLayout::Bfl, "decoder.conv_in.weight"},
    {ComponentKind::Autoencoder, KeyLayout::Bfl, "encoder.conv_in.weight"},
    {ComponentKind::ClipText, KeyLayout::HuggingFace, "text_model.embeddings.token_embedding.weight"},
    {ComponentKind::T5Encoder, KeyLayout::HuggingFace, "encoder.block.0.layer.0.SelfAttention.q.weight"},
};

// First key segments owned by each component (after its prefix), used to attribute names to components.
const std::vector<std::string>& roots(ComponentKind kind, KeyLayout layout) {
  static const std::vector<std::string> flux_bfl{"double_blocks.", "single_blocks.", "img_in.",      "txt_in.",
                                                 "time_in.",       "vector_in.",     "guidance_in.", "final_layer."};
  static const std::vector<std::string> flux_diffusers{"transformer_blocks.",
                                                       "single_transformer_blocks.",
                                                       "x_embedder.",
                                                       "context_embedder.",
                                                       "time_text_embed.",
                                                       "norm_out.",
                                                       "proj_out."};
  static const std::vector<std::string> vae{"encoder.", "decoder.", "quant_conv.", "post_quant_conv."};
  static const std::vector<std::string> clip{"text_model.", "text_projection.", "logit_scale"};
  static const std::vector<std::string> t5{"shared.", "encoder."};
  static const std::vector<std::string> none;
  switch (kind) {
    case ComponentKind::FluxTransformer: return layout == KeyLayout::Bfl ? flux_bfl : flux_diffusers;
    case ComponentKind::Autoencoder: return vae;
    case ComponentKind::ClipText: return clip;
    case ComponentKind::T5Encoder: return t5;
    default: return none;
  }
}

bool owns(const ComponentGuess& g, const std::string& name) {
  if (!starts_with(name, g.prefix)) return false;
  for (const auto& r : roots(g.kind, g.layout))
    if (name.compare(g.prefix.size(), r.size(), r) == 0) return true;
  return false;
}

// How a FLUX component is named in messages: what it is (with a typical file name, to help a user who only
// knows their files by name) and where it goes instead (the CLI option; the GUI's fields carry the same names).
struct KindWords {
  const char* article;  // "a T5 encoder": for "is not <article> checkpoint"
  const char* example;  // " (e.g. t5xxl_fp16.safetensors)"
  const char* where;    // "as the T5 encoder (--t5)"
};
KindWords words(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::FluxTransformer:
      return {"a FLUX transformer", " (e.g. flux1-dev.safetensors)", "as the model (--model)"};
    case ComponentKind::Autoencoder: return {"an autoencoder", " (VAE, e.g. ae.safetensors)", "as the VAE (--vae)"};
    case ComponentKind::ClipText:
      return {"a CLIP text encoder", " (e.g. clip_l.safetensors)", "as the CLIP text encoder (--clip)"};
    case ComponentKind::T5Encoder:
      return {"a T5 encoder", " (e.g. t5xxl_fp16.safetensors)", "as the T5 encoder (--t5)"};
    default: break;
  }
  return {"a model", "", ""};
}

bool any_name_has(const std::vector<std::string>& names, const char* part) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

std::string first_names(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (std::size_t i = 0; i < names.size() && i < 5; ++i) os << (i ? ", " : "") << names[i];
  if (names.size() > 5) os << ", ... (" << names.size() << " tensors)";
  if (names.empty()) os << "(no tensors)";
  return os.str();
}

}  // namespace

const char* component_kind_name(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::FluxTransformer: return "flux transformer";
    case ComponentKind::Autoencoder: return "autoencoder";
    case ComponentKind::ClipText: return "CLIP text encoder";
    case ComponentKind::T5Encoder: return "T5 encoder";
    case ComponentKind::ClipTokenizer: return "CLIP tokenizer";
    case ComponentKind::T5Tokenizer: return "T5 tokenizer";
    case ComponentKind::Scheduler: return "scheduler";
    case ComponentKind::Unknown: break;
  }
  return "unknown";
}

const char* key_layout_name(KeyLayout layout) {
  switch (layout) {
    case KeyLayout::Bfl: return "BFL keys";
    case KeyLayout::Diffusers: return "diffusers keys";
    case KeyLayout::HuggingFace: return "Hugging Face keys";
    case KeyLayout::None: break;
  }
  return "no weights";
}

std::vector<ComponentGuess> classify_tensor_names(const std::vector<std::string>& names) {
  std::vector<ComponentGuess> guesses;
  for (const auto& n : names) {
    for (const auto& a : kAnchors) {
      if (!ends_with(n, a.key)) continue;
      const std::string prefix = n.substr(0, n.size() - std::string(a.key).size());
      if (!prefix.empty() && prefix.back() != '.') continue;  // "single_transformer_blocks.0..." is not a match
      const bool known = std::any_of(guesses.begin(), guesses.end(),
                                     [&](const ComponentGuess& g) { return g.kind == a.kind && g.prefix == prefix; });
      if (known) continue;
      ComponentGuess g;
      g.kind = a.kind;
      g.layout = a.layout;
      g.prefix = prefix;
      guesses.push_back(g);
    }
  }
  // VAE layout: BFL has encoder.down.N / decoder.up.N / *.mid.block_1, diffusers *_blocks and mid_block.
  for (auto& g : guesses) {
    if (g.kind != ComponentKind::Autoencoder) continue;
    const bool diffusers = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return starts_with(n, g.prefix + "decoder.mid_block.") || starts_with(n, g.prefix + "encoder.mid_block.") ||
             starts_with(n, g.prefix + "decoder.up_blocks.") || starts_with(n, g.prefix + "encoder.down_blocks.");
    });
    g.layout = diffusers ? KeyLayout::Diffusers : KeyLayout::Bfl;
  }
  // Attribute every name to the matching component with the longest prefix.
  std::sort(guesses.begin(), guesses.end(), [](const ComponentGuess& a, const ComponentGuess& b) {
    return a.prefix.size() != b.prefix.size() ? a.prefix.size() > b.prefix.size() : a.kind < b.kind;
  });
  for (const auto& n : names)
    for (auto& g : guesses)
      if (owns(g, n)) {
        ++g.tensor_count;
        break;
      }
  return guesses;
}

std::optional<std::string> find_key_prefix(const std::vector<std::string>& names, const std::string& anchor) {
  std::optional<std::string> found;
  for (const auto& n : names) {
    if (n == anchor) return std::string();
    if (!found && ends_with(n, "." + anchor)) found = n.substr(0, n.size() - anchor.size());
  }
  return found;
}

std::string describe_tensor_names(const std::vector<std::string>& names, ComponentKind except) {
  // Adapters first: their names embed the names of the layers they patch, anchors included.
  if (any_name_has(names, "lora_up.") || any_name_has(names, "lora_down.") || any_name_has(names, "lora_A.") ||
      any_name_has(names, "lora_B."))
    return "a LoRA: pass it with --lora";
  // The component holding most of the tensors, among those the caller is not looking for.
  const ComponentGuess* best = nullptr;
  const auto guesses = classify_tensor_names(names);
  for (const auto& g : guesses)
    if (g.kind != except && (!best || g.tensor_count > best->tensor_count)) best = &g;
  if (best) {
    const KindWords w = words(best->kind);
    return std::string(w.article) + w.example + ": pass it " + w.where + " instead";
  }
  // Other diffusion models people keep in the same folders.
  if (any_name_has(names, "input_blocks.") || any_name_has(names, "down_blocks.0.attentions"))
    return "a Stable Diffusion UNet, not FLUX";
  if (any_name_has(names, "joint_blocks.") || any_name_has(names, "pos_embed"))
    return "a Stable Diffusion 3 (MMDiT) model, not FLUX";
  return "";
}

std::string wrong_checkpoint_message(const std::string& label, ComponentKind expected, const std::string& why,
                                     const std::vector<std::string>& names) {
  std::string msg = "'" + label + "' is not " + words(expected).article + " checkpoint: " + why;
  const std::string seems = describe_tensor_names(names, expected);
  if (!seems.empty()) msg += "; it looks like " + seems;
  return msg + ". First tensors: " + first_names(names);
}

}  // namespace dype::io
