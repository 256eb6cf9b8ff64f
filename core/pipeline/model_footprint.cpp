#include "core/pipeline/model_footprint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/common/error.h"
#include "core/common/format.h"
#include "core/common/strings.h"
#include "core/flux/attention.h"
#include "core/flux/loader.h"
#include "core/io/weight_quantization.h"
#include "core/pipeline/components.h"
#include "core/pipeline/demo_model.h"
#include "core/pipeline/memory_plan.h"
#include "core/pipeline/passes.h"
#include "core/text/text_checkpoint.h"
#include "core/vae/tiled_decode.h"
#include "core/vae/tiled_encode.h"

namespace dype {

namespace fs = std::filesystem;

namespace {

// Bytes of `store`'s tensors under `prefix` as they will sit in memory: a floating tensor narrower than the
// compute dtype stays as stored when `keep_narrow` (else it is converted), a wider one is converted.
ComponentFootprint footprint_of_store(const io::TensorStore& store, const std::string& prefix, std::size_t compute_size,
                                      bool keep_narrow) {
  ComponentFootprint f;
  f.path = store.label();
  std::map<std::string, std::uint64_t> by_dtype;
  for (const auto& file : store.files())
    for (const auto& t : file->tensors()) {
      if (!starts_with(t.name, prefix) || io::is_quantization_aux(t.name)) continue;
      f.file_bytes += t.nbytes();
      by_dtype[io::dtype_name(t.dtype)] += t.nbytes();
      const std::size_t stored = io::dtype_size(t.dtype);
      const bool is_float = io::native_scalar_type(t.dtype) ? at::isFloatingType(*io::native_scalar_type(t.dtype))
                                                            : io::is_float8(t.dtype);
      if (!is_float) {
        f.resident_bytes += t.nbytes();
        continue;
      }
      const bool kept = keep_narrow && stored < compute_size;
      f.resident_bytes += static_cast<std::uint64_t>(t.numel()) * (kept ? stored : compute_size);
      if (kept) f.converted_elements += static_cast<std::uint64_t>(t.numel());
      if (kept && t.shape.size() >= 2)  // converted one layer at a time: one such temporary lives per call
        f.layer_temp_bytes =
            std::max<std::uint64_t>(f.layer_temp_bytes, static_cast<std::uint64_t>(t.numel()) * compute_size);
    }
  std::ostringstream os;
  bool first = true;
  for (const auto& [name, bytes] : by_dtype) {
    os << (first ? "" : ", ") << name << " " << format_bytes(bytes);
    first = false;
  }
  f.dtypes = os.str();
  return f;
}

std::int64_t count_t5_layers(const io::TensorStore& store, const std::string& prefix) {
  std::int64_t n = 0;
  while (store.contains(prefix + "encoder.block." + std::to_string(n) + ".layer.0.SelfAttention.q.weight")) ++n;
  return n;
}

std::uint64_t parameters_of(const flux::FluxConfig& c) {
  // Every matrix of the transformer (biases and norms are negligible here): the FLOP count's weight term.
  const auto h = static_cast<std::uint64_t>(c.hidden_size), m = static_cast<std::uint64_t>(c.mlp_hidden_dim());
  const std::uint64_t dbl = 2 * (6 * h * h + 3 * h * h + h * h + 2 * h * m);  // img + txt: mod, qkv, proj, mlp
  const std::uint64_t sgl = 3 * h * h + h * (3 * h + m) + (h + m) * h;        // mod, linear1, linear2
  return dbl * static_cast<std::uint64_t>(c.depth) + sgl * static_cast<std::uint64_t>(c.depth_single_blocks);
}

}  // namespace

ModelFootprint model_footprint(const ModelPaths& paths, const LoadOptions& options) {
  if (is_demo_model(paths.model)) {
    PipelineComponents c = load_components(paths, options, nullptr);
    return model_footprint(c);
  }
  const at::Device device = parse_device(options.target.device);
  const std::size_t compute = at::elementSize(parse_compute_dtype(options.target.dtype, device));
  const std::size_t text_compute = options.text_encoders_on_cpu || device.is_cpu() ? 4 : compute;
  const ModelFiles files = locate_model_files(paths);
  ModelFootprint fp;

  std::optional<std::string> config_json;
  auto flux_store = flux::open_flux_checkpoint(files.transformer, &config_json);
  const flux::FluxCheckpointInfo info = flux::inspect_flux_checkpoint(*flux_store, config_json);
  io::check_quantization(*flux_store, info.prefix);
  fp.transformer = footprint_of_store(*flux_store, info.prefix, compute, /*keep_narrow=*/true);
  fp.transformer.path = files.transformer;
  fp.config = info.config;
  fp.schnell = !info.config.guidance_embed;
  fp.t5_length = flux_t5_length(fp.schnell);  // FLUX.1's files state neither: BFL's conventions
  fp.default_steps = flux_default_steps(fp.schnell);

  const auto t5 =
      text::detail::open_text_checkpoint(files.t5, "encoder.block.0.layer.0.SelfAttention.q.weight", "a T5 encoder");
  io::check_quantization(*t5.store, t5.prefix);
  fp.t5 = footprint_of_store(*t5.store, t5.prefix, text_compute, true);
  fp.t5.path = files.t5;
  if (const auto* q = t5.store->find(t5.prefix + "encoder.block.0.layer.0.SelfAttention.q.weight"))
    if (q->shape.size() == 2) fp.t5_d_model = q->shape[1];
  if (const auto* wi = t5.store->find(t5.prefix + "encoder.block.0.layer.1.DenseReluDense.wi_0.weight"))
    if (wi->shape.size() == 2) fp.t5_d_ff = wi->shape[0];
  if (const auto* rb =
          t5.store->find(t5.prefix + "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"))
    if (rb->shape.size() == 2) fp.t5_heads = rb->shape[1];
  fp.t5_layers = count_t5_layers(*t5.store, t5.prefix);

  const auto clip = text::detail::open_text_checkpoint(files.clip, "text_model.embeddings.token_embedding.weight",
                                                       "a CLIP text encoder");
  fp.clip = footprint_of_store(*clip.store, clip.prefix, text_compute, true);
  fp.clip.path = files.clip;

  // The VAE is converted to the compute dtype at load (small: 84 M parameters). A diffusers vae/ folder may hold
  // variants beside the main file; the main file is what the loader reads.
  std::string vae_path = files.vae;
  std::error_code ec;
  if (fs::is_directory(vae_path, ec) && fs::exists(fs::path(vae_path) / "vae", ec))
    vae_path = (fs::path(vae_path) / "vae").string();
  if (fs::is_directory(vae_path, ec) && fs::exists(fs::path(vae_path) / "diffusion_pytorch_model.safetensors", ec))
    vae_path = (fs::path(vae_path) / "diffusion_pytorch_model.safetensors").string();
  auto vae_store = io::TensorStore::open(vae_path);
  fp.vae = footprint_of_store(*vae_store, "", compute, /*keep_narrow=*/false);
  fp.vae.path = files.vae;
  return fp;
}

ModelFootprint model_footprint(const PipelineComponents& c) {
  auto bytes_of = [](const torch::nn::Module& m) {
    ComponentFootprint f;
    for (const auto& p : m.parameters()) f.resident_bytes += static_cast<std::uint64_t>(p.numel()) * p.element_size();
    f.file_bytes = f.resident_bytes;
    return f;
  };
  ModelFootprint fp;
  fp.demo = c.demo;
  fp.transformer = bytes_of(*c.transformer);
  fp.transformer.path = c.transformer_path;
  if (c.t5) fp.t5 = bytes_of(*c.t5);
  if (c.clip) fp.clip = bytes_of(*c.clip);
  fp.vae = bytes_of(*c.vae);
  fp.config = c.transformer->config();
  fp.schnell = !fp.config.guidance_embed;
  fp.t5_length = t5_length_of(c);
  fp.base_resolution = base_resolution_of(c);
  fp.default_steps = default_steps_of(c);
  fp.default_size = default_size_of(c);
  if (c.t5) {
    const auto& tc = c.t5->config();
    fp.t5_layers = tc.num_layers;
    fp.t5_d_model = tc.d_model;
    fp.t5_d_ff = tc.d_ff;
    fp.t5_heads = tc.num_heads;
  }
  return fp;
}

double transformer_flops_per_step(const flux::FluxConfig& c, int width, int height, std::int64_t txt_tokens,
                                  std::uint64_t parameters) {
  const double img = static_cast<double>((height + 15) / 16) * static_cast<double>((width + 15) / 16);
  const double L = img + static_cast<double>(txt_tokens);
  const double blocks = static_cast<double>(c.depth + c.depth_single_blocks);
  // Every weight is used once per token (2 FLOPs per multiply-add); attention is q·kᵀ and weights·v per block.
  return 2.0 * static_cast<double>(parameters) * L + blocks * 4.0 * L * L * static_cast<double>(c.hidden_size);
}

MemoryEstimate plan_generation(const ModelFootprint& fp, const GenerationRequest& r, const LoadOptions& options,
                               std::uint64_t available_bytes, const Throughput& speed, bool weights_loaded) {
  validate_size(r.width, r.height, options.max_pixels);
  const at::Device device = parse_device(options.target.device);
  const at::ScalarType dtype = parse_compute_dtype(options.target.dtype, device);
  const std::int64_t txt_tokens = fp.t5_length;
  const std::vector<PassPlan> passes = plan_passes(r);

  MemoryPlanInput in;
  in.device = device;
  in.width = r.width;
  in.height = r.height;
  in.txt_tokens = txt_tokens;
  in.hidden_size = fp.config.hidden_size;
  in.mlp_hidden = fp.config.mlp_hidden_dim();
  in.num_heads = fp.config.num_heads;
  in.head_dim = fp.config.head_dim();
  in.compute_element_size = at::elementSize(dtype);
  in.attention_materialises_scores = flux::attention_backend(device) == "chunked";
  vae::TiledDecodeOptions vo;
  vo.tile = r.vae_tile;
  vo.overlap = r.vae_tile_overlap;
  const vae::AutoEncoderConfig vae_cfg;  // FLUX's autoencoder (the demo's is smaller: an upper bound)
  in.decode_bytes =
      vae::estimate_decode_bytes(vae_cfg, 2 * ((r.height + 15) / 16), 2 * ((r.width + 15) / 16), vo, dtype);
  in.keep_16bit = r.bit_depth == 16;
  const std::int64_t img_tokens = ((r.height + 15) / 16) * static_cast<std::int64_t>((r.width + 15) / 16);

  MemoryEstimate m;
  m.weights_bytes = fp.transformer.resident_bytes + fp.vae.resident_bytes;
  m.activations_bytes = transformer_activation_bytes(in, img_tokens + txt_tokens) + fp.transformer.layer_temp_bytes;
  const std::uint64_t px = static_cast<std::uint64_t>(r.width) * static_cast<std::uint64_t>(r.height);
  m.decode_bytes = in.decode_bytes + (device.is_cpu() ? px * 3 * 4 + px * 3 + (in.keep_16bit ? px * 6 : 0) : 0);
  // img2img / refine: the picture (float32; for a refine also pass 1's picture while it is upscaled) and the
  // tiled encode's working set, before the denoising of that pass and with the weights loaded.
  for (std::size_t i = 0; i < passes.size(); ++i) {
    const PassPlan& p = passes[i];
    if (!p.from_image) continue;
    const std::uint64_t ppx = static_cast<std::uint64_t>(p.width) * static_cast<std::uint64_t>(p.height);
    std::uint64_t bytes = ppx * 3 * 4 + vae::estimate_encode_bytes(vae_cfg, 2 * ((p.height + 15) / 16),
                                                                   2 * ((p.width + 15) / 16), vo, dtype);
    if (i > 0) bytes += static_cast<std::uint64_t>(passes[i - 1].width) * passes[i - 1].height * 3 * 4;
    m.image_encode_bytes = std::max(m.image_encode_bytes, bytes);
  }
  m.text_bytes = fp.text_bytes();
  // T5 on its own: per layer the gated MLP (3 × d_ff) and attention scores (heads × L × L, and their softmax).
  const auto L = static_cast<std::uint64_t>(txt_tokens);
  const std::uint64_t t5_work =
      L * (3 * fp.t5_d_ff + 8 * fp.t5_d_model) * 4 + 2 * fp.t5_heads * L * L * 4 + fp.t5.layer_temp_bytes;
  m.encode_bytes = m.text_bytes + t5_work;
  const std::uint64_t budget = options.max_memory_bytes ? options.max_memory_bytes : available_bytes;
  m.available_bytes = budget;
  const std::uint64_t denoise = m.weights_bytes + std::max({m.activations_bytes, m.decode_bytes, m.image_encode_bytes});
  switch (options.text_encoders) {
    case TextEncoderPolicy::Keep: m.release_text_encoders = false; break;
    case TextEncoderPolicy::Release: m.release_text_encoders = true; break;
    case TextEncoderPolicy::Auto:
      // Unknown free memory: release (the safe choice). Text encoders on another device than the transformer do
      // not compete with it.
      m.release_text_encoders =
          !fp.demo &&
          (budget == 0 ||
           ((options.text_encoders_on_cpu && !device.is_cpu()) ? false : denoise + m.text_bytes > budget / 2));
      break;
  }
  const bool shared_memory = device.is_cpu() || !options.text_encoders_on_cpu;
  const std::uint64_t text_during_denoise = (shared_memory && !m.release_text_encoders) ? m.text_bytes : 0;
  m.peak_bytes = std::max(shared_memory ? m.encode_bytes : 0, denoise + text_during_denoise);

  if (speed.known()) {
    // Every pass at its own size (a refine's pass 1 is small) for the steps it runs (img2img runs fewer).
    const double convert =
        speed.convert_elements_per_second > 0
            ? static_cast<double>(fp.transformer.converted_elements) / speed.convert_elements_per_second
            : 0.0;
    double denoise_s = 0;
    for (const PassPlan& p : passes) {
      const double spp =
          transformer_flops_per_step(fp.config, p.width, p.height, txt_tokens, parameters_of(fp.config)) /
              speed.flops_per_second +
          convert;
      denoise_s += spp * p.steps_run();
    }
    m.seconds_per_step =
        transformer_flops_per_step(fp.config, r.width, r.height, txt_tokens, parameters_of(fp.config)) /
            speed.flops_per_second +
        convert;
    const double t5_flops = 2.0 * static_cast<double>(fp.t5_layers) *
                            (4.0 * fp.t5_d_model * fp.t5_d_model + 3.0 * fp.t5_d_model * fp.t5_d_ff) *
                            static_cast<double>(L);
    m.seconds_total = denoise_s + t5_flops / speed.flops_per_second;
  }

  if (budget == 0) {
    m.fits = true;
    m.advice = "free memory of the " + std::string(device.is_cpu() ? "CPU" : "device") +
               " is unknown; the run needs about " + format_bytes(m.peak_bytes);
    return m;
  }
  // On a GPU a loaded pipeline's weights already occupy the device, and the free figure was measured after them.
  const std::uint64_t needed = (weights_loaded && !device.is_cpu()) ? m.peak_bytes - m.weights_bytes : m.peak_bytes;
  const std::uint64_t usable = budget / 20 * 19;  // 5 % for the allocator, the runtime and everything else
  m.fits = needed <= usable;
  if (m.fits) return m;

  std::ostringstream os;
  const char* where = device.is_cpu() ? "this machine" : "the GPU";
  os << "a " << r.width << "x" << r.height << " image needs about " << format_bytes(needed) << " ("
     << "transformer weights " << format_bytes(fp.transformer.resident_bytes) << ", VAE "
     << format_bytes(fp.vae.resident_bytes) << ", activations " << format_bytes(m.activations_bytes) << ", decode "
     << format_bytes(m.decode_bytes);
  if (text_during_denoise) os << ", text encoders " << format_bytes(text_during_denoise);
  os << "; encoding alone " << format_bytes(m.encode_bytes) << ") but " << where << " has " << format_bytes(budget)
     << (options.max_memory_bytes ? " (the budget given)" : " free") << ". ";
  if (m.weights_bytes + std::max(m.activations_bytes, m.decode_bytes) / 4 > usable || m.encode_bytes > usable) {
    const bool fp8 = fp.transformer.dtypes.find("F8_") != std::string::npos;
    os << "The weights alone do not fit: "
       << (fp8 ? "close other programs or use a machine with more memory"
               : "use an fp8 copy of the transformer (one byte per weight: half of its " +
                     format_bytes(fp.transformer.file_bytes) + " now) or close other programs");
    if (fp.t5.dtypes.find("F8_") == std::string::npos && !fp.t5.dtypes.empty())
      os << "; an fp8 T5 (t5xxl_fp8_e4m3fn) also halves the encoder";
    if (!device.is_cpu()) os << ", or run on the CPU (--device cpu)";
    os << ".";
  } else if (m.activations_bytes >= m.decode_bytes) {
    const double ratio = static_cast<double>(usable - std::min(usable, m.weights_bytes)) /
                         static_cast<double>(std::max<std::uint64_t>(1, m.activations_bytes));
    const int side =
        static_cast<int>(std::floor(std::sqrt(static_cast<double>(px) * std::min(1.0, ratio)) / 16.0)) * 16;
    os << "Try a smaller size (about " << std::max(16, side) << "x" << std::max(16, side)
       << " or the same number of pixels), or free memory.";
  } else {
    os << "Decode with smaller VAE tiles (e.g. 64 latent pixels), or generate a smaller image.";
  }
  m.advice = os.str();
  return m;
}

std::string describe_plan(const ModelFootprint& fp, const MemoryEstimate& m) {
  std::ostringstream os;
  auto line = [&os](const char* what, const ComponentFootprint& c) {
    os << "  " << what << format_bytes(c.resident_bytes) << " in memory";
    if (!c.dtypes.empty()) os << " (stored " << c.dtypes << ")";
    if (!c.path.empty()) os << "  " << c.path;
    os << "\n";
  };
  os << "memory plan (from the file headers; no weight read):\n";
  line("transformer   ", fp.transformer);
  line("T5 encoder    ", fp.t5);
  line("CLIP encoder  ", fp.clip);
  line("VAE           ", fp.vae);
  os << "  encoding      " << format_bytes(m.encode_bytes) << " (text encoders + T5 working set)\n";
  os << "  denoising     " << format_bytes(m.weights_bytes + m.activations_bytes) << " (weights + activations "
     << format_bytes(m.activations_bytes) << ")\n";
  os << "  decoding      " << format_bytes(m.weights_bytes + m.decode_bytes) << " (weights + tiled decode "
     << format_bytes(m.decode_bytes) << ")\n";
  if (m.image_encode_bytes)
    os << "  image encode  " << format_bytes(m.weights_bytes + m.image_encode_bytes) << " (weights + picture and "
       << "tiled encode " << format_bytes(m.image_encode_bytes) << ")\n";
  os << "  text encoders " << (m.release_text_encoders ? "released after encoding" : "kept loaded") << "\n";
  os << "  peak          " << format_bytes(m.peak_bytes) << " of "
     << (m.available_bytes ? format_bytes(m.available_bytes) : std::string("unknown"))
     << " available: " << (m.fits ? "fits" : "does not fit") << "\n";
  if (m.seconds_per_step > 0) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "  time          about %.1f s per step, %.0f s in all (measured throughput)\n",
                  m.seconds_per_step, m.seconds_total);
    os << buf;
  } else {
    os << "  time          unknown (no throughput measured)\n";
  }
  if (!m.fits) os << "  " << m.advice << "\n";
  return os.str();
}

}  // namespace dype
