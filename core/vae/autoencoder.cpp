#include "core/vae/autoencoder.h"

#include <torch/version.h>

#include <cmath>
#include <sstream>

#include "core/common/error.h"
#include "core/vae/shared_norm.h"

namespace dype::vae {

namespace {

at::Tensor swish(const at::Tensor& x) { return x * at::sigmoid(x); }

// Scores of one query chunk are at most this large; bounds the attention working set at any resolution
// (a 512x512 latent has 262,144 positions: the full score matrix would be 256 GiB).
constexpr std::int64_t kAttnChunkBytes = 256ll << 20;

// softmax(q k^T / sqrt(C)) v for q, k, v [B, L, C], computed a block of queries at a time. Exact: every row of
// the softmax sees all keys; only the number of rows alive at once is bounded.
at::Tensor chunked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const std::int64_t B = q.size(0), L = q.size(1), C = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(C));
  at::Tensor kt = k.transpose(1, 2);  // [B, C, L]
  const std::int64_t row_bytes = B * L * static_cast<std::int64_t>(q.element_size());
  const std::int64_t rows = std::max<std::int64_t>(1, kAttnChunkBytes / std::max<std::int64_t>(row_bytes, 1));
  if (rows >= L) return at::matmul(at::softmax(at::matmul(q, kt).mul_(scale), -1), v);  // [B, L, C]
  at::Tensor out = at::empty_like(q);                                                   // [B, L, C]
  for (std::int64_t i = 0; i < L; i += rows) {
    const std::int64_t n = std::min(rows, L - i);
    at::Tensor s = at::matmul(q.narrow(1, i, n), kt).mul_(scale);  // [B, n, L]
    out.narrow(1, i, n).copy_(at::matmul(at::softmax(s, -1), v));  // [B, n, C]
  }
  return out;
}

