#include "core/pipeline/demo_model.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include "core/common/error.h"
#include "core/io/tensor_store.h"
#include "core/io/weights.h"
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

flux::FluxConfig trained_demo_flux_config(const DemoTransformerShape& shape) {
  flux::FluxConfig c = demo_flux_config();
  const int head = shape.num_heads > 0 ? shape.hidden_size / shape.num_heads : 0;
  if (shape.hidden_size < 32 || shape.num_heads < 1 || shape.depth < 0 || shape.depth_single_blocks < 0 ||
      shape.depth + shape.depth_single_blocks < 1 || head * shape.num_heads != shape.hidden_size || head % 32 != 0 ||
      !(shape.theta >= 2 && shape.theta <= 1e9))
    throw InvalidArgument("demo transformer: hidden " + std::to_string(shape.hidden_size) + " over " +
                          std::to_string(shape.num_heads) + " heads, " + std::to_string(shape.depth) + " double + " +
                          std::to_string(shape.depth_single_blocks) + " single blocks, RoPE theta " +
                          std::to_string(shape.theta) +
                          ": the head size must be a multiple of 32, there must be a block, theta in 2…1e9");
  c.hidden_size = shape.hidden_size;
  c.num_heads = shape.num_heads;
  c.depth = shape.depth;
  c.depth_single_blocks = shape.depth_single_blocks;
  // FLUX's 16/56/56 split of a 128 head (time axis / rows / columns), scaled to this head size.
  c.axes_dim = {head / 8, head * 7 / 16, head * 7 / 16};
  c.theta = shape.theta;
  c.guidance_embed = false;  // schnell-style: one prediction per step, no guidance to choose
  return c;
}

DemoTransformerShape demo_transformer_shape(const std::map<std::string, std::string>& metadata) {
  DemoTransformerShape s;
  // Absent keys keep the default (files written before the size could change).
  auto read = [&](const char* key, auto& into, bool whole) {
    const auto it = metadata.find(key);
    if (it == metadata.end()) return;
    std::size_t used = 0;
    double v = -1;
    try {
      v = std::stod(it->second, &used);
    } catch (const std::exception&) {
    }
    if (used == 0 || used != it->second.size() || v < 0 || (whole && (v != std::floor(v) || v > 1e6)))
      throw ModelError(std::string("demo weights: metadata '") + key + "' is not a " + (whole ? "count" : "number") +
                       ": '" + it->second + "'");
    into = static_cast<std::remove_reference_t<decltype(into)>>(v);
  };
  read("hidden_size", s.hidden_size, true);
  read("num_heads", s.num_heads, true);
  read("depth", s.depth, true);
  read("depth_single_blocks", s.depth_single_blocks, true);
  read("theta", s.theta, false);
  try {
    trained_demo_flux_config(s);
  } catch (const InvalidArgument& e) {
    throw ModelError(std::string("demo weights: metadata describes an impossible ") + e.what());
  }
  return s;
}

std::map<std::string, std::string> demo_transformer_metadata(const DemoTransformerShape& s) {
  return {{"hidden_size", std::to_string(s.hidden_size)},
          {"num_heads", std::to_string(s.num_heads)},
          {"depth", std::to_string(s.depth)},
          {"depth_single_blocks", std::to_string(s.depth_single_blocks)},
          {"theta", std::to_string(s.theta)}};
}

vae::AutoEncoderConfig trained_demo_vae_config() {
  vae::AutoEncoderConfig c;
  c.ch = 16;
  c.ch_mult = {1, 2, 4, 4};
  c.num_res_blocks = 1;
  c.z_channels = 16;
  // Four channels per group at the narrowest level. With one channel per group (16 groups over 16 channels),
  // GroupNorm normalises each channel over the whole picture and a plain background comes out of every norm as
  // zeros, whatever its colour: such a VAE could not learn whole pictures (loss stuck near that of a blank output).
  c.norm_groups = 4;
  c.scale_factor = 1.0;  // measured on the training data; stored in the weights file's metadata
  c.shift_factor = 0.0;
  return c;
}

bool is_demo_model(const std::string& model) { return model == kDemoModel || model == kDemoRandomModel; }

bool has_trained_demo() { return demo::trained_weights() != nullptr; }

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
    for (const auto& f : demo::embedded_files()) write(f);
  }
  ~EmbeddedFolder() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const char* rel) const { return (fs::path(dir_) / rel).string(); }
  // Writes one more embedded file into the folder; returns its path.
  std::string write(const demo::EmbeddedFile& f) const {
    const fs::path p = fs::path(dir_) / f.path;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(f.data), static_cast<std::streamsize>(f.size));
    if (!out) throw IoError("demo model: cannot write '" + p.string() + "' (is the temporary folder full?)");
    return p.string();
  }

 private:
  std::string dir_;
};

void load_demo_tokenizers(PipelineComponents& c, const EmbeddedFolder& files) {
  c.clip_tokenizer = std::make_unique<text::ClipTokenizer>(text::ClipTokenizer::load(files.path("tokenizer")));
  c.t5_tokenizer = std::make_unique<text::T5Tokenizer>(text::T5Tokenizer::load(files.path("tokenizer_2")));
  c.clip_tokenizer_path = c.t5_tokenizer_path = "(built in)";
}

}  // namespace

