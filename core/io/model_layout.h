#pragma once
// What a model path is: a diffusers pipeline folder (model_index.json + component subfolders), one diffusers
// component folder, a single safetensors file (BFL / ComfyUI style: flux1-dev.safetensors, ae.safetensors,
// clip_l.safetensors, t5xxl_*.safetensors), a sharded index, a folder of such single files, or a folder holding
// model folders. Components are recognised from their tensor names (headers only: opening a 24 GB file costs
// one small read), so a renamed file is still found, and a file whose content contradicts its role is reported.
//
// Used by `dype info` (describe) and by the pipeline (locate the transformer, VAE, text encoders, tokenizers).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/io/tensor_store.h"

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

// Architecture facts read off the tensor shapes (never from a config file), for display and cross-checks:
// e.g. {"hidden_size", "128"}, {"depth", "2"}, {"variant", "dev (guidance embedding present)"}.
struct ComponentHints {
  std::vector<std::pair<std::string, std::string>> items;  // in display order
  std::map<std::string, std::int64_t> numbers;             // the numeric items, for comparison with config.json
};
ComponentHints infer_hints(const TensorStore& store, const ComponentGuess& guess);

// Compares a diffusers config.json with hints inferred from the weights; one line per disagreement
// ("config.json num_layers = 19, weights have 2 double blocks"). Throws FormatError for an unreadable config.
std::vector<std::string> check_config(const std::string& config_path, ComponentKind kind, const ComponentHints& hints);

struct ModelComponent {
  std::string role;        // diffusers subfolder name ("transformer", "vae", ...) or the file's name
  std::string class_name;  // diffusers class from model_index.json ("FluxTransformer2DModel"); empty otherwise
  ComponentKind kind = ComponentKind::Unknown;  // from the content (tensor names / tokenizer files)
  KeyLayout layout = KeyLayout::None;
  std::string prefix;                     // key prefix inside the weight files
  std::string path;                       // the component's folder or file
  std::vector<std::string> weight_files;  // safetensors files (or one *.safetensors.index.json), sorted
  std::string config_file;                // config.json / scheduler_config.json when present
  std::vector<std::string> other_files;   // tokenizer files and the like
  std::string problem;                    // non-empty when missing, unreadable or contradicting its role
  std::string note;                       // informational (e.g. a diffusers component FLUX does not use)
  std::vector<ComponentGuess> contents;   // everything recognised in the weight files
};

enum class LayoutKind {
  DiffusersPipeline,   // folder with model_index.json
  DiffusersComponent,  // folder with config.json and weights (e.g. .../transformer)
  SingleFile,          // one .safetensors file
  ShardedIndex,        // one *.safetensors.index.json
  FileFolder,          // folder of single-file components (ComfyUI models folder)
  TokenizerFolder,     // folder with tokenizer files only
  SchedulerFolder,     // folder with scheduler_config.json only
  ModelCollection,     // folder whose subfolders hold models
};
const char* layout_kind_name(LayoutKind kind);

struct ModelLayout {
  LayoutKind kind = LayoutKind::SingleFile;
  std::string path;
  std::string pipeline_class;              // diffusers "_class_name"
  std::vector<ModelComponent> components;  // what `path` itself holds
  std::vector<ModelComponent> siblings;    // SingleFile / ShardedIndex: components beside it (same folder)
  std::vector<std::pair<std::string, LayoutKind>> children;  // ModelCollection: subfolders holding models

  // The first component of `kind`, looking at `components` then at `siblings`; null when there is none.
  const ModelComponent* find(ComponentKind kind) const;
};

// Throws IoError for a path that does not exist and FormatError for one that is not a model (naming what was
// expected). Problems of single components (a missing diffusers subfolder, a corrupt file) do not throw: they are
// recorded in ModelComponent::problem so that `dype info` can show everything at once.
ModelLayout detect_model_layout(const std::string& path);

}  // namespace dype::io
