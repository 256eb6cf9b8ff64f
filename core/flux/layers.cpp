#include "core/flux/layers.h"

#include <cmath>

#include "core/common/error.h"

namespace dype::flux {

at::Tensor cast_like(const at::Tensor& w, const at::Tensor& like) {
  if (w.scalar_type() == like.scalar_type() && w.device() == like.device()) return w;
  return w.to(like.device(), like.scalar_type());
}

LinearImpl::LinearImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t in, std::int64_t out, bool bias) {
  weight_ = ws.take_stored(prefix + ".weight", {out, in});
  register_parameter("weight", weight_.data, /*requires_grad=*/false);
  if (weight_.scale.defined()) register_buffer("weight_scale", weight_.scale);
  if (bias) bias_ = register_parameter("bias", ws.take(prefix + ".bias", {out}), /*requires_grad=*/false);
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  const at::Tensor w = weight_.to_transient(x.scalar_type(), x.device());                 // [out, in], used once
  at::Tensor y = at::linear(x, w, bias_.defined() ? cast_like(bias_, x) : at::Tensor());  // [..., out]
  if (!lora_down_.defined()) return y;
  // Low rank first: A·x is [N, Σr], so the adapters cost O(r·(in + out)) per token instead of a merged weight.
  const std::int64_t out = y.size(-1);
  const at::Tensor h = at::mm(x.reshape({-1, x.size(-1)}), cast_like(lora_down_, x).t());  // [N, Σr]
  if (!y.is_contiguous()) y = y.contiguous();  // (linear's output always is; the view below needs it)
  at::Tensor y2 = y.view({-1, out});           // [N, out], shares y's memory
  for (const LoraPiece& p : lora_pieces_) {
    // Accumulated into y by the GEMM itself (beta 1): no temporary, no extra pass over y. A fused layer's part
    // writes its column range, a strided block the GEMM takes as is.
    y2.narrow(1, p.row_start, p.up.size(0)).addmm_(h.narrow(1, p.rank_start, p.up.size(1)), cast_like(p.up, x).t());
  }
  return y;
}

void LinearImpl::set_loras(const std::vector<LoraDelta>& deltas, at::ScalarType dtype, at::Device device) {
  const std::int64_t in = in_features(), out = out_features();
  std::vector<at::Tensor> downs;
  std::vector<LoraPiece> pieces;
  std::int64_t rank = 0;
  for (const LoraDelta& d : deltas) {
    if (d.scale == 0) continue;  // strength 0: not computed at all (bit-identical to no adapter)
    const bool ok = d.down.dim() == 2 && d.up.dim() == 2 && d.down.size(1) == in && d.up.size(1) == d.down.size(0) &&
                    d.row_start >= 0 && d.row_start + d.up.size(0) <= out;
    if (!ok)
      throw InvalidArgument("LoRA adapter of shape A " + c10::str(d.down.sizes()) + ", B " + c10::str(d.up.sizes()) +
                            " at rows " + std::to_string(d.row_start) + " does not fit a linear layer [" +
                            std::to_string(out) + ", " + std::to_string(in) + "]");
    // The scale is folded into B in float32, before the cast to the compute dtype.
    pieces.push_back({(d.up.to(at::kFloat) * d.scale).to(device, dtype).contiguous(), rank, d.row_start});
    downs.push_back(d.down.to(device, dtype));
    rank += d.down.size(0);
  }
  lora_pieces_ = std::move(pieces);
  lora_down_ = downs.empty() ? at::Tensor() : at::cat(downs, 0).contiguous();  // [Σr, in]
}

RMSNormImpl::RMSNormImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim) {
  scale_ = register_parameter("scale", ws.take(prefix + ".scale", {dim}), /*requires_grad=*/false);
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  // Statistics in float32 whatever the compute dtype (BFL), then back to x's dtype before the scale.
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor rrms = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + 1e-6);  // [..., 1]
  return (xf * rrms).to(x.scalar_type()) * cast_like(scale_, x);
}

QKNormImpl::QKNormImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t head_dim) {
  query_norm = register_module("query_norm", RMSNorm(ws, prefix + ".query_norm", head_dim));
  key_norm = register_module("key_norm", RMSNorm(ws, prefix + ".key_norm", head_dim));
}

