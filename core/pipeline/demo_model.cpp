#include "core/pipeline/demo_model.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/pipeline/demo_resources.h"
#include "core/vae/autoencoder_loader.h"

namespace dype {

namespace fs = std::filesystem;

flux::FluxConfig demo_flux_config() {
  flux::FluxConfig c;
  c.in_channels = 64;
  c.out_channels = 64;
  c.vec_in_dim = 64;      // = demo CLIP hidden
  c.context_in_dim = 32;  // = demo T5 d_model
  c.hidden_size = 128;
  c.mlp_ratio = 4.0;
  c.num_heads = 2;
  c.depth = 1;
  c.depth_single_blocks = 1;
  c.axes_dim = {8, 28, 28};
  c.theta = 10000.0;
  c.qkv_bias = true;
  c.guidance_embed = true;
  return c;
}

text::ClipTextConfig demo_clip_config(std::int64_t vocab_size) {
  text::ClipTextConfig c;
  c.vocab_size = vocab_size;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_layers = 2;
  c.num_heads = 2;
  c.max_positions = 77;
  return c;
}

text::T5EncoderConfig demo_t5_config(std::int64_t vocab_size) {
  text::T5EncoderConfig c;
  c.vocab_size = vocab_size;
  c.d_model = 32;
  c.d_kv = 16;
  c.num_heads = 2;
  c.d_ff = 64;
  c.num_layers = 2;
  return c;
}

vae::AutoEncoderConfig demo_vae_config() {
  vae::AutoEncoderConfig c;
  c.ch = 16;
  c.ch_mult = {1, 1, 1, 1};  // three ×2 upsamplings: FLUX's factor 8
  c.num_res_blocks = 1;
  c.z_channels = 16;
  c.norm_groups = 16;
  return c;
}

namespace {

// The tokenizer loaders read files: the embedded copies are written to a private temporary folder for the
// duration of the load and removed right after (the tokenizers keep everything in memory).
class EmbeddedFolder {
 public:
  EmbeddedFolder() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/dype-demo-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data()))
      throw IoError("demo model: cannot create a temporary folder under '" + std::string(tmp && *tmp ? tmp : "/tmp") +
                    "' for its tokenizer files (set TMPDIR to a writable folder)");
    dir_ = buf.data();
    for (const auto& f : demo::embedded_files()) {
      const fs::path p = fs::path(dir_) / f.path;
      std::error_code ec;
      fs::create_directories(p.parent_path(), ec);
      std::ofstream out(p, std::ios::binary);
      out.write(reinterpret_cast<const char*>(f.data), static_cast<std::streamsize>(f.size));
      if (!out) throw IoError("demo model: cannot write '" + p.string() + "'");
    }
  }
  ~EmbeddedFolder() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const char* rel) const { return (fs::path(dir_) / rel).string(); }

 private:
  std::string dir_;
};

}  // namespace

PipelineComponents make_demo_components(at::Device device, at::ScalarType dtype, at::Device text_device) {
  PipelineComponents c;
  c.device = device;
  c.dtype = dtype;
  c.text_device = text_device;
  c.demo = true;
  c.label = kDemoLabel;
  {
    EmbeddedFolder files;
    c.clip_tokenizer = std::make_unique<text::ClipTokenizer>(text::ClipTokenizer::load(files.path("tokenizer")));
    c.t5_tokenizer = std::make_unique<text::T5Tokenizer>(text::T5Tokenizer::load(files.path("tokenizer_2")));
  }
  const at::ScalarType text_dtype = text_device.is_cpu() ? at::kFloat : dtype;
  c.clip =
      text::make_random_clip_text_model(demo_clip_config(static_cast<std::int64_t>(c.clip_tokenizer->vocab_size())),
                                        kDemoSeed + 1, text_dtype, text_device);
  c.t5 = text::make_random_t5_encoder(demo_t5_config(c.t5_tokenizer->vocab_size()), kDemoSeed + 2, text_dtype,
                                      text_device);
  c.transformer = flux::make_random_flux(demo_flux_config(), kDemoSeed + 3, dtype, device);
  c.vae = vae::make_random_autoencoder(demo_vae_config(), kDemoSeed + 4, dtype, device);
  c.transformer_path = c.vae_path = c.clip_path = c.t5_path = "(built in)";
  c.clip_tokenizer_path = c.t5_tokenizer_path = "(built in)";
  return c;
}

}  // namespace dype
