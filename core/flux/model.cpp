#include "core/flux/model.h"

#include <torch/version.h>

#include "core/common/error.h"
#include "core/flux/embed_nd.h"

namespace dype::flux {

namespace {
std::string sz(const at::Tensor& t) { return t.defined() ? std::string(c10::str(t.sizes())) : "(none)"; }
}  // namespace

FluxImpl::FluxImpl(const FluxConfig& config, io::WeightSource& ws)
    : config_(config), dtype_(ws.dtype()), device_(ws.device()) {
  config_.validate();
  if (dtype_ != at::kFloat && dtype_ != at::kBFloat16 && dtype_ != at::kHalf)
    throw InvalidArgument(std::string("FLUX compute dtype must be float32, bfloat16 or float16, not ") +
                          c10::toString(dtype_));
#if TORCH_VERSION_MAJOR < 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR < 2)
  // Older LibTorch CPU builds have no float16 matrix multiply ("addmm_impl_cpu_ not implemented for 'Half'").
  if (dtype_ == at::kHalf && device_.is_cpu())
    throw InvalidArgument("float16 compute is not available on the CPU with LibTorch " TORCH_VERSION
                          "; use float32 or bfloat16 on the CPU, or float16 on a GPU");
#endif
  const std::int64_t h = config_.hidden_size;
  img_in = register_module("img_in", Linear(ws, "img_in", config_.in_channels, h));
  time_in = register_module("time_in", MLPEmbedder(ws, "time_in", 256, h));
  vector_in = register_module("vector_in", MLPEmbedder(ws, "vector_in", config_.vec_in_dim, h));
  if (config_.guidance_embed) guidance_in = register_module("guidance_in", MLPEmbedder(ws, "guidance_in", 256, h));
  txt_in = register_module("txt_in", Linear(ws, "txt_in", config_.context_in_dim, h));

  auto doubles = register_module("double_blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < config_.depth; ++i) {
    double_blocks.emplace_back(ws, "double_blocks." + std::to_string(i), h, config_.num_heads, config_.mlp_hidden_dim(),
                               config_.qkv_bias);
    doubles->push_back(double_blocks.back());
  }
  auto singles = register_module("single_blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < config_.depth_single_blocks; ++i) {
    single_blocks.emplace_back(ws, "single_blocks." + std::to_string(i), h, config_.num_heads,
                               config_.mlp_hidden_dim());
    singles->push_back(single_blocks.back());
  }
  final_layer = register_module("final_layer", LastLayer(ws, "final_layer", h, config_.out_channels));
}

std::int64_t FluxImpl::parameter_bytes() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel() * static_cast<std::int64_t>(p.element_size());
  return n;
}

void FluxImpl::check_inputs(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& timesteps,
                            const at::Tensor& y, const at::Tensor& guidance) const {
  const auto& c = config_;
  auto bad = [&](const std::string& what) {
    throw InvalidArgument("FLUX forward: " + what + " (model: " + c.describe() + "; got img " + sz(img) + ", txt " +
                          sz(txt) + ", timesteps " + sz(timesteps) + ", y " + sz(y) + ", guidance " + sz(guidance) +
                          ")");
  };
  if (!img.defined() || img.dim() != 3 || img.size(2) != c.in_channels)
    bad("img must be [B, L_img, " + std::to_string(c.in_channels) + "]");
  const std::int64_t B = img.size(0);
  if (!txt.defined() || txt.dim() != 3 || txt.size(0) != B || txt.size(2) != c.context_in_dim)
    bad("txt must be [B, L_txt, " + std::to_string(c.context_in_dim) + "] with the batch size of img");
  if (!timesteps.defined() || timesteps.numel() != B) bad("timesteps must hold one value per sample");
  if (!y.defined() || y.dim() != 2 || y.size(0) != B || y.size(1) != c.vec_in_dim)
    bad("y must be [B, " + std::to_string(c.vec_in_dim) + "]");
  if (c.guidance_embed && (!guidance.defined() || guidance.numel() != B))
    bad("this is a guidance-distilled model (FLUX.1-dev): guidance must hold one value per sample");
}

at::Tensor FluxImpl::build_pe(const at::Tensor& txt_ids, const at::Tensor& img_ids, const DypeConfig& dype,
                              double t) const {
  if (!txt_ids.defined() || !img_ids.defined() || txt_ids.dim() != 3 || img_ids.dim() != 3 || txt_ids.size(2) != 3 ||
      img_ids.size(2) != 3 || txt_ids.size(0) != img_ids.size(0))
    throw InvalidArgument("FLUX forward: txt_ids and img_ids must be [B, L, 3] with the same B; got " + sz(txt_ids) +
                          " and " + sz(img_ids));
  const at::Tensor ids = at::cat({txt_ids, img_ids}, 1);   // [B, L_txt + L_img, 3], text first
  return embed_nd(ids, dype, config_.rope_geometry(), t);  // [B, 1, L, D/2, 2, 2]
}

