#pragma once
// Trains the built-in "demo" model (core/pipeline/demo_model.h) from nothing, on this project's own procedural
// captioned pictures (core/shapes), through our own FLUX, autoencoder and text modules — the proof that they are
// differentiable, and one implementation for training and inference. Deterministic for a seed on one machine and
// thread count (LibTorch's CPU kernels may reorder sums across thread counts).
//
// 1. Autoencoder (trained_demo_vae_config): reconstruction (L1 + L2) of whole pictures with a tiny KL term, as
//    FLUX's KL-VAE, alternating 128² (two pictures) and 256² (one) — whole pictures, not crops, so that
//    normalisation and attention see what they see at inference (a VAE trained on 64² crops reconstructed whole
//    256² pictures at 16 dB), and not smaller ones (at 64² stripes and dots approach the 8 px latent cell, a
//    harder task than any picture the model generates).
//    Then (decoder_steps) the decoder alone on the frozen encoder's latent means, which is what it decodes at
//    inference: sharper pictures in the same latent space.
// 2. Latent statistics: the encoder's means over the transformer's training pictures give the VAE's shift and scale
//    (FLUX's own 0.1159 / 0.3611 play this role), so that the transformer sees unit-variance latents.
// 3. Transformer (trained_demo_flux_config) and text encoders: rectified flow as FLUX — x_t = (1 − t)·x0 + t·ε,
//    target v = ε − x0, t = sigmoid(n), n ~ N(0, 1) (the logit-normal timestep density of FLUX / SD3) for half the
//    batch and uniform for the other half — on the cached latents and caption tokens of `pictures` pictures at the
//    base resolution, Adam with warm-up and cosine decay, an EMA of the weights (what is saved). Optionally
//    (object_weight) each picture's loss weighs the tokens its object covers more, so that small objects count.
// The defaults are the recipe of the built-in model (resources/demo/trained/MODEL_CARD.md): 128 px, not 256 — the
// first 256 px run managed 9000 steps in an hour (0.36 s/step) and followed no caption; at 128 px a step costs
// 0.13 s, so the same hour trains 3× the steps, and 2× / 4× of 128 px (256² / 512²) keep the DyPE measurement
// affordable here.
// The text encoders (the demo's tiny CLIP and T5, from their random initialisation) are trained with the
// transformer by default. Frozen random encoders were tried first (9000 + 3000 steps at 256²): the words survive a
// random encoder, but mixed with their neighbours, and the transformer learnt to read them only weakly — 0 of 32
// generations followed their caption, and the loss with the right captions was only 25 % below the loss with wrong
// ones at t = 0.98 (bench/NOTES.md). Trained, the encoders give each word and role (object colour, background
// colour, place) its own direction; their backward passes cost little next to the transformer's (T5 d 32, CLIP d 64).
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/pipeline/demo_transformer_shape.h"
#include "core/shapes/scene.h"

namespace dype::train {

struct DemoTrainingOptions {
  std::string output_dir;  // demo.safetensors, loss.csv, loss.png written here (created if missing)
  std::uint64_t seed = 1;
  int resolution = 128;        // base resolution of the pictures (multiple of 16)
  double pattern_scale = 1.0;  // stripe and dot periods of the pictures (shapes::random_scene), every phase
  // Autoencoder.
  int vae_steps = 3000;
  int vae_batch = 2;                        // pictures per step at the first size; fewer at larger ones
  std::vector<int> vae_sizes = {128, 256};  // cycled through, one size per step
  double vae_lr = 5e-4;
  // Then the decoder alone, on the (frozen) encoder's latent means: what the transformer's latents look like at
  // inference. Sharper pictures without moving the latent space, so it also serves a model whose transformer is
  // already trained (--continue FILE --steps 0 --decoder-steps N).
  int decoder_steps = 0;
  // Transformer.
  int pictures = 16384;  // cached (latent, caption) pairs
  int flux_steps = 30000;
  int flux_batch = 8;
  double flux_lr = 5e-4;
  double ema_decay = 0.999;
  double uniform_t_share = 0.5;  // share of t drawn uniformly instead of logit-normal
  double clip_dropout = 0.0;     // share of samples trained with the empty caption's CLIP tokens (T5 kept)
  // Extra flow-loss weight on the tokens the object covers, as a share of a picture's tokens (object_token_weights):
  // a small object is 2–4 % of a picture, so the plain mean barely sees it drawn faint. 0: the plain mean.
  double object_weight = 0.0;
  bool train_text = true;  // train the text encoders with the transformer (false: frozen at their random start)
  std::string
      continue_from;     // a demo weights file: keep its autoencoder, train its text encoders and transformer further
  std::string vae_from;  // a demo weights file: keep its autoencoder, train text encoders and transformer anew
  // The transformer's size (unset: the built-in model's, or the file's with --continue).
  std::optional<DemoTransformerShape> shape;
  int check_every = 2000;  // caption check every N transformer steps (0: only at the end)
  int save_every = 5000;   // write the weights so far (EMA) every N transformer steps (0: only at the end)
  // Threads: the autoencoder's convolutions use both cores well; the small transformer runs faster on one.
  int vae_threads = 2;
  int flux_threads = 1;
  // Transformer steps split over this many threads, a slice of the batch each (1: the recipe of the built-in model;
  // 2 on this 2-core machine: about 1.2× the steps per second, the same draws, sums in another order).
  int flux_workers = 1;
  int log_every = 500;

  void validate() const;  // InvalidArgument naming the option
};

struct TrainingReport {
  std::string weights_path, loss_path, plot_path;  // demo.safetensors, loss.csv, loss.png
  double vae_scale = 0, vae_shift = 0;
  double vae_psnr = 0;  // reconstruction of held-out whole pictures, dB
  // The scorer (core/shapes/score.h) on those reconstructions: the ceiling of what a transformer decoded by this
  // autoencoder can score.
  int round_trips = 0, round_trips_accepted = 0;
  double final_flux_loss = 0;  // mean over the last log window
  double seconds_vae = 0, seconds_decoder = 0, seconds_latents = 0, seconds_flux = 0;
};

// Per-token weights of one picture's flow loss, [L_img] for a size × size picture (L_img = (size/16)²: a FLUX token is
// a 2×2 patch of 8 px latent cells): 1 + w · c / mean(c), c being the share of each token's pixels the scene's
// object covers (anti-aliased as drawn). Whatever the object's size, the extra weight sums to w · L_img — the object
// counts as much as w pictures' worth of background more — so a small object weighs more per token than a large one.
at::Tensor object_token_weights(const shapes::Scene& scene, int size, double w);

// Runs the recipe. `log` receives one line per log window and phase change (also written to loss.csv).
TrainingReport train_demo(const DemoTrainingOptions& o, const std::function<void(const std::string&)>& log);

}  // namespace dype::train