std::string idx(const std::string& prefix, const char* part, int i) { return prefix + part + std::to_string(i); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Config

void AutoEncoderConfig::validate() const {
  auto bad = [this](const std::string& what) {
    throw InvalidArgument("invalid autoencoder configuration (" + to_string() + "): " + what);
  };
  if (in_channels <= 0 || out_ch <= 0 || ch <= 0 || z_channels <= 0 || num_res_blocks <= 0 || norm_groups <= 0)
    bad("channel counts, num_res_blocks and norm_groups must be positive");
  if (ch_mult.empty() || ch_mult.size() > 8) bad("ch_mult must have 1 to 8 levels");
  for (int m : ch_mult) {
    if (m <= 0) bad("ch_mult entries must be positive");
    if ((ch * m) % norm_groups != 0)
      bad("level width " + std::to_string(ch * m) + " is not divisible by " + std::to_string(norm_groups) +
          " GroupNorm groups");
  }
  if (ch % norm_groups != 0) bad("ch " + std::to_string(ch) + " is not divisible by the group count");
  if (!(scale_factor > 0) || !std::isfinite(scale_factor) || !std::isfinite(shift_factor))
    bad("scale_factor must be positive and finite, shift_factor finite");
}

std::string AutoEncoderConfig::to_string() const {
  std::ostringstream os;
  os << "ch " << ch << ", ch_mult [";
  for (std::size_t i = 0; i < ch_mult.size(); ++i) os << (i ? "," : "") << ch_mult[i];
  os << "], " << num_res_blocks << " res blocks, z " << z_channels << ", in " << in_channels << ", out " << out_ch
     << ", groups " << norm_groups << ", scale " << scale_factor << ", shift " << shift_factor;
  return os.str();
}

// ---------------------------------------------------------------------------------------------------------------
// Leaf layers

ConvImpl::ConvImpl(io::WeightSource& w, const std::string& prefix, int in_channels, int out_channels, int kernel,
                   int stride, int padding)
    : stride_(stride), padding_(padding) {
  weight_ =
      register_parameter("weight", w.take(prefix + ".weight", {out_channels, in_channels, kernel, kernel}), false);
  bias_ = register_parameter("bias", w.take(prefix + ".bias", {out_channels}), false);
}

at::Tensor ConvImpl::forward(const at::Tensor& x) {
  return at::conv2d(x, weight_, bias_, {stride_, stride_}, {padding_, padding_});
}

GroupNormImpl::GroupNormImpl(io::WeightSource& w, const std::string& prefix, int channels, int groups)
    : groups_(groups) {
  weight_ = register_parameter("weight", w.take(prefix + ".weight", {channels}), false);
  bias_ = register_parameter("bias", w.take(prefix + ".bias", {channels}), false);
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x) {
  // Inside a tiled decode the statistics may be image-wide rather than the tile's own (see shared_norm.h).
  if (SharedNormStats* shared = SharedNormStats::current()) return shared->group_norm(x, groups_, weight_, bias_, 1e-6);
  return at::group_norm(x, groups_, weight_, bias_, 1e-6, /*cudnn_enabled=*/true);
}

// ---------------------------------------------------------------------------------------------------------------
// Blocks

ResnetBlockImpl::ResnetBlockImpl(io::WeightSource& w, const std::string& prefix, int in_channels, int out_channels,
                                 int groups) {
  norm1_ = register_module("norm1", GroupNorm(w, prefix + ".norm1", in_channels, groups));
  conv1_ = register_module("conv1", Conv(w, prefix + ".conv1", in_channels, out_channels, 3, 1, 1));
  norm2_ = register_module("norm2", GroupNorm(w, prefix + ".norm2", out_channels, groups));
  conv2_ = register_module("conv2", Conv(w, prefix + ".conv2", out_channels, out_channels, 3, 1, 1));
  if (in_channels != out_channels)
    nin_shortcut_ = register_module("nin_shortcut", Conv(w, prefix + ".nin_shortcut", in_channels, out_channels, 1));
}

at::Tensor ResnetBlockImpl::forward(const at::Tensor& x) {
  at::Tensor h = conv1_->forward(swish(norm1_->forward(x)));  // [B, C_out, H, W]
  h = conv2_->forward(swish(norm2_->forward(h)));
  return (nin_shortcut_ ? nin_shortcut_->forward(x) : x) + h;
}

AttnBlockImpl::AttnBlockImpl(io::WeightSource& w, const std::string& prefix, int channels, int groups) {
  norm_ = register_module("norm", GroupNorm(w, prefix + ".norm", channels, groups));
  q_ = register_module("q", Conv(w, prefix + ".q", channels, channels, 1));
  k_ = register_module("k", Conv(w, prefix + ".k", channels, channels, 1));
  v_ = register_module("v", Conv(w, prefix + ".v", channels, channels, 1));
  proj_out_ = register_module("proj_out", Conv(w, prefix + ".proj_out", channels, channels, 1));
}

at::Tensor AttnBlockImpl::forward(const at::Tensor& x) {
  const std::int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  at::Tensor h = norm_->forward(x);
  // b c h w -> b (h w) c
  auto tokens = [&](const at::Tensor& t) { return t.reshape({B, C, H * W}).transpose(1, 2); };
  at::Tensor q = tokens(q_->forward(h));  // [B, L, C]
  at::Tensor k = tokens(k_->forward(h));  // [B, L, C]
  at::Tensor v = tokens(v_->forward(h));  // [B, L, C]
  at::Tensor a;
#if TORCH_VERSION_MAJOR >= 2
  if (x.is_cuda()) {
    // Fused kernels keep the L x L scores out of memory on the GPU.
    a = at::scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1);  // [B, L, C]
  } else {
    a = chunked_attention(q.contiguous(), k.contiguous(), v.contiguous());  // [B, L, C]
  }
#else
  a = chunked_attention(q.contiguous(), k.contiguous(), v.contiguous());  // [B, L, C]
#endif
  a = a.transpose(1, 2).reshape({B, C, H, W});  // [B, C, H, W]
  return x + proj_out_->forward(a);
}

UpsampleImpl::UpsampleImpl(io::WeightSource& w, const std::string& prefix, int channels) {
  conv_ = register_module("conv", Conv(w, prefix + ".conv", channels, channels, 3, 1, 1));
}

at::Tensor UpsampleImpl::forward(const at::Tensor& x) {
  // Nearest x2: output pixel (i, j) copies input (i / 2, j / 2).
  at::Tensor up = at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2}, 2.0, 2.0);  // [B, C, 2H, 2W]
  return conv_->forward(up);
}