void make_demo_text(PipelineComponents& c, at::ScalarType dtype, at::Device text_device) {
  c.text_device = text_device;
  load_demo_tokenizers(c, EmbeddedFolder());
  const at::ScalarType text_dtype = text_device.is_cpu() ? at::kFloat : dtype;
  c.clip =
      text::make_random_clip_text_model(demo_clip_config(static_cast<std::int64_t>(c.clip_tokenizer->vocab_size())),
                                        kDemoSeed + 1, text_dtype, text_device);
  c.t5 = text::make_random_t5_encoder(demo_t5_config(c.t5_tokenizer->vocab_size()), kDemoSeed + 2, text_dtype,
                                      text_device);
}

PipelineComponents make_demo_components(at::Device device, at::ScalarType dtype, at::Device text_device) {
  PipelineComponents c;
  c.device = device;
  c.dtype = dtype;
  c.demo = true;
  c.label = kDemoRandomLabel;
  make_demo_text(c, dtype, text_device);
  c.transformer = flux::make_random_flux(demo_flux_config(), kDemoSeed + 3, dtype, device);
  c.vae = vae::make_random_autoencoder(demo_vae_config(), kDemoSeed + 4, dtype, device);
  c.transformer_path = c.vae_path = c.clip_path = c.t5_path = "(built in)";
  return c;
}

namespace {

double metadata_number(const io::TensorStore& store, const std::string& key) {
  const auto& meta = store.files().front()->metadata();
  const auto it = meta.find(key);
  if (it == meta.end())
    throw ModelError(store.label() + ": not a trained demo model (no '" + key +
                     "' in its metadata; write one with `dype train-demo`)");
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    throw ModelError(store.label() + ": metadata '" + key + "' is not a number: '" + it->second + "'");
  }
}

// The trained demo's weights: `weights`, or the copy compiled into the binary written into `files` (the mapping
// outlives that temporary file, so the tensors stay valid after `files` is gone).
std::shared_ptr<const io::TensorStore> open_trained_demo(const EmbeddedFolder& files, const std::string& weights) {
  std::string path = weights;
  if (path.empty()) {
    const demo::EmbeddedFile* f = demo::trained_weights();
    if (!f)
      throw ModelError(
          "this build has no trained demo weights (resources/demo/trained/demo.safetensors was missing when it "
          "was configured): use --model demo-random, or train them with `dype train-demo`");
    path = files.write(*f);
  }
  return io::TensorStore::open(path);
}

}  // namespace

double trained_demo_pattern_scale(const std::string& weights) {
  EmbeddedFolder files;
  const auto store = open_trained_demo(files, weights);
  // Files written before --pattern-scale existed were trained on the generator's own periods.
  return store->files().front()->metadata().count("pattern_scale") ? metadata_number(*store, "pattern_scale") : 1.0;
}

std::string trained_demo_label(int base_resolution) {
  return "demo — tiny model trained on procedural shapes, " + std::to_string(base_resolution) + " px base";
}

PipelineComponents load_trained_demo_components(at::Device device, at::ScalarType dtype, at::Device text_device,
                                                const std::string& weights) {
  PipelineComponents c;
  c.device = device;
  c.dtype = dtype;
  c.demo = true;
  c.default_steps = kTrainedDemoSteps;
  // The tokenizers come from the binary; the encoders' weights from the file (the same random initialisation the
  // trainer froze, stored so that the model does not depend on this build's random generator).
  {
    EmbeddedFolder files;
    load_demo_tokenizers(c, files);
    const auto store = open_trained_demo(files, weights);
    vae::AutoEncoderConfig vc = trained_demo_vae_config();
    vc.scale_factor = metadata_number(*store, "vae_scale_factor");
    vc.shift_factor = metadata_number(*store, "vae_shift_factor");
    // The T5 length and base resolution the model was trained with are part of its config (the file's metadata).
    c.t5_length = static_cast<int>(metadata_number(*store, "t5_length"));
    c.base_resolution = static_cast<int>(metadata_number(*store, "base_resolution"));
    if (c.t5_length < 1 || c.t5_length > 512 || c.base_resolution < 16 || c.base_resolution % 16 != 0)
      throw ModelError(store->label() + ": metadata t5_length " + std::to_string(c.t5_length) + " / base_resolution " +
                       std::to_string(c.base_resolution) + " out of range (1…512 / a multiple of 16)");
    c.label = trained_demo_label(c.base_resolution);
    const at::ScalarType text_dtype = text_device.is_cpu() ? at::kFloat : dtype;
    {
      io::CheckpointWeights w(store, "transformer", dtype, device, kDemoTransformerPrefix);
      c.transformer =
          flux::Flux(trained_demo_flux_config(demo_transformer_shape(store->files().front()->metadata())), w);
      w.finish();
    }
    {
      io::CheckpointWeights w(store, "VAE", dtype, device, kDemoVaePrefix);
      c.vae = vae::AutoEncoder(w, vc);
    }
    {
      io::CheckpointWeights w(store, "CLIP text encoder", text_dtype, text_device, kDemoClipPrefix);
      c.clip = text::ClipTextModel(demo_clip_config(static_cast<std::int64_t>(c.clip_tokenizer->vocab_size())), w);
    }
    {
      io::CheckpointWeights w(store, "T5 encoder", text_dtype, text_device, kDemoT5Prefix);
      c.t5 = text::T5Encoder(demo_t5_config(c.t5_tokenizer->vocab_size()), w);
    }
  }
  c.text_device = text_device;
  c.transformer_path = c.vae_path = c.clip_path = c.t5_path = weights.empty() ? "(built in)" : weights;
  return c;
}

}  // namespace dype
