#pragma once
// Which tensors a real checkpoint holds: the real FLUX.1 / T5-XXL / CLIP-L / AE configurations (or scaled by
// make_real_checkpoint's --scale-shapes) and the (name, shape) list our own model constructors ask for. Names and
// shapes are never written down by hand, so the synthetic files always match our loaders.
#include <cstdint>
#include <string>
#include <vector>

#include "core/flux/config.h"
#include "core/text/clip_text_model.h"
#include "core/text/t5_encoder.h"
#include "core/vae/autoencoder.h"

namespace dype::bench {

// The real configurations for f == 1; for 0 < f < 1 widths and depths times f, rounded to what each architecture
// needs (FLUX head dim 128, T5 d_kv 64, multiples of 64, VAE channels multiples of 32, at least one of everything).
text::T5EncoderConfig t5_config(double f);
text::ClipTextConfig clip_config(double f);
flux::FluxConfig flux_config(bool dev, double f);
vae::AutoEncoderConfig vae_config(double f);

struct Recorded {
  std::string name;
  std::vector<std::int64_t> shape;
};

std::int64_t numel(const std::vector<std::int64_t>& shape);

// Every parameter (name, shape) the model `what` (flux-dev, flux-schnell, t5xxl, clip-l, vae) asks for at scale f,
// in the order its constructor asks; `describe` gets a one-line summary of the configuration.
std::vector<Recorded> record(const std::string& what, double f, std::string* describe);

}  // namespace dype::bench