DownsampleImpl::DownsampleImpl(io::WeightSource& w, const std::string& prefix, int channels) {
  conv_ = register_module("conv", Conv(w, prefix + ".conv", channels, channels, 3, 2, 0));
}

at::Tensor DownsampleImpl::forward(const at::Tensor& x) {
  // Asymmetric padding (right and bottom only), as the reference does, so that H/2 x W/2 comes out.
  return conv_->forward(at::constant_pad_nd(x, {0, 1, 0, 1}, 0));  // [B, C, H/2, W/2]
}

MidBlockImpl::MidBlockImpl(io::WeightSource& w, const std::string& prefix, int channels, int groups) {
  block_1_ = register_module("block_1", ResnetBlock(w, prefix + ".block_1", channels, channels, groups));
  attn_1_ = register_module("attn_1", AttnBlock(w, prefix + ".attn_1", channels, groups));
  block_2_ = register_module("block_2", ResnetBlock(w, prefix + ".block_2", channels, channels, groups));
}

at::Tensor MidBlockImpl::forward(const at::Tensor& x) {
  return block_2_->forward(attn_1_->forward(block_1_->forward(x)));
}

// ---------------------------------------------------------------------------------------------------------------
// Encoder

EncoderImpl::EncoderImpl(io::WeightSource& w, const AutoEncoderConfig& cfg) : cfg_(cfg) {
  const std::string p = "encoder.";
  const int n = cfg.num_resolutions(), g = cfg.norm_groups;
  conv_in_ = register_module("conv_in", Conv(w, p + "conv_in", cfg.in_channels, cfg.ch, 3, 1, 1));
  auto down = register_module("down", torch::nn::ModuleList());
  int block_in = cfg.ch;
  for (int level = 0; level < n; ++level) {
    const int block_out = cfg.ch * cfg.ch_mult[level];
    const std::string lp = idx(p, "down.", level);
    auto level_module = std::make_shared<torch::nn::Module>();
    auto block_list = level_module->register_module("block", torch::nn::ModuleList());
    blocks_.emplace_back();
    for (int b = 0; b < cfg.num_res_blocks; ++b) {
      ResnetBlock rb(w, idx(lp, ".block.", b), block_in, block_out, g);
      block_list->push_back(rb);
      blocks_.back().push_back(rb);
      block_in = block_out;
    }
    downsample_.emplace_back(nullptr);
    if (level != n - 1)
      downsample_.back() = level_module->register_module("downsample", Downsample(w, lp + ".downsample", block_in));
    down->push_back(level_module);
  }
  mid_ = register_module("mid", MidBlock(w, p + "mid", block_in, g));
  norm_out_ = register_module("norm_out", GroupNorm(w, p + "norm_out", block_in, g));
  conv_out_ = register_module("conv_out", Conv(w, p + "conv_out", block_in, 2 * cfg.z_channels, 3, 1, 1));
}

at::Tensor EncoderImpl::forward(const at::Tensor& x) {
  at::Tensor h = conv_in_->forward(x);  // [B, ch, H, W]
  for (std::size_t level = 0; level < blocks_.size(); ++level) {
    for (auto& b : blocks_[level]) h = b->forward(h);
    if (downsample_[level]) h = downsample_[level]->forward(h);
  }
  h = mid_->forward(h);                                     // [B, C, H/f, W/f]
  return conv_out_->forward(swish(norm_out_->forward(h)));  // [B, 2*z, H/f, W/f]
}

// ---------------------------------------------------------------------------------------------------------------
// Decoder