std::pair<at::Tensor, at::Tensor> QKNormImpl::forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return {query_norm->forward(q).to(v.scalar_type()), key_norm->forward(k).to(v.scalar_type())};
}

MLPEmbedderImpl::MLPEmbedderImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t in_dim,
                                 std::int64_t hidden) {
  in_layer = register_module("in_layer", Linear(ws, prefix + ".in_layer", in_dim, hidden));
  out_layer = register_module("out_layer", Linear(ws, prefix + ".out_layer", hidden, hidden));
}

at::Tensor MLPEmbedderImpl::forward(const at::Tensor& x) { return out_layer->forward(at::silu(in_layer->forward(x))); }

ModulationImpl::ModulationImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim, bool is_double)
    : is_double_(is_double) {
  lin = register_module("lin", Linear(ws, prefix + ".lin", dim, (is_double ? 6 : 3) * dim));
}

std::pair<ModulationOut, ModulationOut> ModulationImpl::forward(const at::Tensor& vec) {
  const at::Tensor out = lin->forward(at::silu(vec)).unsqueeze(1);  // [B, 1, 6*dim or 3*dim]
  auto c = out.chunk(is_double_ ? 6 : 3, -1);                       // each [B, 1, dim]
  ModulationOut first{c[0], c[1], c[2]};
  if (!is_double_) return {first, ModulationOut{}};
  return {first, ModulationOut{c[3], c[4], c[5]}};
}

MlpImpl::MlpImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim, std::int64_t hidden) {
  fc1 = register_module("0", Linear(ws, prefix + ".0", dim, hidden));
  fc2 = register_module("2", Linear(ws, prefix + ".2", hidden, dim));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return fc2->forward(at::gelu(fc1->forward(x), "tanh")); }

LastLayerImpl::LastLayerImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t hidden,
                             std::int64_t out_channels) {
  linear = register_module("linear", Linear(ws, prefix + ".linear", hidden, out_channels));
  // BFL: adaLN_modulation = Sequential(SiLU, Linear) -> the Linear is child "1" of a container.
  auto ada = std::make_shared<torch::nn::Module>("adaLN_modulation");
  ada_ln = ada->register_module("1", Linear(ws, prefix + ".adaLN_modulation.1", hidden, 2 * hidden));
  register_module("adaLN_modulation", ada);
}

at::Tensor LastLayerImpl::forward(const at::Tensor& x, const at::Tensor& vec) {
  auto ss = ada_ln->forward(at::silu(vec)).chunk(2, 1);  // shift, scale: [B, hidden] each (BFL order)
  const at::Tensor shift = ss[0].unsqueeze(1), scale = ss[1].unsqueeze(1);
  return linear->forward((1 + scale) * layer_norm_no_affine(x) + shift);  // [B, L, out]
}

at::Tensor layer_norm_no_affine(const at::Tensor& x) {
  return at::layer_norm(x, {x.size(-1)}, /*weight=*/{}, /*bias=*/{}, 1e-6);
}

at::Tensor timestep_embedding(const at::Tensor& t, std::int64_t dim, double max_period, double time_factor) {
  // Every step in float32, in the reference's order: the arguments reach 1000·3.5 rad for guidance, so one
  // float32 ulp of a frequency matters at the 1e-6 level.
  const at::Tensor ts = t.to(at::kFloat).reshape({-1}) * time_factor;  // [B]
  const std::int64_t half = dim / 2;
  const at::Tensor freqs = (at::arange(0, half, at::TensorOptions().dtype(at::kFloat).device(t.device())) *
                            (-std::log(max_period)) / static_cast<double>(half))
                               .exp();                           // [half]
  const at::Tensor args = ts.unsqueeze(1) * freqs.unsqueeze(0);  // [B, half]
  at::Tensor emb = at::cat({at::cos(args), at::sin(args)}, -1);  // [B, 2*half]
  if (dim % 2) emb = at::cat({emb, at::zeros_like(emb.narrow(-1, 0, 1))}, -1);
  return emb;
}

}  // namespace dype::flux
