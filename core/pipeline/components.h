#pragma once
// The loaded parts of a FLUX.1 model set and where they came from: tokenizers, text encoders, transformer, VAE.
// `load_components` finds them from what the user gave (DESIGN.md §6): a diffusers folder, a BFL/ComfyUI
// transformer file whose siblings (ae, clip_l, t5xxl, tokenizer folders) are discovered in the same folder, explicit
// paths for any of them (which win over discovery), or "demo" (core/pipeline/demo_model.h).
#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "core/flux/model.h"
#include "core/io/tensor_store.h"
#include "core/pipeline/generation_request.h"  // StepObserver
#include "core/pipeline/pipeline_types.h"
#include "core/text/clip_text_model.h"
#include "core/text/clip_tokenizer.h"
#include "core/text/t5_encoder.h"
#include "core/text/t5_tokenizer.h"
#include "core/vae/autoencoder.h"

namespace dype {

struct PipelineComponents {
  std::unique_ptr<text::ClipTokenizer> clip_tokenizer;
  std::unique_ptr<text::T5Tokenizer> t5_tokenizer;
  text::ClipTextModel clip{nullptr};
  text::T5Encoder t5{nullptr};
  flux::Flux transformer{nullptr};
  std::shared_ptr<const io::TensorStore> transformer_store;  // its file mapping (null for the demo)
  vae::AutoEncoder vae{nullptr};
  at::Device device = at::kCPU;       // transformer and VAE
  at::ScalarType dtype = at::kFloat;  // transformer compute dtype
  at::Device text_device = at::kCPU;  // text encoders
  std::string label;                  // "FLUX.1-dev (diffusers: FLUX.1-dev)", "demo (random weights)"
  bool demo = false;
  // Read from the model where it says so (the trained demo); 0: FLUX.1's conventions (T5 length 256 for schnell,
  // 512 for dev; trained at 1024 px).
  int t5_length = 0;
  int base_resolution = 0;
  int default_steps = 0;
  // Where each part came from (for `dype info`-style messages and the metadata).
  std::string transformer_path, vae_path, clip_path, t5_path, clip_tokenizer_path, t5_tokenizer_path;
};

// The model's own conventions where it states them (PipelineComponents::t5_length...), else FLUX.1's: T5 length
// 256 for schnell and 512 for dev, trained at 1024 px, 4 steps for schnell and 28 for dev.
int t5_length_of(const PipelineComponents& c);
int flux_t5_length(bool schnell);  // FLUX.1's rule, for models that state none (also the file-header footprint)
int flux_default_steps(bool schnell);
int base_resolution_of(const PipelineComponents& c);
int default_steps_of(const PipelineComponents& c);
// The square side a picture gets when none is asked for: 1024 px (FLUX.1's native size), the trained demo
// kTrainedDemoSizeOverBase × its base.
int default_size_of(const PipelineComponents& c);

// Parses "cpu", "cuda", "cuda:1" and "float32" | "bfloat16" | "float16", and checks that this build can use them
// (InvalidArgument naming the option and the valid values otherwise; half precision on the CPU is refused: the
// CPU path computes in float32).
at::Device parse_device(const std::string& device);
at::ScalarType parse_compute_dtype(const std::string& dtype, const at::Device& device);
// The compute dtype a device gets when none is asked for: float32 on the CPU (bf16 matmuls are slow there and
// half precision is refused), bfloat16 on a GPU (FLUX's own precision; float32 would need 47.6 GB of weights).
std::string default_compute_dtype(const at::Device& device);
// The name parse_compute_dtype reads for a dtype ("float32", "bfloat16", "float16").
std::string compute_dtype_name(at::ScalarType dtype);

// The files of a model set: found from what the user gave (see above). Throws ModelError listing every part
// that is missing, each with the option that supplies it; IoError for an explicit path that does not exist.
struct ModelFiles {
  std::string transformer, vae, clip, t5, clip_tokenizer, t5_tokenizer;
  bool diffusers = false;   // a diffusers pipeline folder
  std::string layout_path;  // the folder or file that was detected
};
ModelFiles locate_model_files(const ModelPaths& paths);

// Text encoders are loaded with the other parts and may be released after encoding when memory is tight (the
// memory plan decides): release drops them (the mapped files are unmapped), load maps them again (cheap: the
// weights stay as stored, and the files are usually still in the page cache). No-ops for the demo model.
void load_text_encoders(PipelineComponents& c);
void release_text_encoders(PipelineComponents& c);

// Throws IoError / FormatError (files), ModelError (content, or a component that cannot be found: the message
// says which option to pass), InvalidArgument (device / dtype).
PipelineComponents load_components(const ModelPaths& paths, const LoadOptions& options, StepObserver* observer);

}  // namespace dype
