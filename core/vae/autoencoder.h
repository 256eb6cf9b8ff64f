#pragma once
// FLUX's autoencoder (BFL `AutoEncoder`): a KL-VAE with 16 latent channels and a spatial factor of 8.
//
//   decode(z) = decoder(z / scale_factor + shift_factor)          z: [B, z_channels, h, w] -> [B, 3, 8h, 8w]
//   encode(x) = scale_factor * (mean - shift_factor)              mean = first z_channels of encoder(x)
//
// Module and parameter names ARE the BFL checkpoint keys (`decoder.up.3.block.1.conv2.weight`,
// `decoder.mid.attn_1.q.weight`, ...). Parameters are taken from a WeightSource while the modules are
// constructed (see core/vae/autoencoder_loader.h for files and for the random demo model); nothing is
// initialised twice. Blocks, in BFL's words:
//   ResnetBlock: x + conv2(swish(norm2(conv1(swish(norm1(x)))))), nin_shortcut (1x1) on x when C_in != C_out;
//                GroupNorm(32 groups, eps 1e-6), swish(x) = x * sigmoid(x).
//   AttnBlock:   x + proj_out(softmax(q k^T / sqrt(C)) v), one head over all positions, 1x1 q/k/v/proj_out.
//   Downsample:  zero-pad right and bottom by one, then 3x3 conv with stride 2.
//   Upsample:    nearest x2, then 3x3 conv.
// Computation runs in the dtype of the parameters (float32 on CPU); inputs are cast to it and decode/encode
// return that dtype. Inference runs under c10::InferenceMode (or NoGradGuard). The modules are also trainable in
// float32: set requires_grad on parameters() and the backward pass reaches every one (tests/unit/test_trainable).
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <map>
#include <string>
#include <vector>

#include "core/io/weights.h"

namespace dype::vae {

// BFL `AutoEncoderParams`. Defaults are FLUX.1's real VAE.
struct AutoEncoderConfig {
  int in_channels = 3;
  int out_ch = 3;
  int ch = 128;
  std::vector<int> ch_mult = {1, 2, 4, 4};
  int num_res_blocks = 2;
  int z_channels = 16;
  int norm_groups = 32;
  double scale_factor = 0.3611;
  double shift_factor = 0.1159;

  int num_resolutions() const { return static_cast<int>(ch_mult.size()); }
  // Image pixels per latent pixel along each axis: 2^(levels - 1) (8 for FLUX).
  int spatial_factor() const { return 1 << (num_resolutions() - 1); }
  // Throws InvalidArgument naming the offending value (e.g. channels not divisible by the group count).
  void validate() const;
  std::string to_string() const;  // "ch 128, ch_mult [1,2,4,4], 2 res blocks, z 16, ..."
};

// Intermediate tensors recorded by a traced decode/encode, keyed like the golden cases' `intermediate.*`
// entries without that prefix: decoder_input, conv_in, mid, up.3, up.2, up.1, up.0 (decoder) and
// moments (encoder).
using Trace = std::map<std::string, at::Tensor>;

// Leaf layers: parameters taken from the WeightSource under `prefix` + ".weight" / ".bias".
class ConvImpl : public torch::nn::Module {
 public:
  ConvImpl(io::WeightSource& w, const std::string& prefix, int in_channels, int out_channels, int kernel,
           int stride = 1, int padding = 0);
  at::Tensor forward(const at::Tensor& x);

 private:
  at::Tensor weight_, bias_;
  int stride_, padding_;
};
TORCH_MODULE(Conv);

class GroupNormImpl : public torch::nn::Module {
 public:
  GroupNormImpl(io::WeightSource& w, const std::string& prefix, int channels, int groups);
  at::Tensor forward(const at::Tensor& x);

 private:
  at::Tensor weight_, bias_;
  int groups_;
};
TORCH_MODULE(GroupNorm);

class ResnetBlockImpl : public torch::nn::Module {
 public:
  ResnetBlockImpl(io::WeightSource& w, const std::string& prefix, int in_channels, int out_channels, int groups);
  at::Tensor forward(const at::Tensor& x);

 private:
  GroupNorm norm1_{nullptr}, norm2_{nullptr};
  Conv conv1_{nullptr}, conv2_{nullptr};
  Conv nin_shortcut_{nullptr};  // only when in_channels != out_channels
};
TORCH_MODULE(ResnetBlock);

class AttnBlockImpl : public torch::nn::Module {
 public:
  AttnBlockImpl(io::WeightSource& w, const std::string& prefix, int channels, int groups);
  at::Tensor forward(const at::Tensor& x);

