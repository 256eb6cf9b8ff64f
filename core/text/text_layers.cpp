#include "core/text/text_layers.h"

namespace dype::text {

at::Tensor upcast_like(const at::Tensor& w, const at::Tensor& like) {
  if (w.scalar_type() == like.scalar_type() && w.device() == like.device()) return w;
  return w.to(like.device(), like.scalar_type());
}

LinearImpl::LinearImpl(io::WeightSource& src, const std::string& name, std::int64_t in, std::int64_t out,
                       bool has_bias) {
  weight = src.take_stored(name + ".weight", {out, in});
  register_parameter("weight", weight.data, /*requires_grad=*/false);
  if (weight.scale.defined()) register_buffer("weight_scale", weight.scale);
  if (has_bias) bias = register_parameter("bias", src.take(name + ".bias", {out}), false);
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  const at::Tensor b = bias.defined() ? upcast_like(bias, x) : at::Tensor();
  return at::linear(x, weight.to_transient(x.scalar_type(), x.device()), b);  // [..., out]
}

EmbeddingImpl::EmbeddingImpl(io::WeightSource& src, const std::string& name, std::int64_t count, std::int64_t dim) {
  weight = src.take_stored(name + ".weight", {count, dim});
  register_parameter("weight", weight.data, false);
  if (weight.scale.defined()) register_buffer("weight_scale", weight.scale);
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids, at::ScalarType dtype) {
  // Gather first, convert after: only the rows used are decoded (the T5-XXL table is 32128 x 4096).
  const at::Tensor flat = ids.reshape({-1}).to(weight.data.device(), at::kLong);
  at::Tensor rows = weight.rows(flat).to(dtype, weight.data.device());  // [N, dim]
  auto shape = ids.sizes().vec();
  shape.push_back(weight.data.size(1));
  return rows.view(shape);  // [..., dim]
}

LayerNormImpl::LayerNormImpl(io::WeightSource& src, const std::string& name, std::int64_t dim, double eps_)
    : eps(eps_) {
  weight = register_parameter("weight", src.take(name + ".weight", {dim}), false);
  bias = register_parameter("bias", src.take(name + ".bias", {dim}), false);
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
  return at::layer_norm(x, {x.size(-1)}, upcast_like(weight, x), upcast_like(bias, x), eps);
}

RmsNormImpl::RmsNormImpl(io::WeightSource& src, const std::string& name, std::int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", src.take(name + ".weight", {dim}), false);
}

at::Tensor RmsNormImpl::forward(const at::Tensor& x) {
  const at::Tensor var = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);  // [..., 1]
  // Compact (bf16/fp16) weights do not lower the activations' precision: the product is in x's dtype.
  const at::Tensor y = (x.to(at::kFloat) * at::rsqrt(var + eps)).to(x.scalar_type());
  return upcast_like(weight, y) * y;
}

std::shared_ptr<torch::nn::Module> scope(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

}  // namespace dype::text
