#pragma once
// What a model path is: a diffusers pipeline folder (model_index.json + component subfolders), one diffusers
// component folder, a single safetensors file (BFL / ComfyUI style: flux1-dev.safetensors, ae.safetensors,
// clip_l.safetensors, t5xxl_*.safetensors), a sharded index, a folder of such single files, or a folder holding
// model folders; and, for a single file, the other components beside it. Weight files are recognised by what
// they hold (checkpoint_kind.h), so a renamed file is still found, and a file whose content contradicts its role
// is reported.
//
// Used by `dype info` (describe), by the pipeline (locate the transformer, VAE, text encoders, tokenizers) and by
// the component loaders (component_path / component_config: one component given on its own).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/io/checkpoint_kind.h"

namespace dype::io {

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

// ---- one component given on its own (the loaders' --model / --vae / --clip / --t5 paths) ----

// What to open for a component given as `path`: a diffusers pipeline folder (model_index.json) stands for its
// `subfolder` ("transformer", "vae"); any other file or folder for itself. Throws IoError, naming the component
// `what` ("FLUX transformer", "autoencoder"), when `path` does not exist or the pipeline folder lacks `subfolder`.
std::string component_path(const std::string& path, const std::string& subfolder, const std::string& what);

// The diffusers config.json of the component at `path`: the one inside a component folder; for a file, the one
// beside it when its "_class_name" is `class_name` (another model's config.json in the same folder is not this
// file's; an empty `class_name` never takes one beside a file). nullopt when there is none.
std::optional<std::string> component_config(const std::string& path, const std::string& class_name);

}  // namespace dype::io
