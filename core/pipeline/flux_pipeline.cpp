#include "core/pipeline/flux_pipeline.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/common/cpu_allocator.h"
#include "core/common/error.h"
#include "core/flux/attention.h"
#include "core/image/convert.h"
#include "core/image/preview.h"
#include "core/pipeline/components.h"
#include "core/pipeline/memory_plan.h"
#include "core/sampling/denoise.h"
#include "core/sampling/noise.h"
#include "core/sampling/pack.h"
#include "core/sampling/schedule.h"
#include "core/vae/tiled_decode.h"

namespace dype {

void validate_size(int width, int height, std::uint64_t max_pixels) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) throw InvalidArgument("image size " + size + ": width and height must be positive");
  if (width % 16 != 0 || height % 16 != 0) {
    auto near = [](int v) { return std::max(16, (v + 8) / 16 * 16); };
    throw InvalidArgument("image size " + size + ": width and height must be multiples of 16 (FLUX works on 16-pixel "
                          "patches); the nearest valid size is " + std::to_string(near(width)) + "x" +
                          std::to_string(near(height)));
  }
  const std::uint64_t px = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (px > max_pixels) {
    char buf[256];
    std::snprintf(buf, sizeof(buf), "image size %s has %llu pixels (%.2f MP), above the limit of %llu pixels (%.2f MP, "
                  "e.g. %dx%d); choose a smaller size or raise the limit", size.c_str(),
                  static_cast<unsigned long long>(px), px / 1e6, static_cast<unsigned long long>(max_pixels),
                  max_pixels / 1e6, static_cast<int>(std::sqrt(static_cast<double>(max_pixels))) / 16 * 16,
                  static_cast<int>(std::sqrt(static_cast<double>(max_pixels))) / 16 * 16);
    throw InvalidArgument(buf);
  }
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class FluxPipelineImpl : public FluxPipeline {
 public:
  FluxPipelineImpl(PipelineComponents c, const LoadOptions& options) : c_(std::move(c)), options_(options) {}

  std::string label() const override { return c_.label; }
  bool is_demo() const override { return c_.demo; }
  bool is_schnell() const override { return !c_.transformer->config().guidance_embed; }

  MemoryEstimate estimate(const GenerationRequest& r) const override {
    validate_size(r.width, r.height, options_.max_pixels);
    const flux::FluxConfig& fc = c_.transformer->config();
    MemoryPlanInput in;
    in.device = c_.device;
    in.width = r.width;
    in.height = r.height;
    in.txt_tokens = t5_length();
    in.hidden_size = fc.hidden_size;
    in.mlp_hidden = fc.mlp_hidden_dim();
    in.num_heads = fc.num_heads;
    in.head_dim = fc.head_dim();
    in.compute_element_size = at::elementSize(c_.dtype);
    in.attention_materialises_scores = flux::attention_backend(c_.device) == "chunked";
    std::uint64_t vae_bytes = 0;
    for (const auto& p : c_.vae->parameters()) vae_bytes += p.numel() * p.element_size();
    in.weight_bytes = static_cast<std::uint64_t>(c_.transformer->parameter_bytes()) + vae_bytes;
    vae::TiledDecodeOptions vo;
    vo.tile = r.vae_tile;
    vo.overlap = r.vae_tile_overlap;
    in.decode_bytes = vae::estimate_decode_bytes(c_.vae->config(), 2 * ((r.height + 15) / 16), 2 * ((r.width + 15) / 16),
                                                 vo, c_.vae->dtype());
    in.keep_16bit = r.bit_depth == 16;
    return plan_memory(in, available_memory_bytes(c_.device));
  }

  GenerationResult generate(const GenerationRequest& r, StepObserver* observer,
                            const std::atomic<bool>* cancel) override {
    // Declared first, destroyed last: once every tensor of this run is freed (result returned, error or
    // cancellation alike), the allocator's cached activation blocks go back to the system.
    struct ReleaseCpuCache {
      ~ReleaseCpuCache() { release_cpu_cache(); }
    } release_cpu_cache_at_exit;
    check_request(r);
    const MemoryEstimate est = estimate(r);
    if (!est.fits) throw ResourceError(est.advice);

    c10::InferenceMode inference;
    const auto t_start = std::chrono::steady_clock::now();
    auto cancelled = [cancel] { return cancel && cancel->load(std::memory_order_relaxed); };
    GenerationResult res;
    res.request = r;
    res.model_label = c_.label;
    auto finish_cancelled = [&res]() -> GenerationResult {
      res.cancelled = true;
      res.peak_rss_bytes = peak_rss_bytes();
      return res;
    };

    // Text conditioning: CLIP pooled vector y and the T5 sequence txt (float32 end to end, as the reference).
    if (observer) observer->on_stage("encoding");
    const at::Tensor clip_ids = c_.clip_tokenizer->encode_tensor(r.prompt, 77).to(c_.text_device);  // [1, 77]
    const at::Tensor t5_ids = c_.t5_tokenizer->encode_tensor(r.prompt, t5_length()).to(c_.text_device);
    const at::Tensor y = c_.clip->forward(clip_ids).pooled.to(c_.device, at::kFloat);   // [1, vec]
    const at::Tensor txt = c_.t5->forward(t5_ids).to(c_.device, at::kFloat);            // [1, L_txt, ctx]
    res.seconds_encode = seconds_since(t_start);
    if (cancelled()) return finish_cancelled();

    // Noise (always drawn on the CPU), 2×2 packing, ids, schedule.
    const at::Tensor noise = sampling::make_noise(
        r.seed, r.width, r.height, r.noise == NoiseMode::Bfl ? sampling::NoiseConvention::Bfl : sampling::NoiseConvention::Comfy);
    const std::int64_t lh = noise.size(2), lw = noise.size(3);
    at::Tensor x = sampling::pack_latent(noise).to(c_.device);                   // [1, L_img, 64] float32
    const at::Tensor img_ids = sampling::image_ids(1, lh, lw).to(c_.device);      // [1, L_img, 3]
    const at::Tensor txt_ids = sampling::text_ids(1, txt.size(1)).to(c_.device);  // [1, L_txt, 3]
    const std::optional<double> mu = time_shift_mu(r.shift, flux_image_seq_len(r.width, r.height), is_schnell(),
                                                   r.base_shift, r.max_shift, r.shift_mu);
    res.sigmas = flux_schedule(r.steps, mu);
    res.shifted = mu.has_value();
    res.mu = mu.value_or(0.0);
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(c_.device);
    const at::Tensor guidance = is_schnell() ? at::Tensor() : at::full({1}, r.guidance, f32);  // [1]

    // Denoising: every model call gets t = σ_k, and DyPE's t = σ_k.
    if (observer) observer->on_stage("denoising");
    const auto t_denoise = std::chrono::steady_clock::now();
    auto velocity = [&](const at::Tensor& xk, double sigma) {
      const at::Tensor t = at::full({1}, sigma, f32);  // σ_k is a float32 value: exact
      return c_.transformer->forward(xk, img_ids, txt, txt_ids, t, y, guidance, r.dype, sigma).to(at::kFloat);
    };
    auto on_step = [&](const sampling::EulerStep& s) {
      bool go_on = true;
      if (observer) {
        observer->on_step_tensors(s.index, *s.x_in, *s.pred);
        StepProgress p;
        p.step = s.index + 1;
        p.total = s.total;
        p.sigma = s.sigma;
        p.elapsed_s = seconds_since(t_denoise);
        p.eta_s = p.elapsed_s / p.step * (p.total - p.step);
        go_on = observer->on_step(p);
        if (go_on && r.preview_every > 0 && p.step % r.preview_every == 0 && !cancelled())
          observer->on_preview(p.step, preview(s.x0_estimate(), lh, lw, r));
      }
      return go_on && !cancelled();
    };
    const auto status = sampling::euler_denoise(x, res.sigmas, velocity, on_step, cancel);
    res.seconds_denoise = seconds_since(t_denoise);
    if (status == sampling::DenoiseStatus::Cancelled) return finish_cancelled();

    // Unpack and decode (tiled; progress and cancellation per tile).
    const at::Tensor z = sampling::unpack_latent(x, lh, lw);  // [1, 16, H/8, W/8] normalised latent
    res.latent = z.to(at::kCPU, at::kFloat).contiguous();
    if (observer) observer->on_stage("decoding");
    const auto t_decode = std::chrono::steady_clock::now();
    vae::TiledDecodeOptions vo;
    vo.tile = r.vae_tile;
    vo.overlap = r.vae_tile_overlap;
    at::Tensor image;
    try {
      image = vae::tiled_decode(c_.vae, z, vo, [&](int done, int total) {
        const bool go_on = observer ? observer->on_decode_tile(done, total) : true;
        return go_on && !cancelled();
      });  // [1, 3, H, W] float32 CPU
    } catch (const Cancelled&) {
      return finish_cancelled();
    }
    res.image = image::tensor_to_rgb(image, r.bit_depth == 16);
    res.seconds_decode = seconds_since(t_decode);
    res.peak_rss_bytes = peak_rss_bytes();
    return res;
  }

 private:
  int t5_length() const { return is_schnell() ? 256 : 512; }

  // Cheap preview of the denoised estimate: the linear projection, or a full (tiled) VAE decode when asked.
  RgbImage preview(const at::Tensor& x0_tokens, std::int64_t lh, std::int64_t lw, const GenerationRequest& r) const {
    const at::Tensor z = sampling::unpack_latent(x0_tokens, lh, lw);  // [1, 16, h, w]
    if (!r.preview_vae) return image::latent_preview(z);
    vae::TiledDecodeOptions vo;
    vo.tile = r.vae_tile;
    vo.overlap = r.vae_tile_overlap;
    auto ae = c_.vae;
    return image::tensor_to_rgb(vae::tiled_decode(ae, z, vo));
  }

  void check_request(const GenerationRequest& r) const {
    validate_size(r.width, r.height, options_.max_pixels);
    if (r.steps < 1 || r.steps > 10000)
      throw InvalidArgument("steps must be between 1 and 10000, got " + std::to_string(r.steps));
    if (!std::isfinite(r.guidance)) throw InvalidArgument("guidance must be a finite number");
    if (r.preview_every < 0) throw InvalidArgument("preview interval must be >= 0 (0 = no previews)");
    if (r.bit_depth != 8 && r.bit_depth != 16)
      throw InvalidArgument("bit depth must be 8 or 16, got " + std::to_string(r.bit_depth));
    if (!std::isfinite(r.dype.lambda_s) || !std::isfinite(r.dype.lambda_t) || r.dype.lambda_s < 0 || r.dype.lambda_t < 0)
      throw InvalidArgument("DyPE strength and exponent must be finite and >= 0");
    if (r.dype.base_resolution < 16 || r.dype.base_resolution % 16 != 0)
      throw InvalidArgument("DyPE base resolution must be a positive multiple of 16 px, got " +
                            std::to_string(r.dype.base_resolution));
    const at::Device dev = parse_device(r.device);
    if (dev != c_.device || parse_compute_dtype(r.dtype, dev) != c_.dtype)
      throw InvalidArgument("the request asks for " + r.device + "/" + r.dtype + " but the model was loaded for " +
                            c_.device.str() + "/" + std::string(c10::toString(c_.dtype)) +
                            "; load the model again for that device and dtype");
  }

  mutable PipelineComponents c_;
  LoadOptions options_;
};

}  // namespace

std::unique_ptr<FluxPipeline> FluxPipeline::load(const ModelPaths& paths, const LoadOptions& options,
                                                 StepObserver* observer) {
  c10::InferenceMode inference;
  return std::make_unique<FluxPipelineImpl>(load_components(paths, options, observer), options);
}

}  // namespace dype
