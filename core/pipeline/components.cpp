#include "core/pipeline/components.h"

#include <filesystem>

#include "core/common/error.h"
#include "core/flux/loader.h"
#include "core/io/model_layout.h"
#include "core/pipeline/demo_model.h"
#include "core/vae/autoencoder_loader.h"

namespace dype {

namespace fs = std::filesystem;

at::Device parse_device(const std::string& device) {
  const bool cuda = device == "cuda" || device.rfind("cuda:", 0) == 0;
  if (device != "cpu" && !cuda)
    throw InvalidArgument("unknown device '" + device + "' (valid: cpu, cuda, cuda:N)");
  if (cuda && !at::hasCUDA())
    throw InvalidArgument("device '" + device + "' is not available: this build's LibTorch has no CUDA or no GPU is "
                          "visible; use --device cpu");
  try {
    return at::Device(device);
  } catch (const c10::Error&) {
    throw InvalidArgument("invalid device '" + device + "' (valid: cpu, cuda, cuda:N)");
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
    throw InvalidArgument("dtype '" + dtype + "' is for GPUs: on the CPU the model computes in float32 (use --dtype "
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
    throw ModelError("--tokenizers '" + dir + "' must hold the CLIP tokenizer (vocab.json + merges.txt, e.g. in "
                     "tokenizer/) and the T5 tokenizer (spiece.model, e.g. in tokenizer_2/); found " +
                     (clip->empty() ? std::string("no CLIP tokenizer") : "the CLIP tokenizer") + " and " +
                     (t5->empty() ? "no T5 tokenizer" : "the T5 tokenizer"));
}

}  // namespace

PipelineComponents load_components(const ModelPaths& paths, const LoadOptions& options, StepObserver* observer) {
  PipelineComponents c;
  c.device = parse_device(options.device);
  c.dtype = parse_compute_dtype(options.dtype, c.device);
  c.text_device = options.text_encoders_on_cpu ? at::Device(at::kCPU) : c.device;
  if (observer) observer->on_stage("loading");
  if (paths.model.empty()) throw InvalidArgument("no model given: pass a diffusers folder, a FLUX .safetensors file or demo");
  if (paths.model == "demo") {
    c = make_demo_components(c.device, c.dtype, c.text_device);
    return c;
  }

  const io::ModelLayout layout = io::detect_model_layout(paths.model);
  using K = io::ComponentKind;
  c.transformer_path = locate(&layout, K::FluxTransformer, "");
  c.vae_path = locate(&layout, K::Autoencoder, paths.vae);
  c.clip_path = locate(&layout, K::ClipText, paths.clip);
  c.t5_path = locate(&layout, K::T5Encoder, paths.t5);
  if (!paths.tokenizers.empty()) {
    locate_tokenizers(paths.tokenizers, &c.clip_tokenizer_path, &c.t5_tokenizer_path);
  } else {
    c.clip_tokenizer_path = locate(&layout, K::ClipTokenizer, "");
    c.t5_tokenizer_path = locate(&layout, K::T5Tokenizer, "");
  }
  // Every missing part at once, each with the option that supplies it.
  std::string missing;
  auto need = [&missing](const std::string& p, const char* what) {
    if (p.empty()) missing += std::string("\n  ") + what;
  };
  need(c.transformer_path, "the FLUX transformer (give --model a diffusers folder or flux1-*.safetensors)");
  need(c.vae_path, "the VAE: --vae ae.safetensors");
  need(c.clip_path, "the CLIP text encoder: --clip clip_l.safetensors");
  need(c.t5_path, "the T5 text encoder: --t5 t5xxl_fp16.safetensors");
  need(c.clip_tokenizer_path, "the CLIP tokenizer (vocab.json + merges.txt): --tokenizers DIR with tokenizer/");
  need(c.t5_tokenizer_path, "the T5 tokenizer (spiece.model): --tokenizers DIR with tokenizer_2/");
  if (!missing.empty())
    throw ModelError("'" + paths.model + "' (" + io::layout_kind_name(layout.kind) +
                     ") does not give a complete FLUX.1 model set; missing:" + missing);

  flux::FluxLoadOptions fo;
  fo.dtype = c.dtype;
  fo.device = c.device;
  flux::FluxCheckpointInfo info;
  c.transformer = flux::load_flux(c.transformer_path, fo, &info);
  // The VAE runs in float32 on the CPU and in the compute dtype on a GPU (its bf16 decode is what ComfyUI does).
  c.vae = vae::load_autoencoder(c.vae_path, c.dtype, c.device);
  text::TextEncoderOptions to;
  to.device = c.text_device;
  to.dtype = c.text_device.is_cpu() ? at::kFloat : c.dtype;
  c.clip = text::load_clip_text_model(c.clip_path, to);
  // T5-XXL is the largest part after the transformer: keep its stored bf16/fp8 weights compact (upcast per layer).
  to.keep_storage_dtype = true;
  c.t5 = text::load_t5_encoder(c.t5_path, to);
  c.clip_tokenizer = std::make_unique<text::ClipTokenizer>(text::ClipTokenizer::load(c.clip_tokenizer_path));
  c.t5_tokenizer = std::make_unique<text::T5Tokenizer>(text::T5Tokenizer::load(c.t5_tokenizer_path));

  const bool schnell = !c.transformer->config().guidance_embed;
  const std::string variant = schnell ? "FLUX.1-schnell" : "FLUX.1-dev";
  const bool diffusers = layout.kind == io::LayoutKind::DiffusersPipeline;
  c.label = variant + " (" + (diffusers ? "diffusers: " : "") + base_name(diffusers ? layout.path : c.transformer_path) + ")";
  return c;
}

}  // namespace dype
