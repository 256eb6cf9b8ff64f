#pragma once
// The FLUX.1 transformer (BFL `Flux`), with DyPE's dynamic RoPE.
//
// Usage (see also loader.h for checkpoints):
//   auto model = dype::flux::make_random_flux(FluxConfig::dev(), /*seed=*/0, at::kFloat, at::kCPU);  // demo
//   auto model = dype::flux::load_flux("flux1-dev.safetensors");                                      // real
//   c10::InferenceMode guard;  // the caller's thread, once
//   at::Tensor pred = model->forward(img, img_ids, txt, txt_ids, sigma, y, guidance, dype_cfg, sigma);
// Training (float32): set requires_grad on parameters() outside InferenceMode; forward/backward are plain autograd
// (tests/unit/test_trainable.cpp, bench/bench_train_step.cpp).
//
// Modules are registered under the BFL checkpoint names (img_in, time_in.in_layer, double_blocks.3.img_attn.qkv,
// single_blocks.7.linear1, final_layer.adaLN_modulation.1, ...): `named_parameters()` yields exactly the keys of
// a BFL single-file checkpoint. Parameters are taken from an io::WeightSource at construction (no random init
// followed by a copy). The compute dtype is the WeightSource's dtype; inputs are cast to it, pe stays float32.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dype/rope_frequencies.h"
#include "core/flux/blocks.h"
#include "core/flux/config.h"
#include "core/flux/layers.h"
#include "core/io/weights.h"

namespace dype::flux {

// Optional capture of intermediate tensors (keys as the golden `intermediate.*` names without the prefix:
// img_in, txt_in, time_in, guidance_in, vector_in, vec, double_blocks.N.img, double_blocks.N.txt,
// single_blocks.N (the full [txt; img] stream), and pe).
using Intermediates = std::map<std::string, at::Tensor>;

// Optional per-call hook, called after every double- and single-stream block with (blocks done, total blocks),
// total = depth + depth_single_blocks (57 for FLUX.1). One real-size step on a CPU takes minutes, so this is where
// progress inside a step is reported and where a cancel is honoured without waiting for the step: the hook may
// throw (normally dype::Cancelled), which propagates out of forward with no partial result. `check` (CancelPoint,
// blocks.h) is also called between the large pieces inside each block, for a cancel that does not wait a block.
using BlockObserver = std::function<void(int done, int total)>;

class FluxImpl : public torch::nn::Module {
 public:
  // Takes every parameter from `ws` (names above) and leaves reporting to the caller: call ws.finish() after
  // construction to get one error listing every missing / mis-shaped / unexpected tensor. Validates `config`.
  FluxImpl(const FluxConfig& config, io::WeightSource& ws);

  // img [B, L_img, in], img_ids [B, L_img, 3], txt [B, L_txt, context], txt_ids [B, L_txt, 3], timesteps [B]
  // (sigma in [0, 1]), y [B, vec], guidance [B] (required iff config().guidance_embed; ignored otherwise).
  // The RoPE table is built once here with DyPE at time `dype_t` (normally = sigma) and shared by all blocks.
  // Returns [B, L_img, out] in the compute dtype. Throws InvalidArgument for inconsistent shapes, and whatever
  // `on_block` throws.
  at::Tensor forward(const at::Tensor& img, const at::Tensor& img_ids, const at::Tensor& txt, const at::Tensor& txt_ids,
                     const at::Tensor& timesteps, const at::Tensor& y, const at::Tensor& guidance,
                     const DypeConfig& dype, double dype_t, Intermediates* capture = nullptr,
                     const BlockObserver& on_block = nullptr, const CancelPoint& check = nullptr);

  // Same with a precomputed table pe [B or 1, 1, L_txt + L_img, head_dim/2, 2, 2] (see build_pe).
  at::Tensor forward(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& timesteps, const at::Tensor& y,
                     const at::Tensor& guidance, const at::Tensor& pe, Intermediates* capture = nullptr,
                     const BlockObserver& on_block = nullptr, const CancelPoint& check = nullptr);

  // pe for ids = cat(txt_ids, img_ids) (text first) with DyPE at time t: [B, 1, L, head_dim/2, 2, 2] float32.
  at::Tensor build_pe(const at::Tensor& txt_ids, const at::Tensor& img_ids, const DypeConfig& dype, double t) const;

  // vec = time_in(emb(t)) + guidance_in(emb(g)) + vector_in(y): [B, hidden] (exposed for benchmarks and tests).
  at::Tensor embed_vec(const at::Tensor& timesteps, const at::Tensor& y, const at::Tensor& guidance,
                       Intermediates* capture = nullptr);

  const FluxConfig& config() const { return config_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }
  // Bytes held by the parameters (in their storage dtypes).
  std::int64_t parameter_bytes() const;

  Linear img_in{nullptr}, txt_in{nullptr};
  MLPEmbedder time_in{nullptr}, vector_in{nullptr}, guidance_in{nullptr};  // guidance_in: null for schnell
  std::vector<DoubleStreamBlock> double_blocks;
  std::vector<SingleStreamBlock> single_blocks;
  LastLayer final_layer{nullptr};

 private:
  void check_inputs(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& timesteps, const at::Tensor& y,
                    const at::Tensor& guidance) const;
  FluxConfig config_;
  at::ScalarType dtype_;
  at::Device device_;
};
TORCH_MODULE(Flux);

// A model with deterministic random weights (built-in demo, benchmarks), created directly at its final size,
// dtype and device (io::RandomWeights defaults: normal(0, 1/sqrt(fan_in)) matrices, zero biases, unit norm scales).
Flux make_random_flux(const FluxConfig& config, std::uint64_t seed, at::ScalarType dtype = at::kFloat,
                      at::Device device = at::kCPU);

}  // namespace dype::flux
