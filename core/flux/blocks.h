#pragma once
// The two transformer block kinds of FLUX (BFL `DoubleStreamBlock`, `SingleStreamBlock`), registered under the
// checkpoint names: double_blocks.N.{img_mod.lin, img_attn.{qkv, norm, proj}, img_mlp.{0,2}, txt_*} and
// single_blocks.N.{linear1, linear2, norm, modulation.lin}.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "core/flux/layers.h"
#include "core/io/weights.h"

namespace dype::flux {

// One stream's attention parameters: "qkv" (rows [q; k; v], head-major), "norm" (QK RMSNorm), "proj".
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim, std::int64_t num_heads,
                    bool qkv_bias);
  // x [B, L, dim] -> normalised q, k and v, each [B, H, L, D].
  std::array<at::Tensor, 3> qkv_heads(const at::Tensor& x);

  Linear qkv{nullptr}, proj{nullptr};
  QKNorm norm{nullptr};

 private:
  std::int64_t num_heads_;
};
TORCH_MODULE(SelfAttention);

// Optional per-call check between the large pieces of a block (projections, attention, MLP): a real-size block
// takes seconds on a CPU, so a cancel is honoured inside it. It may throw (normally dype::Cancelled).
using CancelPoint = std::function<void()>;

// Image and text streams with their own weights, attending jointly over [txt; img].
class DoubleStreamBlockImpl : public torch::nn::Module {
 public:
  DoubleStreamBlockImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t hidden, std::int64_t num_heads,
                        std::int64_t mlp_hidden, bool qkv_bias);
  // img [B, L_img, C], txt [B, L_txt, C], vec [B, C], pe [B, 1, L_txt + L_img, D/2, 2, 2] -> (img, txt).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& vec,
                                            const at::Tensor& pe, const CancelPoint& check = nullptr);

  Modulation img_mod{nullptr}, txt_mod{nullptr};
  SelfAttention img_attn{nullptr}, txt_attn{nullptr};
  Mlp img_mlp{nullptr}, txt_mlp{nullptr};
};
TORCH_MODULE(DoubleStreamBlock);

// One stream over the concatenated [txt; img] sequence: linear1 -> (q, k, v, mlp_in), attention and tanh-GELU
// MLP in parallel, linear2 over [attn; gelu(mlp)].
class SingleStreamBlockImpl : public torch::nn::Module {
 public:
  SingleStreamBlockImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t hidden, std::int64_t num_heads,
                        std::int64_t mlp_hidden);
  // x [B, L, C], vec [B, C], pe [B, 1, L, D/2, 2, 2] -> [B, L, C].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& vec, const at::Tensor& pe,
                     const CancelPoint& check = nullptr);

  Linear linear1{nullptr}, linear2{nullptr};
  QKNorm norm{nullptr};
  Modulation modulation{nullptr};

 private:
  std::int64_t hidden_, num_heads_, mlp_hidden_;
};
TORCH_MODULE(SingleStreamBlock);

}  // namespace dype::flux