at::Tensor FluxImpl::embed_vec(const at::Tensor& timesteps, const at::Tensor& y, const at::Tensor& guidance,
                               Intermediates* capture) {
  const at::Tensor t_emb = timestep_embedding(timesteps.to(device_)).to(dtype_);  // [B, 256]
  at::Tensor vec = time_in->forward(t_emb);                                       // [B, C]
  if (capture) (*capture)["time_in"] = vec;
  if (config_.guidance_embed) {
    const at::Tensor g = guidance_in->forward(timestep_embedding(guidance.to(device_)).to(dtype_));  // [B, C]
    if (capture) (*capture)["guidance_in"] = g;
    vec = vec + g;
  }
  const at::Tensor v = vector_in->forward(y.to(device_, dtype_));  // [B, C]
  if (capture) (*capture)["vector_in"] = v;
  vec = vec + v;
  if (capture) (*capture)["vec"] = vec;
  return vec;
}

at::Tensor FluxImpl::forward(const at::Tensor& img, const at::Tensor& img_ids, const at::Tensor& txt,
                             const at::Tensor& txt_ids, const at::Tensor& timesteps, const at::Tensor& y,
                             const at::Tensor& guidance, const DypeConfig& dype, double dype_t, Intermediates* capture,
                             const BlockObserver& on_block, const CancelPoint& check) {
  check_inputs(img, txt, timesteps, y, guidance);
  if (img_ids.defined() && txt_ids.defined() &&
      (img_ids.dim() != 3 || txt_ids.dim() != 3 || img_ids.size(1) != img.size(1) || txt_ids.size(1) != txt.size(1)))
    throw InvalidArgument("FLUX forward: img_ids " + sz(img_ids) + " / txt_ids " + sz(txt_ids) +
                          " must have one id per token of img " + sz(img) + " / txt " + sz(txt));
  const at::Tensor pe = build_pe(txt_ids.to(device_), img_ids.to(device_), dype, dype_t);
  if (capture) (*capture)["pe"] = pe;
  return forward(img, txt, timesteps, y, guidance, pe, capture, on_block, check);
}

at::Tensor FluxImpl::forward(const at::Tensor& img_raw, const at::Tensor& txt_raw, const at::Tensor& timesteps,
                             const at::Tensor& y, const at::Tensor& guidance, const at::Tensor& pe_raw,
                             Intermediates* capture, const BlockObserver& on_block, const CancelPoint& check) {
  check_inputs(img_raw, txt_raw, timesteps, y, guidance);
  const std::int64_t L_txt = txt_raw.size(1), L = L_txt + img_raw.size(1);
  if (!pe_raw.defined() || pe_raw.dim() != 6 || pe_raw.size(2) != L || pe_raw.size(3) != config_.head_dim() / 2)
    throw InvalidArgument("FLUX forward: pe " + sz(pe_raw) + " does not fit " + std::to_string(L) +
                          " tokens with head dim " + std::to_string(config_.head_dim()));
  const at::Tensor pe = pe_raw.to(device_, at::kFloat);

  at::Tensor img = img_in->forward(img_raw.to(device_, dtype_));  // [B, L_img, C]
  if (capture) (*capture)["img_in"] = img;
  const at::Tensor vec = embed_vec(timesteps, y, guidance, capture);  // [B, C]
  at::Tensor txt = txt_in->forward(txt_raw.to(device_, dtype_));      // [B, L_txt, C]
  if (capture) (*capture)["txt_in"] = txt;

  const int total_blocks = static_cast<int>(double_blocks.size() + single_blocks.size());
  int blocks_done = 0;
  for (std::size_t i = 0; i < double_blocks.size(); ++i) {
    std::tie(img, txt) = double_blocks[i]->forward(img, txt, vec, pe, check);
    if (capture) {
      (*capture)["double_blocks." + std::to_string(i) + ".img"] = img;
      (*capture)["double_blocks." + std::to_string(i) + ".txt"] = txt;
    }
    if (on_block) on_block(++blocks_done, total_blocks);
  }
  at::Tensor x = at::cat({txt, img}, 1);  // [B, L, C]
  txt = at::Tensor();
  img = at::Tensor();
  for (std::size_t i = 0; i < single_blocks.size(); ++i) {
    x = single_blocks[i]->forward(x, vec, pe, check);
    if (capture) (*capture)["single_blocks." + std::to_string(i)] = x;
    if (on_block) on_block(++blocks_done, total_blocks);
  }
  x = x.narrow(1, L_txt, L - L_txt);    // [B, L_img, C]
  return final_layer->forward(x, vec);  // [B, L_img, out]
}

Flux make_random_flux(const FluxConfig& config, std::uint64_t seed, at::ScalarType dtype, at::Device device) {
  io::RandomWeights ws(seed, dtype, device);
  Flux model(config, ws);
  ws.finish();
  return model;
}

}  // namespace dype::flux
