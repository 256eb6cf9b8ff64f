#include "bench/real_shapes.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/common/error.h"
#include "core/flux/model.h"
#include "core/io/weights.h"

namespace dype::bench {
namespace {

// round(full * f) to a multiple of `multiple`, at least `min`.
std::int64_t scaled(std::int64_t full, double f, std::int64_t multiple, std::int64_t min) {
  const auto v = static_cast<std::int64_t>(std::llround(static_cast<double>(full) * f / static_cast<double>(multiple)));
  return std::max(min, v * multiple);
}

// A WeightSource that only notes (name, shape). The placeholder it returns has the right sizes but all-zero
// strides over a one-element storage: constructing a real-size model costs no memory. take_stored() keeps the
// base class's default, which calls take(): every parameter passes through here whichever way a module asks.
class RecordingWeights : public io::WeightSource {
 public:
  RecordingWeights() : WeightSource(at::kFloat, at::kCPU) {}
  at::Tensor take(const std::string& name, at::IntArrayRef shape) override {
    list_.push_back({name, shape.vec()});
    return at::empty_strided(shape, std::vector<std::int64_t>(shape.size(), 0), at::kFloat);
  }
  void finish() override {}
  const std::vector<Recorded>& list() const { return list_; }

 private:
  std::vector<Recorded> list_;
};

}  // namespace

text::T5EncoderConfig t5_config(double f) {
  auto c = text::T5EncoderConfig::t5_xxl();  // vocab 32128, d_model 4096, 64 heads × 64, d_ff 10240, 24 layers
  if (f == 1) return c;
  c.d_model = scaled(c.d_model, f, 64, 64);
  c.num_heads = scaled(c.num_heads, f, 1, 1);  // d_kv stays 64 (the loader infers it from q's rows / heads)
  c.d_ff = scaled(c.d_ff, f, 64, 64);
  c.num_layers = scaled(c.num_layers, f, 1, 1);
  return c;
}

text::ClipTextConfig clip_config(double f) {
  auto c = text::ClipTextConfig::clip_l();  // vocab 49408, hidden 768, 12 layers × 12 heads, mlp 3072, 77 pos
  if (f == 1) return c;
  c.hidden_size = scaled(c.hidden_size, f, 64, 64);
  c.num_heads = c.hidden_size / 64;  // heads change no shape; only the loader's inference needs to agree
  c.intermediate_size = 4 * c.hidden_size;
  c.num_layers = scaled(c.num_layers, f, 1, 1);
  return c;
}

flux::FluxConfig flux_config(bool dev, double f) {
  auto c = dev ? flux::FluxConfig::dev() : flux::FluxConfig::schnell();
  if (f == 1) return c;
  c.num_heads = scaled(c.num_heads, f, 1, 1);
  c.hidden_size = 128 * c.num_heads;  // head dim 128 keeps FLUX's RoPE axes (16, 56, 56)
  c.depth = scaled(c.depth, f, 1, 1);
  c.depth_single_blocks = scaled(c.depth_single_blocks, f, 1, 1);
  c.context_in_dim = t5_config(f).d_model;    // txt_in reads T5's hidden states
  c.vec_in_dim = clip_config(f).hidden_size;  // vector_in reads CLIP's pooled output
  return c;
}

vae::AutoEncoderConfig vae_config(double f) {
  vae::AutoEncoderConfig c;  // the real FLUX AE: ch 128, ch_mult 1,2,4,4, 2 res blocks, z 16
  if (f == 1) return c;
  c.ch = static_cast<int>(scaled(c.ch, f, 32, 32));  // GroupNorm(32) needs multiples of 32
  c.num_res_blocks = static_cast<int>(scaled(c.num_res_blocks, f, 1, 1));
  return c;
}

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<Recorded> record(const std::string& what, double f, std::string* describe) {
  RecordingWeights ws;
  std::ostringstream d;
  if (what == "flux-dev" || what == "flux-schnell") {
    const auto c = flux_config(what == "flux-dev", f);
    flux::Flux model(c, ws);
    d << c.describe();
    std::int64_t n = 0;
    for (const auto& r : ws.list()) n += numel(r.shape);
    if (n != c.parameter_count())  // two independent countings of the same architecture must agree
      throw Error("internal: recorded " + std::to_string(n) + " parameters, FluxConfig::parameter_count() says " +
                  std::to_string(c.parameter_count()));
  } else if (what == "t5xxl") {
    const auto c = t5_config(f);
    text::T5Encoder model(c, ws);
    d << "d_model " << c.d_model << ", " << c.num_heads << " heads × " << c.d_kv << ", d_ff " << c.d_ff << ", "
      << c.num_layers << " layers, vocab " << c.vocab_size;
  } else if (what == "clip-l") {
    const auto c = clip_config(f);
    text::ClipTextModel model(c, ws);
    d << "hidden " << c.hidden_size << ", " << c.num_layers << " layers, mlp " << c.intermediate_size << ", vocab "
      << c.vocab_size << ", " << c.max_positions << " positions";
  } else {
    const auto c = vae_config(f);
    vae::AutoEncoder model(ws, c);
    d << c.to_string();
  }
  *describe = d.str();
  return ws.list();
}

}  // namespace dype::bench
