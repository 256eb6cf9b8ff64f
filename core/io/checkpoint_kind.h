#pragma once
// What a checkpoint holds, judged from its tensor names alone (headers only: a 24 GB file costs one small read),
// so that a renamed file is still recognised and a file given in the wrong place is named for what it is.
// The FLUX components (transformer, VAE, CLIP, T5) are recognised in BFL, diffusers and Hugging Face layouts, also
// behind ComfyUI prefixes ("model.diffusion_model.", "vae.", ...) and several to a file (all-in-one checkpoints).
// The loaders (flux, vae, text) word their "this is not a ... checkpoint" errors here, so the advice on what the
// file looks like and where to pass it instead is written once.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace dype::io {

enum class ComponentKind {
  FluxTransformer,  // FLUX.1 MMDiT (BFL: double_blocks.*, diffusers: transformer_blocks.*)
  Autoencoder,      // FLUX VAE (BFL: encoder.down.*, decoder.up.*; diffusers: *.down_blocks.*, *.up_blocks.*)
  ClipText,         // CLIP-L text encoder (Hugging Face text_model.*)
  T5Encoder,        // T5 v1.1 encoder (Hugging Face shared.weight, encoder.block.*)
  ClipTokenizer,    // vocab.json + merges.txt
  T5Tokenizer,      // spiece.model
  Scheduler,        // scheduler_config.json
  Unknown,
};

enum class KeyLayout { Bfl, Diffusers, HuggingFace, None };

const char* component_kind_name(ComponentKind kind);  // "flux transformer", "autoencoder", ...
const char* key_layout_name(KeyLayout layout);        // "BFL keys", "diffusers keys", ...

// One component found among a set of tensor names. ComfyUI checkpoints put a prefix in front of the keys
// ("model.diffusion_model." for the transformer, "vae." / "first_stage_model." for the VAE, ...); `prefix` is
// what must be prepended to the component's own key names.
struct ComponentGuess {
  ComponentKind kind = ComponentKind::Unknown;
  KeyLayout layout = KeyLayout::None;
  std::string prefix;
  std::size_t tensor_count = 0;  // names under `prefix` attributed to this component
};

// Every component recognised among `names` (a file may hold several: all-in-one checkpoints), longest prefix
// first. Empty when nothing is recognised.
std::vector<ComponentGuess> classify_tensor_names(const std::vector<std::string>& names);

// The prefix in front of `anchor` (a key every checkpoint of a kind has, e.g. "img_in.weight"): "" when a name
// is `anchor` itself, else that of the first name ending in "." + anchor ("model.diffusion_model."); nullopt
// when no name ends in it at a key boundary.
std::optional<std::string> find_key_prefix(const std::vector<std::string>& names, const std::string& anchor);

// What `names` look like, for an error about a file given in the wrong place: "an autoencoder (VAE, e.g.
// ae.safetensors): pass it as the VAE (--vae) instead", "a LoRA: pass it with --lora", "a Stable Diffusion
// UNet, not FLUX", ...; components of kind `except` are not offered (the caller is looking for one and found it
// incomplete). "" when nothing is recognised.
std::string describe_tensor_names(const std::vector<std::string>& names, ComponentKind except = ComponentKind::Unknown);

// The ModelError message for `label` given as a component of kind `expected` without being one:
//   "'<label>' is not a T5 encoder checkpoint: <why>; it looks like a CLIP text encoder (e.g. clip_l.safetensors):
//    pass it as the CLIP text encoder (--clip) instead. First tensors: a, b, ... (N tensors)"
// `why` says what was missing (e.g. "it has no tensor 'shared.weight'").
std::string wrong_checkpoint_message(const std::string& label, ComponentKind expected, const std::string& why,
                                     const std::vector<std::string>& names);

}  // namespace dype::io
