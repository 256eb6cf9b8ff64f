#pragma once
// Building blocks shared by the CLIP and T5 text encoders. Each takes its parameters from a WeightSource by full
// checkpoint name at construction and registers them under the last name component, so that a model's
// named_parameters() are exactly the Hugging Face keys. Weights stay in the form the source hands out (bf16 /
// fp16 / float8 codes with their scale when kept compact) and become the activation dtype at each use.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "core/io/weights.h"

namespace dype::text {

// `w` in the dtype and on the device of `like` (no copy when it already is).
at::Tensor upcast_like(const at::Tensor& w, const at::Tensor& like);

// y = x W^T (+ b)   x [..., in] -> [..., out]
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(io::WeightSource& src, const std::string& name, std::int64_t in, std::int64_t out, bool bias);
  at::Tensor forward(const at::Tensor& x);
  io::StoredWeight weight;  // [out, in] as stored (converted to x's dtype per call)
  at::Tensor bias;          // [out] (undefined without bias)
};
TORCH_MODULE(Linear);

// Rows of a table: ids [...] -> [..., dim]
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(io::WeightSource& src, const std::string& name, std::int64_t count, std::int64_t dim);
  at::Tensor forward(const at::Tensor& ids, at::ScalarType dtype);
  io::StoredWeight weight;  // [count, dim] as stored
};
TORCH_MODULE(Embedding);

// LayerNorm over the last dimension, with weight and bias.
class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(io::WeightSource& src, const std::string& name, std::int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

// T5's RMS norm: weight * x / sqrt(mean(x^2) + eps), statistics in float32, no mean subtraction, no bias.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(io::WeightSource& src, const std::string& name, std::int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RmsNorm);

// An empty module used only to give the parameter tree the checkpoint's naming ("text_model", "encoder", ...).
std::shared_ptr<torch::nn::Module> scope(torch::nn::Module& parent, const std::string& name);

}  // namespace dype::text