DecoderImpl::DecoderImpl(io::WeightSource& w, const AutoEncoderConfig& cfg) : cfg_(cfg) {
  const std::string p = "decoder.";
  const int n = cfg.num_resolutions(), g = cfg.norm_groups;
  int block_in = cfg.ch * cfg.ch_mult[n - 1];
  conv_in_ = register_module("conv_in", Conv(w, p + "conv_in", cfg.z_channels, block_in, 3, 1, 1));
  mid_ = register_module("mid", MidBlock(w, p + "mid", block_in, g));
  // Built from the lowest resolution up (that is the order channel counts flow in), registered as up.0..up.N-1.
  blocks_.resize(n);
  upsample_.resize(n, Upsample(nullptr));
  std::vector<std::shared_ptr<torch::nn::Module>> levels(n);
  for (int level = n - 1; level >= 0; --level) {
    const int block_out = cfg.ch * cfg.ch_mult[level];
    const std::string lp = idx(p, "up.", level);
    levels[level] = std::make_shared<torch::nn::Module>();
    auto block_list = levels[level]->register_module("block", torch::nn::ModuleList());
    for (int b = 0; b < cfg.num_res_blocks + 1; ++b) {
      ResnetBlock rb(w, idx(lp, ".block.", b), block_in, block_out, g);
      block_list->push_back(rb);
      blocks_[level].push_back(rb);
      block_in = block_out;
    }
    if (level != 0)
      upsample_[level] = levels[level]->register_module("upsample", Upsample(w, lp + ".upsample", block_in));
  }
  auto up = register_module("up", torch::nn::ModuleList());
  for (auto& l : levels) up->push_back(l);
  norm_out_ = register_module("norm_out", GroupNorm(w, p + "norm_out", block_in, g));
  conv_out_ = register_module("conv_out", Conv(w, p + "conv_out", block_in, cfg.out_ch, 3, 1, 1));
}

at::Tensor DecoderImpl::forward(const at::Tensor& z, Trace* trace) {
  at::Tensor h = conv_in_->forward(z);  // [B, C_top, h, w]
  if (trace) (*trace)["conv_in"] = h;
  h = mid_->forward(h);
  if (trace) (*trace)["mid"] = h;
  for (int level = cfg_.num_resolutions() - 1; level >= 0; --level) {
    for (auto& b : blocks_[level]) h = b->forward(h);
    if (upsample_[level]) h = upsample_[level]->forward(h);  // [B, C_level, 2H, 2W]
    if (trace) (*trace)["up." + std::to_string(level)] = h;
  }
  return conv_out_->forward(swish(norm_out_->forward(h)));  // [B, out_ch, f*h, f*w]
}

// ---------------------------------------------------------------------------------------------------------------
// AutoEncoder

AutoEncoderImpl::AutoEncoderImpl(io::WeightSource& w, const AutoEncoderConfig& cfg)
    : cfg_(cfg), dtype_(w.dtype()), device_(w.device()) {
  cfg_.validate();
  encoder_ = register_module("encoder", Encoder(w, cfg_));
  decoder_ = register_module("decoder", Decoder(w, cfg_));
  w.finish();
}

at::Tensor AutoEncoderImpl::decode(const at::Tensor& z, Trace* trace) {
  if (z.dim() != 4 || z.size(1) != cfg_.z_channels || z.size(2) < 1 || z.size(3) < 1) {
    std::ostringstream os;
    os << "VAE decode expects a latent [B, " << cfg_.z_channels << ", h, w], got " << z.sizes();
    throw InvalidArgument(os.str());
  }
  // decoder(z / scale + shift), with the reference's exact operation order.
  at::Tensor x = z.to(device_, dtype_).div(cfg_.scale_factor).add(cfg_.shift_factor);  // [B, z, h, w]
  if (trace) (*trace)["decoder_input"] = x;
  return decoder_->forward(x, trace);
}

at::Tensor AutoEncoderImpl::encode(const at::Tensor& image, at::Tensor* moments, at::Tensor* mean) {
  const int f = cfg_.spatial_factor();
  if (image.dim() != 4 || image.size(1) != cfg_.in_channels || image.size(2) < f || image.size(3) < f ||
      image.size(2) % f != 0 || image.size(3) % f != 0) {
    std::ostringstream os;
    os << "VAE encode expects an image [B, " << cfg_.in_channels << ", H, W] with H and W positive multiples of " << f
       << ", got " << image.sizes();
    throw InvalidArgument(os.str());
  }
  at::Tensor m = encoder_->forward(image.to(device_, dtype_));  // [B, 2*z, H/f, W/f]
  at::Tensor mu = m.narrow(1, 0, cfg_.z_channels);              // [B, z, H/f, W/f]
  if (moments) *moments = m;
  if (mean) *mean = mu;
  return mu.sub(cfg_.shift_factor).mul(cfg_.scale_factor);
}

}  // namespace dype::vae
