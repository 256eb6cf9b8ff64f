#include "core/pipeline/components.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <filesystem>
#include <optional>

#include "core/common/error.h"
#include "core/flux/loader.h"
#include "core/io/model_layout.h"
#include "core/pipeline/demo_model.h"
#include "core/vae/autoencoder_loader.h"

namespace dype {

namespace fs = std::filesystem;

at::Device parse_device(const std::string& device) {
  const bool cuda = device == "cuda" || device.rfind("cuda:", 0) == 0;
  if (device != "cpu" && !cuda) throw InvalidArgument("unknown device '" + device + "' (valid: cpu, cuda, cuda:N)");
  if (cuda && !at::hasCUDA())
    throw InvalidArgument("device '" + device +
                          "' is not available: this build's LibTorch has no CUDA; use --device "
                          "cpu (or build against a CUDA LibTorch, README: GPU build)");
  at::Device d = at::kCPU;
  try {
    d = at::Device(device);
  } catch (const c10::Error&) {
    throw InvalidArgument("invalid device '" + device + "' (valid: cpu, cuda, cuda:N)");
  }
  if (cuda) {
    // Compiled in is not enough: the driver must see a GPU, and the index must exist.
    const int gpus = static_cast<int>(at::detail::getCUDAHooks().getNumGPUs());
    if (gpus == 0)
      throw InvalidArgument("device '" + device +
                            "': no GPU is visible to CUDA (driver missing, or "
                            "CUDA_VISIBLE_DEVICES hides them); use --device cpu");
    if (d.has_index() && d.index() >= gpus)
      throw InvalidArgument("device '" + device + "': this machine has " + std::to_string(gpus) + " GPU" +
                            (gpus == 1 ? "" : "s") + " (cuda:0" +
                            (gpus > 1 ? " to cuda:" + std::to_string(gpus - 1) : "") + ")");
  }
  return d;
}

std::string default_compute_dtype(const at::Device& device) { return device.is_cpu() ? "float32" : "bfloat16"; }

std::string compute_dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return c10::toString(dtype);
  }
}

at::ScalarType parse_compute_dtype(const std::string& dtype, const at::Device& device) {
  at::ScalarType t;
  if (dtype == "float32")
    t = at::kFloat;
  else if (dtype == "bfloat16")
    t = at::kBFloat16;
  else if (dtype == "float16")
    t = at::kHalf;
  else
    throw InvalidArgument("unknown dtype '" + dtype + "' (valid: float32, bfloat16, float16)");
  if (device.is_cpu() && t != at::kFloat)
    throw InvalidArgument("dtype '" + dtype +
                          "' is for GPUs: on the CPU the model computes in float32 (use --dtype "
                          "float32)");
  return t;
}

namespace {

std::string base_name(const std::string& p) {
  const fs::path fp = fs::path(p).lexically_normal();
  const std::string n = fp.filename().string();
  return n.empty() ? fp.parent_path().filename().string() : n;
}

// The component of `kind`: `explicit_path` when given, else what the layout found (itself or beside it).
std::string locate(const io::ModelLayout* layout, io::ComponentKind kind, const std::string& explicit_path) {
  if (!explicit_path.empty()) {
    std::error_code ec;
    if (!fs::exists(explicit_path, ec)) throw IoError("'" + explicit_path + "' does not exist");
    return explicit_path;
  }
  if (layout)
    if (const io::ModelComponent* c = layout->find(kind)) return c->path;
  return {};
}

// Tokenizers from --tokenizers DIR: DIR/tokenizer and DIR/tokenizer_2 (or the files directly in DIR).
void locate_tokenizers(const std::string& dir, std::string* clip, std::string* t5) {
  const io::ModelLayout l = io::detect_model_layout(dir);
  if (const auto* c = l.find(io::ComponentKind::ClipTokenizer)) *clip = c->path;
  if (const auto* c = l.find(io::ComponentKind::T5Tokenizer)) *t5 = c->path;
  if (clip->empty() || t5->empty())
    throw ModelError("--tokenizers '" + dir +
                     "' must hold the CLIP tokenizer (vocab.json + merges.txt, e.g. in "
                     "tokenizer/) and the T5 tokenizer (spiece.model, e.g. in tokenizer_2/); found " +
                     (clip->empty() ? std::string("no CLIP tokenizer") : "the CLIP tokenizer") + " and " +
                     (t5->empty() ? "no T5 tokenizer" : "the T5 tokenizer"));
}

}  // namespace

