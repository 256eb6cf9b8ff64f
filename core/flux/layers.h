#pragma once
// Building blocks of the FLUX transformer (BFL `flux/modules/layers.py`). Every module takes its parameters from a
// WeightSource at construction, under the full BFL checkpoint name (`prefix` + ".weight"), and registers them
// under the short name, so `named_parameters()` of the whole model yields exactly the BFL keys. Parameters kept in
// a narrower storage form (bf16 / fp8 codes with a ComfyUI scale, see CheckpointWeights' keep_storage_dtype) become
// the dtype of the activations on every call (per-layer upcast): the compute dtype is the dtype of the input.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/io/weights.h"

namespace dype::flux {

// `w` in the dtype of `like` (no copy when it already is).
at::Tensor cast_like(const at::Tensor& w, const at::Tensor& like);

// One low-rank adapter on a Linear (LoRA): adds scale·B·(A·x) to output rows [row_start, row_start + rows) —
// all rows, or one part of a fused layer (a diffusers to_k adapter on our qkv covers its middle third).
struct LoraDelta {
  at::Tensor down;   // A [r, in], any float dtype
  at::Tensor up;     // B [rows, r]
  double scale = 1;  // strength · alpha / r
  std::int64_t row_start = 0;
};

// y = x·Wᵀ + b (+ Σ LoRA terms). Weight [out, in], bias [out] (optional).
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t in, std::int64_t out, bool bias = true);
  at::Tensor forward(const at::Tensor& x);                   // [..., in] -> [..., out]
  const at::Tensor& weight() const { return weight_.data; }  // as stored (float8 codes: kByte)
  const io::StoredWeight& stored_weight() const { return weight_; }
  std::int64_t in_features() const { return weight_.data.size(1); }
  std::int64_t out_features() const { return weight_.data.size(0); }

  // Replaces this layer's adapters (an empty list removes them). The stored weight is untouched: the adapters run
  // beside it, y = x·Wᵀ + b + Σ scale_i·B_i·(A_i·x), so they can be changed without reloading the model. Their
  // tensors are converted once here to `dtype` on `device` (the compute dtype); adapters with scale 0 are dropped,
  // so a layer without any nonzero adapter computes exactly what it computed before. InvalidArgument for shapes
  // that do not fit the layer.
  void set_loras(const std::vector<LoraDelta>& deltas, at::ScalarType dtype, at::Device device);
  bool has_loras() const { return lora_down_.defined(); }

 private:
  io::StoredWeight weight_;  // converted to the activations' dtype per call
  at::Tensor bias_;
  // All adapters' A stacked, so that x is read once for all of them; each piece then maps its rank slice back.
  struct LoraPiece {
    at::Tensor up;  // scale·B [rows, r]
    std::int64_t rank_start = 0, row_start = 0;
  };
  at::Tensor lora_down_;  // [Σr, in]; undefined: no adapters
  std::vector<LoraPiece> lora_pieces_;
};
TORCH_MODULE(Linear);

// RMSNorm with learnable scale (BFL): computed in float32, cast back to the input dtype, then × scale.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim);
  at::Tensor forward(const at::Tensor& x);  // [..., dim]

 private:
  at::Tensor scale_;
};
TORCH_MODULE(RMSNorm);

// Per-head RMSNorm of q and k ("norm.query_norm.scale", "norm.key_norm.scale").
class QKNormImpl : public torch::nn::Module {
 public:
  QKNormImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t head_dim);
  // q, k: [B, H, L, D] -> normalised, in v's dtype.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

  RMSNorm query_norm{nullptr}, key_norm{nullptr};
};
TORCH_MODULE(QKNorm);

// MLPEmbedder: out_layer(silu(in_layer(x))).
class MLPEmbedderImpl : public torch::nn::Module {
 public:
  MLPEmbedderImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t in_dim, std::int64_t hidden);
  at::Tensor forward(const at::Tensor& x);  // [B, in_dim] -> [B, hidden]

  Linear in_layer{nullptr}, out_layer{nullptr};
};
TORCH_MODULE(MLPEmbedder);

// Shift, scale and gate for one half of a block: applied as (1 + scale)·x + shift, residual gated by gate.
struct ModulationOut {
  at::Tensor shift, scale, gate;  // [B, 1, hidden]
};

// Modulation: lin(silu(vec)) split into 6 (double: two ModulationOut) or 3 (single: one) equal chunks.
class ModulationImpl : public torch::nn::Module {
 public:
  ModulationImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim, bool is_double);
  // vec [B, dim] -> (first, second); `second` is undefined for a single block.
  std::pair<ModulationOut, ModulationOut> forward(const at::Tensor& vec);

  Linear lin{nullptr};

 private:
  bool is_double_;
};
TORCH_MODULE(Modulation);

// Two-layer MLP with tanh-GELU, registered as "0" and "2" (BFL nn.Sequential(Linear, GELU, Linear)).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim, std::int64_t hidden);
  at::Tensor forward(const at::Tensor& x);  // [B, L, dim]

  Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

// LastLayer: adaLN (shift, scale) from vec ("adaLN_modulation.1"), LayerNorm without affine, then "linear".
class LastLayerImpl : public torch::nn::Module {
 public:
  LastLayerImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t hidden, std::int64_t out_channels);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& vec);  // [B, L, hidden], [B, hidden] -> [B, L, out]

  Linear linear{nullptr}, ada_ln{nullptr};
};
TORCH_MODULE(LastLayer);

// LayerNorm over the last dim without affine parameters, eps 1e-6 (all FLUX pre-norms).
at::Tensor layer_norm_no_affine(const at::Tensor& x);

// BFL sinusoidal embedding of t (time_factor 1000, 256 dims), computed in float32 exactly as the golden README's
// recipe: freqs[i] = exp(float32(−ln 10000)·i / 128), arg = float32(1000·t)·freqs, emb = [cos(arg), sin(arg)].
// t: [B] any float dtype -> [B, dim] float32.
at::Tensor timestep_embedding(const at::Tensor& t, std::int64_t dim = 256, double max_period = 10000.0,
                              double time_factor = 1000.0);

}  // namespace dype::flux
