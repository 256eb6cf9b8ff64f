#pragma once
// The built-in demo models: tiny FLUX-shaped model sets with tiny tokenizers compiled into the binary, so that the
// whole path — prompt → tokens → text encoders → DyPE sampling → tiled decode → export — runs on any machine
// without downloads.
//   "demo"         trained by this project on procedural captioned shapes (core/shapes, core/train) at 128 px:
//                  pictures form in the preview, and DyPE's effect above 128 px can be measured
//                  (bench_dype_effect). Its weights are resources/demo/trained/demo.safetensors (model card beside
//                  it), compiled in, or a `dype train-demo` file given as ModelPaths::demo_weights.
//   "demo-random"  deterministic random weights (fixed seed): coloured noise by design, the cheapest full
//                  pipeline, for tests and benchmarks that need its exact shape.
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>

#include "core/flux/config.h"
#include "core/pipeline/components.h"
#include "core/pipeline/demo_transformer_shape.h"
#include "core/text/clip_text_model.h"
#include "core/text/t5_encoder.h"
#include "core/vae/autoencoder.h"

namespace dype {

inline constexpr const char* kDemoModel = "demo";
inline constexpr const char* kDemoRandomModel = "demo-random";
inline constexpr const char* kDemoRandomLabel = "demo (random weights)";
inline constexpr std::uint64_t kDemoSeed = 0x44795045;  // "DyPE"

// The built-in trained demo's base (training) resolution — what the GUI proposes before the model is loaded; a
// loaded model takes it from its weights' metadata — and its T5 length: captions of the shapes grammar are at most
// ~20 tokens, so 32 positions instead of FLUX's 256/512 keep padding from dominating training and sampling.
inline constexpr int kTrainedDemoBase = 128;
inline constexpr int kTrainedDemoT5Length = 32;
inline constexpr int kTrainedDemoSteps = 20;  // default sampling steps
// A first picture's side, in multiples of the base: 4× per side is far enough out that DyPE matters (what
// bench_dype_effect measures) and still seconds per picture on a CPU. The GUI and `dype generate` both default to it.
inline constexpr int kTrainedDemoSizeOverBase = 4;

// "demo — tiny model trained on procedural shapes, 128 px base": the trained demo's label, with its base resolution.
std::string trained_demo_label(int base_resolution);

// Whether `model` (ModelPaths::model) names a built-in demo.
bool is_demo_model(const std::string& model);
// Whether this build has the trained demo's weights compiled in (resources/demo/trained/demo.safetensors).
bool has_trained_demo();

// "demo-random": hidden 128 (2 heads × 64, rope axes 8/28/28), one double- and one single-stream block, guidance
// embedding (dev-like: T5 length 512, 28 default steps). VAE: FLUX's 16-channel latent and ×8 upsampling with 16
// base channels.
flux::FluxConfig demo_flux_config();
vae::AutoEncoderConfig demo_vae_config();
// Both demos' text encoders: CLIP hidden 64 over the demo BPE vocabulary, T5 d_model 32 over the demo
// SentencePiece vocabulary. The trained demo keeps them frozen at their random initialisation (core/train says why).
text::ClipTextConfig demo_clip_config(std::int64_t vocab_size);
text::T5EncoderConfig demo_t5_config(std::int64_t vocab_size);

// Reads the shape from a weights file's metadata (defaults for absent keys); ModelError for a value that is not a
// positive number or a head size that is not a multiple of 32.
DemoTransformerShape demo_transformer_shape(const std::map<std::string, std::string>& metadata);
// The metadata entries that demo_transformer_shape() reads back.
std::map<std::string, std::string> demo_transformer_metadata(const DemoTransformerShape& shape);

// "demo": schnell-style (no guidance embedding) FLUX over the demo text encoders, by default hidden 128, 2 heads ×
// 64, 2 double + 4 single blocks; RoPE axes in FLUX's proportions (16/56/56 of a 128 head: 8/28/28 of 64). VAE with
// 16 base channels, channel multipliers 1, 2, 4, 4 (FLUX's factor 8 and 16 latent channels). The VAE's scale and
// shift come from the weights file (measured on the training data). InvalidArgument for a shape whose head size is
// not a multiple of 32.
flux::FluxConfig trained_demo_flux_config(const DemoTransformerShape& shape = {});
vae::AutoEncoderConfig trained_demo_vae_config();

// The demo tokenizers (compiled in) and the text encoders both demos use, random at kDemoSeed + 1 / + 2, on
// `text_device` in float32 on the CPU, else `dtype`.
void make_demo_text(PipelineComponents& c, at::ScalarType dtype, at::Device text_device);

// "demo-random" on `device` (transformer in `dtype`).
PipelineComponents make_demo_components(at::Device device, at::ScalarType dtype, at::Device text_device);

// "demo" from `weights` (a file written by core/train; empty: the copy compiled into the binary). Throws
// IoError / FormatError / ModelError naming the file when it cannot be read or does not fit the demo's shape.
PipelineComponents load_trained_demo_components(at::Device device, at::ScalarType dtype, at::Device text_device,
                                                const std::string& weights = "");

// The stripe and dot period scale of the pictures the trained demo learnt (`dype train-demo --pattern-scale`; the
// metadata of `weights`, empty: the built-in copy; 1 for files without the key): what a round trip through its
// autoencoder should be given. Throws as load_trained_demo_components does.
double trained_demo_pattern_scale(const std::string& weights = "");

// The weights file's tensor-name prefixes, one per component (what core/train writes).
inline constexpr const char* kDemoTransformerPrefix = "transformer.";
inline constexpr const char* kDemoVaePrefix = "vae.";
inline constexpr const char* kDemoClipPrefix = "text_encoder.";
inline constexpr const char* kDemoT5Prefix = "text_encoder_2.";

}  // namespace dype
