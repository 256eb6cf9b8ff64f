#pragma once
// The built-in demo model: a tiny FLUX-shaped model set with deterministic random weights (fixed seed) and tiny
// tokenizers compiled into the binary, so that the whole path — prompt → tokens → text encoders → DyPE sampling
// → tiled decode → export — runs on any machine without downloads: 1 MP in seconds, 16 MP on a CPU. Its images
// are coloured noise by design, and it is labelled "demo (random weights)" everywhere (CLI, GUI, metadata).
#include <ATen/ATen.h>

#include <cstdint>

#include "core/flux/config.h"
#include "core/pipeline/components.h"
#include "core/text/clip_text_model.h"
#include "core/text/t5_encoder.h"
#include "core/vae/autoencoder.h"

namespace dype {

inline constexpr const char* kDemoLabel = "demo (random weights)";
inline constexpr std::uint64_t kDemoSeed = 0x44795045;  // "DyPE"

// The demo's architecture. Transformer: hidden 128 (2 heads × 64, rope axes 8/28/28), one double- and one
// single-stream block, guidance embedding (dev-like: T5 length 512, 28 default steps). Text: CLIP hidden 64 over
// the demo BPE vocabulary, T5 d_model 32 over the demo SentencePiece vocabulary. VAE: FLUX's 16-channel latent
// and ×8 upsampling with 16 base channels.
flux::FluxConfig demo_flux_config();
text::ClipTextConfig demo_clip_config(std::int64_t vocab_size);
text::T5EncoderConfig demo_t5_config(std::int64_t vocab_size);
vae::AutoEncoderConfig demo_vae_config();

// Builds the demo set on `device` (transformer in `dtype`). Tokenizer files come from the copies compiled into the
// binary (core/pipeline/demo_resources.h).
PipelineComponents make_demo_components(at::Device device, at::ScalarType dtype, at::Device text_device);

}  // namespace dype