 private:
  GroupNorm norm_{nullptr};
  Conv q_{nullptr}, k_{nullptr}, v_{nullptr}, proj_out_{nullptr};
};
TORCH_MODULE(AttnBlock);

class UpsampleImpl : public torch::nn::Module {
 public:
  UpsampleImpl(io::WeightSource& w, const std::string& prefix, int channels);
  at::Tensor forward(const at::Tensor& x);

 private:
  Conv conv_{nullptr};
};
TORCH_MODULE(Upsample);

class DownsampleImpl : public torch::nn::Module {
 public:
  DownsampleImpl(io::WeightSource& w, const std::string& prefix, int channels);
  at::Tensor forward(const at::Tensor& x);

 private:
  Conv conv_{nullptr};
};
TORCH_MODULE(Downsample);

// The mid section shared by encoder and decoder: block_1, attn_1, block_2.
class MidBlockImpl : public torch::nn::Module {
 public:
  MidBlockImpl(io::WeightSource& w, const std::string& prefix, int channels, int groups);
  at::Tensor forward(const at::Tensor& x);

 private:
  ResnetBlock block_1_{nullptr}, block_2_{nullptr};
  AttnBlock attn_1_{nullptr};
};
TORCH_MODULE(MidBlock);

// encoder.*: image [B, in_channels, H, W] -> moments [B, 2*z_channels, H/f, W/f] (mean, then log-variance).
// H and W must be multiples of the spatial factor f.
class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(io::WeightSource& w, const AutoEncoderConfig& cfg);
  at::Tensor forward(const at::Tensor& x);

 private:
  AutoEncoderConfig cfg_;
  Conv conv_in_{nullptr}, conv_out_{nullptr};
  GroupNorm norm_out_{nullptr};
  std::vector<std::vector<ResnetBlock>> blocks_;  // [level][block]; registered as down.<level>.block.<i>
  std::vector<Downsample> downsample_;            // [level]; null for the last level
  MidBlock mid_{nullptr};
};
TORCH_MODULE(Encoder);

// decoder.*: z [B, z_channels, h, w] (already unscaled: z / scale + shift) -> image [B, out_ch, f*h, f*w].
// Levels run from the last (up.N-1, lowest resolution) down to up.0, as in BFL.
class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(io::WeightSource& w, const AutoEncoderConfig& cfg);
  at::Tensor forward(const at::Tensor& z, Trace* trace = nullptr);

 private:
  AutoEncoderConfig cfg_;
  Conv conv_in_{nullptr}, conv_out_{nullptr};
  GroupNorm norm_out_{nullptr};
  std::vector<std::vector<ResnetBlock>> blocks_;  // [level][block]; registered as up.<level>.block.<i>
  std::vector<Upsample> upsample_;                // [level]; null for level 0
  MidBlock mid_{nullptr};
};
TORCH_MODULE(Decoder);

class AutoEncoderImpl : public torch::nn::Module {
 public:
  // Takes every parameter from `w` and calls w.finish(), which throws ModelError listing every missing,
  // mis-shaped or unexpected tensor.
  AutoEncoderImpl(io::WeightSource& w, const AutoEncoderConfig& cfg);

  // z: [B, z_channels, h, w] in FLUX latent space -> image [B, out_ch, f*h, f*w] in about [-1, 1], not clamped.
  at::Tensor decode(const at::Tensor& z, Trace* trace = nullptr);
  // image: [B, in_channels, H, W] in [-1, 1], H and W multiples of f -> latent [B, z_channels, H/f, W/f]
  // (the distribution's mean, scaled; deterministic). `moments` / `mean`, when given, receive the raw encoder
  // output [B, 2*z_channels, H/f, W/f] and its first z_channels.
  at::Tensor encode(const at::Tensor& image, at::Tensor* moments = nullptr, at::Tensor* mean = nullptr);

  const AutoEncoderConfig& config() const { return cfg_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }
  Encoder encoder() const { return encoder_; }
  Decoder decoder() const { return decoder_; }

 private:
  AutoEncoderConfig cfg_;
  at::ScalarType dtype_;
  at::Device device_;
  Encoder encoder_{nullptr};
  Decoder decoder_{nullptr};
};
TORCH_MODULE(AutoEncoder);

}  // namespace dype::vae
