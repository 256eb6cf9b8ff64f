#include "core/flux/blocks.h"

#include "core/flux/attention.h"

namespace dype::flux {

namespace {
// [B, L, 3*H*D] -> q, k, v each [B, H, L, D] (rows ordered [q; k; v], head-major within each).
std::array<at::Tensor, 3> split_heads(const at::Tensor& qkv, std::int64_t num_heads) {
  const std::int64_t B = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / (3 * num_heads);
  const at::Tensor t = qkv.reshape({B, L, 3, num_heads, D}).permute({2, 0, 3, 1, 4});  // [3, B, H, L, D]
  return {t[0], t[1], t[2]};
}

at::Tensor modulate(const at::Tensor& x, const ModulationOut& m) {
  return (1 + m.scale) * layer_norm_no_affine(x) + m.shift;  // [B, L, C]
}
}  // namespace

SelfAttentionImpl::SelfAttentionImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t dim,
                                     std::int64_t num_heads, bool qkv_bias)
    : num_heads_(num_heads) {
  qkv = register_module("qkv", Linear(ws, prefix + ".qkv", dim, 3 * dim, qkv_bias));
  norm = register_module("norm", QKNorm(ws, prefix + ".norm", dim / num_heads));
  proj = register_module("proj", Linear(ws, prefix + ".proj", dim, dim));
}

std::array<at::Tensor, 3> SelfAttentionImpl::qkv_heads(const at::Tensor& x) {
  auto h = split_heads(qkv->forward(x), num_heads_);  // [B, H, L, D] ×3
  auto qk = norm->forward(h[0], h[1], h[2]);
  return {qk.first, qk.second, h[2]};
}

DoubleStreamBlockImpl::DoubleStreamBlockImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t hidden,
                                             std::int64_t num_heads, std::int64_t mlp_hidden, bool qkv_bias) {
  img_mod = register_module("img_mod", Modulation(ws, prefix + ".img_mod", hidden, true));
  img_attn = register_module("img_attn", SelfAttention(ws, prefix + ".img_attn", hidden, num_heads, qkv_bias));
  img_mlp = register_module("img_mlp", Mlp(ws, prefix + ".img_mlp", hidden, mlp_hidden));
  txt_mod = register_module("txt_mod", Modulation(ws, prefix + ".txt_mod", hidden, true));
  txt_attn = register_module("txt_attn", SelfAttention(ws, prefix + ".txt_attn", hidden, num_heads, qkv_bias));
  txt_mlp = register_module("txt_mlp", Mlp(ws, prefix + ".txt_mlp", hidden, mlp_hidden));
}

std::pair<at::Tensor, at::Tensor> DoubleStreamBlockImpl::forward(const at::Tensor& img, const at::Tensor& txt,
                                                                 const at::Tensor& vec, const at::Tensor& pe,
                                                                 const CancelPoint& check) {
  auto point = [&check] {
    if (check) check();
  };
  auto [img_mod1, img_mod2] = img_mod->forward(vec);
  auto [txt_mod1, txt_mod2] = txt_mod->forward(vec);

  auto img_qkv = img_attn->qkv_heads(modulate(img, img_mod1));  // [B, H, L_img, D] ×3
  auto txt_qkv = txt_attn->qkv_heads(modulate(txt, txt_mod1));  // [B, H, L_txt, D] ×3

  // Joint attention over [txt; img] (the order of ids and pe).
  const at::Tensor q = at::cat({txt_qkv[0], img_qkv[0]}, 2);  // [B, H, L, D]
  const at::Tensor k = at::cat({txt_qkv[1], img_qkv[1]}, 2);
  const at::Tensor v = at::cat({txt_qkv[2], img_qkv[2]}, 2);
  point();
  const at::Tensor attn = attention(q, k, v, pe);  // [B, L, C]
  point();
  const std::int64_t L_txt = txt.size(1);
  const at::Tensor txt_a = attn.narrow(1, 0, L_txt), img_a = attn.narrow(1, L_txt, attn.size(1) - L_txt);

  at::Tensor img_out = img + img_mod1.gate * img_attn->proj->forward(img_a);
  img_out = img_out + img_mod2.gate * img_mlp->forward(modulate(img_out, img_mod2));
  point();
  at::Tensor txt_out = txt + txt_mod1.gate * txt_attn->proj->forward(txt_a);
  txt_out = txt_out + txt_mod2.gate * txt_mlp->forward(modulate(txt_out, txt_mod2));
  return {img_out, txt_out};
}

SingleStreamBlockImpl::SingleStreamBlockImpl(io::WeightSource& ws, const std::string& prefix, std::int64_t hidden,
                                             std::int64_t num_heads, std::int64_t mlp_hidden)
    : hidden_(hidden), num_heads_(num_heads), mlp_hidden_(mlp_hidden) {
  linear1 = register_module("linear1", Linear(ws, prefix + ".linear1", hidden, 3 * hidden + mlp_hidden));
  linear2 = register_module("linear2", Linear(ws, prefix + ".linear2", hidden + mlp_hidden, hidden));
  norm = register_module("norm", QKNorm(ws, prefix + ".norm", hidden / num_heads));
  modulation = register_module("modulation", Modulation(ws, prefix + ".modulation", hidden, false));
}

at::Tensor SingleStreamBlockImpl::forward(const at::Tensor& x, const at::Tensor& vec, const at::Tensor& pe,
                                          const CancelPoint& check) {
  const ModulationOut mod = modulation->forward(vec).first;
  const at::Tensor h = linear1->forward(modulate(x, mod));  // [B, L, 3C + M]
  if (check) check();
  auto h_split = h.split_with_sizes({3 * hidden_, mlp_hidden_}, -1);  // [B, L, 3C], [B, L, M]
  auto qkv = split_heads(h_split[0], num_heads_);                     // [B, H, L, D] ×3
  auto qk = norm->forward(qkv[0], qkv[1], qkv[2]);
  const at::Tensor attn = attention(qk.first, qk.second, qkv[2], pe);  // [B, L, C]
  const at::Tensor mlp = at::gelu(h_split[1], "tanh");                 // [B, L, M]
  if (check) check();
  return x + mod.gate * linear2->forward(at::cat({attn, mlp}, 2));  // [B, L, C]
}

}  // namespace dype::flux