ModelFiles locate_model_files(const ModelPaths& paths) {
  if (paths.model.empty())
    throw InvalidArgument("no model given: pass a diffusers folder, a FLUX .safetensors file or demo");
  ModelFiles f;
  const io::ModelLayout layout = io::detect_model_layout(paths.model);
  using K = io::ComponentKind;
  f.transformer = locate(&layout, K::FluxTransformer, "");
  f.vae = locate(&layout, K::Autoencoder, paths.vae);
  f.clip = locate(&layout, K::ClipText, paths.clip);
  f.t5 = locate(&layout, K::T5Encoder, paths.t5);
  if (!paths.tokenizers.empty()) {
    locate_tokenizers(paths.tokenizers, &f.clip_tokenizer, &f.t5_tokenizer);
  } else {
    f.clip_tokenizer = locate(&layout, K::ClipTokenizer, "");
    f.t5_tokenizer = locate(&layout, K::T5Tokenizer, "");
  }
  // Every missing part at once, each with the option that supplies it.
  std::string missing;
  auto need = [&missing](const std::string& p, const char* what) {
    if (p.empty()) missing += std::string("\n  ") + what;
  };
  need(f.transformer, "the FLUX transformer (give --model a diffusers folder or flux1-*.safetensors)");
  need(f.vae, "the VAE: --vae ae.safetensors");
  need(f.clip, "the CLIP text encoder: --clip clip_l.safetensors");
  need(f.t5, "the T5 text encoder: --t5 t5xxl_fp16.safetensors");
  need(f.clip_tokenizer, "the CLIP tokenizer (vocab.json + merges.txt): --tokenizers DIR with tokenizer/");
  need(f.t5_tokenizer, "the T5 tokenizer (spiece.model): --tokenizers DIR with tokenizer_2/");
  if (!missing.empty())
    throw ModelError("'" + paths.model + "' (" + io::layout_kind_name(layout.kind) +
                     ") does not give a complete FLUX.1 model set; missing:" + missing);
  f.diffusers = layout.kind == io::LayoutKind::DiffusersPipeline;
  f.layout_path = layout.path;
  return f;
}

static text::TextEncoderOptions text_encoder_options(const PipelineComponents& c) {
  text::TextEncoderOptions to;
  to.device = c.text_device;
  to.dtype = c.text_device.is_cpu() ? at::kFloat : c.dtype;
  to.keep_storage_dtype = true;  // T5-XXL is the largest part after the transformer: stays as stored (mmap)
  return to;
}

void load_text_encoders(PipelineComponents& c) {
  if (c.demo || (c.clip && c.t5)) return;
  const text::TextEncoderOptions to = text_encoder_options(c);
  c.clip = text::load_clip_text_model(c.clip_path, to);
  c.t5 = text::load_t5_encoder(c.t5_path, to);
}

void release_text_encoders(PipelineComponents& c) {
  if (c.demo) return;  // built in memory from a seed: nothing to unmap, and it cannot be reloaded from a file
  c.clip = nullptr;    // the last references to the mapped weights: the files are unmapped here
  c.t5 = nullptr;
}

int flux_t5_length(bool schnell) { return schnell ? 256 : 512; }
int flux_default_steps(bool schnell) { return schnell ? 4 : 28; }

int t5_length_of(const PipelineComponents& c) {
  if (c.t5_length > 0) return c.t5_length;
  return flux_t5_length(c.transformer && !c.transformer->config().guidance_embed);
}

int base_resolution_of(const PipelineComponents& c) { return c.base_resolution > 0 ? c.base_resolution : 1024; }

int default_size_of(const PipelineComponents& c) {
  return c.base_resolution > 0 ? kTrainedDemoSizeOverBase * c.base_resolution : 1024;
}

int default_steps_of(const PipelineComponents& c) {
  if (c.default_steps > 0) return c.default_steps;
  return flux_default_steps(c.transformer && !c.transformer->config().guidance_embed);
}

PipelineComponents load_components(const ModelPaths& paths, const LoadOptions& options, StepObserver* observer) {
  PipelineComponents c;
  c.device = parse_device(options.target.device);
  c.dtype = parse_compute_dtype(options.target.dtype, c.device);
  c.text_device = options.text_encoders_on_cpu ? at::Device(at::kCPU) : c.device;
  if (observer) observer->on_stage("loading");
  if (paths.model == kDemoModel)
    return load_trained_demo_components(c.device, c.dtype, c.text_device, paths.demo_weights);
  if (!paths.demo_weights.empty())
    throw InvalidArgument("--demo-weights applies to --model demo (the model is '" + paths.model + "')");
  if (paths.model == kDemoRandomModel) return make_demo_components(c.device, c.dtype, c.text_device);
  const ModelFiles files = locate_model_files(paths);
  c.transformer_path = files.transformer;
  c.vae_path = files.vae;
  c.clip_path = files.clip;
  c.t5_path = files.t5;
  c.clip_tokenizer_path = files.clip_tokenizer;
  c.t5_tokenizer_path = files.t5_tokenizer;

  flux::FluxLoadOptions fo;
  fo.dtype = c.dtype;
  fo.device = c.device;
  // Weights narrower than the compute dtype stay as stored (memory-mapped bf16, float8 codes with their scales)
  // and are converted one layer at a time: a bf16 or fp8 FLUX never expands to 47.6 GB of float32.
  fo.keep_storage_dtype = true;
  flux::FluxCheckpointInfo info;
  std::optional<std::string> config_json;
  c.transformer_store = flux::open_flux_checkpoint(c.transformer_path, &config_json);
  c.transformer = flux::load_flux(c.transformer_store, fo, &info, config_json);
  // The VAE runs in float32 on the CPU and in the compute dtype on a GPU (its bf16 decode is what ComfyUI does).
  c.vae = vae::load_autoencoder(c.vae_path, c.dtype, c.device);
  load_text_encoders(c);
  c.clip_tokenizer = std::make_unique<text::ClipTokenizer>(text::ClipTokenizer::load(c.clip_tokenizer_path));
  c.t5_tokenizer = std::make_unique<text::T5Tokenizer>(text::T5Tokenizer::load(c.t5_tokenizer_path));

  const bool schnell = !c.transformer->config().guidance_embed;
  const std::string variant = schnell ? "FLUX.1-schnell" : "FLUX.1-dev";
  c.label = variant + " (" + (files.diffusers ? "diffusers: " : "") +
            base_name(files.diffusers ? files.layout_path : c.transformer_path) + ")";
  return c;
}

}  // namespace dype
