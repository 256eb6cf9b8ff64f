#include "core/pipeline/flux_pipeline.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <optional>

#include "core/common/cpu_allocator.h"
#include "core/common/error.h"
#include "core/common/sha256.h"
#include "core/common/system_memory.h"
#include "core/flux/attention.h"
#include "core/flux/lora.h"
#include "core/image/convert.h"
#include "core/image/image_file.h"
#include "core/image/preview.h"
#include "core/image/resize.h"
#include "core/io/stored_weight.h"
#include "core/pipeline/components.h"
#include "core/pipeline/demo_model.h"
#include "core/pipeline/memory_plan.h"
#include "core/pipeline/model_footprint.h"
#include "core/pipeline/passes.h"
#include "core/sampling/denoise.h"
#include "core/sampling/img2img.h"
#include "core/sampling/noise.h"
#include "core/sampling/pack.h"
#include "core/vae/tiled_decode.h"
#include "core/vae/tiled_encode.h"

namespace dype {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class FluxPipelineImpl : public FluxPipeline {
 public:
  FluxPipelineImpl(PipelineComponents c, const LoadOptions& options, ModelFootprint footprint)
      : c_(std::move(c)), options_(options), footprint_(std::move(footprint)) {}

  std::string label() const override { return c_.label; }
  bool is_demo() const override { return c_.demo; }
  int base_resolution() const override { return base_resolution_of(c_); }
  int default_steps() const override { return default_steps_of(c_); }
  bool is_schnell() const override { return !c_.transformer->config().guidance_embed; }
  bool text_encoders_loaded() const override { return c_.t5 && c_.clip; }
  const ModelFootprint& footprint() const override { return footprint_; }

  MemoryEstimate estimate(const GenerationRequest& r) const override {
    const Throughput speed{options_.flops_per_second, options_.convert_elements_per_second};
    return plan_generation(footprint_, r, options_, available_memory_bytes(c_.device), speed, /*weights_loaded=*/true);
  }

  GenerationResult generate(const GenerationRequest& r, StepObserver* observer,
                            const std::atomic<bool>* cancel) override {
    // Declared first, destroyed last: once every tensor of this run is freed (result returned, error or
    // cancellation alike), the allocator's cached activation blocks go back to the system.
    struct ReleaseCpuCache {
      ~ReleaseCpuCache() {
        io::release_weight_scratch();  // the per-layer conversion buffer first, so that its block is returned too
        release_cpu_cache();
      }
    } release_cpu_cache_at_exit;
    check_request(r);
    const std::vector<PassPlan> passes = plan_passes(r);
    // LoRA files are read (or taken from the cache) before any long work: a bad file fails the run at once.
    std::vector<LoraRef> applied_loras = apply_loras(r.loras);
    const MemoryEstimate est = estimate(r);
    if (!est.fits) throw ResourceError(est.advice);

    c10::InferenceMode inference;
    auto cancelled = [cancel] { return cancel && cancel->load(std::memory_order_relaxed); };
    GenerationResult res;
    res.request = r;
    res.request.loras = std::move(applied_loras);  // with the SHA-256 of each file as applied
    res.model_label = c_.label;
    res.target = {c_.device.str(), compute_dtype_name(c_.dtype)};
    auto finish_cancelled = [&res]() -> GenerationResult {
      res.cancelled = true;
      res.peak_rss_bytes = peak_rss_bytes();
      return res;
    };
    auto note = [&](const std::string& text) {
      res.notes.push_back(text);
      if (observer) observer->on_note(text);
    };

    // The init image is read and fitted before the text encoders run: a file that cannot be used fails at once.
    std::optional<image::LoadedImage> init;
    double init_seconds = 0;
    if (!r.init_image.empty()) {
      if (observer) observer->on_stage("reading image");
      const auto t_read = std::chrono::steady_clock::now();
      init = image::load_image(r.init_image, options_.max_pixels * 4);
      res.request.init_image_sha256 = sha256_file_hex(r.init_image);
      image::FitPlan fit;
      init->pixels = image::fit_image(init->pixels, passes.front().width, passes.front().height,
                                      image::parse_fit_mode(r.init_fit), image::ResizeFilter::Lanczos3, &fit);
      note("init image " + std::filesystem::path(r.init_image).filename().string() + ": " + fit.describe());
      for (const auto& n : init->notes) note("init image: " + n);
      init_seconds = seconds_since(t_read);
    }
    const auto t_start = std::chrono::steady_clock::now();

    // Text conditioning: CLIP pooled vector y and the T5 sequence txt (float32 end to end, as the reference),
    // from the cache when this prompt was encoded before by these encoder files.
    if (observer) observer->on_stage("encoding");
    at::Tensor y, txt;  // [1, vec], [1, L_txt, ctx]
    const std::string cache_key =
        c_.clip_path + "\n" + c_.t5_path + "\n" + std::to_string(t5_length()) + "\n" + r.prompt;
    auto hit = std::find_if(prompt_cache_.begin(), prompt_cache_.end(),
                            [&](const CachedPrompt& e) { return e.key == cache_key; });
    if (hit != prompt_cache_.end()) {
      y = hit->y;
      txt = hit->txt;
      res.prompt_from_cache = true;
    } else {
      load_text_encoders(c_);  // maps them again after an earlier release
      const at::Tensor clip_ids = c_.clip_tokenizer->encode_tensor(r.prompt, 77).to(c_.text_device);  // [1, 77]
      const at::Tensor t5_ids = c_.t5_tokenizer->encode_tensor(r.prompt, t5_length()).to(c_.text_device);
      y = c_.clip->forward(clip_ids).pooled.to(c_.device, at::kFloat);
      try {
        // T5-XXL takes a while on a CPU: a cancel is honoured between its layers, not only after encoding.
        txt = c_.t5
                  ->forward(t5_ids, nullptr,
                            [&](int, int) {
                              if (cancelled()) throw Cancelled();
                            })
                  .to(c_.device, at::kFloat);
      } catch (const Cancelled&) {
        return finish_cancelled();
      }
      if (prompt_cache_.size() >= kPromptCacheSize) prompt_cache_.pop_front();  // the oldest goes
      prompt_cache_.push_back(CachedPrompt{cache_key, y, txt});
    }
    if (est.release_text_encoders) {
      // The plan needs their memory for the transformer: unmap them (and the allocator's cached T5 blocks).
      release_text_encoders(c_);
      release_cpu_cache();
    }
    res.seconds_encode = seconds_since(t_start);
    if (cancelled()) return finish_cancelled();

    // The passes: one, or pass 1 at the base size then the refine pass at the output size. Steps and the progress
    // bar count over both.
    const int steps_all = total_steps(passes);
    int steps_before = 0;  // steps of the passes already run
    at::Tensor picture;    // [1, 3, H, W] float32 CPU: the init image fitted, then each non-final pass's output
    if (init) picture = std::move(init->pixels);
    RunContext run{r, y, txt, observer, cancel, steps_all, static_cast<int>(passes.size()), {}};
    for (std::size_t i = 0; i < passes.size(); ++i) {
      const PassPlan& pass = passes[i];
      const bool last = i + 1 == passes.size();
      if (observer)
        observer->on_pass(static_cast<int>(i) + 1, static_cast<int>(passes.size()), pass.width, pass.height,
                          pass.steps_run(), pass.steps);
      PassResult pr;
      pr.width = pass.width;
      pr.height = pass.height;
      pr.steps = pass.steps;
      pr.start_index = pass.start_index;
      pr.strength = pass.strength;
      if (i == 0 && init) pr.seconds_prepare = init_seconds;
      if (i > 0) {
        // Pass 1's picture to the output size in pixel space (the refine pass re-denoises it from a partial noise
        // level; DyPE keeps its structure at the new size).
        if (observer) observer->on_stage("upscaling");
        const auto t_up = std::chrono::steady_clock::now();
        picture = image::resize(picture, pass.width, pass.height, image::parse_resize_filter(r.refine.upscale));
        pr.seconds_prepare = seconds_since(t_up);
        if (cancelled()) return finish_cancelled();
      }
      at::Tensor x0;  // [1, 16, h, w] the encoded picture (img2img)
      if (pass.from_image) {
        if (observer) observer->on_stage("encoding image");
        const auto t_enc = std::chrono::steady_clock::now();
        try {
          // Per-tile GroupNorm statistics: the decode's image-wide ones (collected from per-tile-normalised
          // activations) compound through the encoder's 14 norms and made tiled encodes worse, not better
          // (tiled_encode.h, tests/unit/test_tiled_encode.cpp).
          vae::TileOptions eo = tile_options(r);
          eo.shared_norm = false;
          x0 = vae::tiled_encode(c_.vae, picture, eo, [&](int done, int total) {
            const bool go_on = observer ? observer->on_encode_tile(done, total) : true;
            return go_on && !cancelled();
          });
        } catch (const Cancelled&) {
          return finish_cancelled();
        }
        picture = at::Tensor();  // the picture's memory goes before the denoising's
        pr.seconds_encode_image = seconds_since(t_enc);
      }
      at::Tensor decoded;
      if (i == 0) run.first_denoise = std::chrono::steady_clock::now();
      if (!run_pass(run, pass, static_cast<int>(i) + 1, steps_before, x0, pr, last ? &res.latent : nullptr, decoded,
                    last && est.release_text_encoders))
        return finish_cancelled();
      steps_before += pass.steps_run();
      res.passes.push_back(pr);
      if (last) {
        res.image = image::tensor_to_rgb(decoded, r.bit_depth == 16);
      } else {
        picture = std::move(decoded);
      }
    }
    const PassResult& final_pass = res.passes.back();
    res.sigmas = final_pass.sigmas;
    res.shifted = final_pass.shifted;
    res.mu = final_pass.mu;
    for (const auto& p : res.passes) {
      res.seconds_denoise += p.seconds_denoise;
      res.seconds_decode += p.seconds_decode;  // picture preparation and encoding: per pass in res.passes
    }
    res.peak_rss_bytes = peak_rss_bytes();
    return res;
  }

 private:
  int t5_length() const { return t5_length_of(c_); }

  static vae::TiledDecodeOptions tile_options(const GenerationRequest& r) {
    vae::TiledDecodeOptions vo;
    vo.tile = r.vae_tile;
    vo.overlap = r.vae_tile_overlap;
    return vo;
  }

  // One denoising pass: noise of this pass's size, its schedule from `pass.start_index` (img2img: from the encoded
  // picture x0 moved to that σ), Euler steps, then the tiled decode into `decoded` ([1, 3, H, W] float32 CPU).
  // Steps are reported as steps_before + k of steps_all. Returns false when cancelled (nothing decoded).
  // `drop_weights_before_decode`: memory is tight, so the transformer's pages leave before the decode.
  // What every pass of one run shares.
  struct RunContext {
    const GenerationRequest& r;
    const at::Tensor& y;    // [1, vec] CLIP pooled
    const at::Tensor& txt;  // [1, L_txt, ctx] T5
    StepObserver* observer;
    const std::atomic<bool>* cancel;
    int steps_all = 0;  // over all passes
    int passes = 1;
    std::chrono::steady_clock::time_point first_denoise;  // progress reports time since pass 1 began denoising
  };

  bool run_pass(const RunContext& run, const PassPlan& pass, int pass_no, int steps_before, const at::Tensor& x0,
                PassResult& pr, at::Tensor* latent_out, at::Tensor& decoded, bool drop_weights_before_decode) {
    const GenerationRequest& r = run.r;
    const at::Tensor& y = run.y;
    const at::Tensor& txt = run.txt;
    StepObserver* observer = run.observer;
    const std::atomic<bool>* cancel = run.cancel;
    const int steps_all = run.steps_all;
    auto cancelled = [cancel] { return cancel && cancel->load(std::memory_order_relaxed); };
    // Noise (always drawn on the CPU, from the request's seed at this pass's size), schedule, start latent.
    const at::Tensor noise = sampling::make_noise(r.seed, pass.width, pass.height, r.noise);  // [1, 16, h, w]
    const std::int64_t lh = noise.size(2), lw = noise.size(3);
    PassSchedule schedule = schedule_for(r, is_schnell(), pass);  // the same one `dype schedule` and the plot show
    pr.sigmas = std::move(schedule.sigmas);
    pr.shifted = schedule.shifted;
    pr.mu = schedule.mu;
    const at::Tensor start = pass.from_image ? sampling::noised_start(x0, noise, pr.sigmas.front()) : noise;
    at::Tensor x = sampling::pack_latent(start).to(c_.device);                    // [1, L_img, 64] float32
    const at::Tensor img_ids = sampling::image_ids(1, lh, lw).to(c_.device);      // [1, L_img, 3]
    const at::Tensor txt_ids = sampling::text_ids(1, txt.size(1)).to(c_.device);  // [1, L_txt, 3]
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(c_.device);
    const at::Tensor guidance = is_schnell() ? at::Tensor() : at::full({1}, r.guidance, f32);  // [1]

    // Denoising: every model call gets t = σ_k, and DyPE's t = σ_k (also part-way down an img2img schedule).
    if (observer) observer->on_stage("denoising");
    const auto t_denoise = std::chrono::steady_clock::now();
    int step_running = steps_before;  // 1-based overall step being evaluated: velocity is called once per step
    // Between transformer blocks: progress inside a step, and a stop that does not wait for a step of minutes to
    // end. The Cancelled thrown here becomes a cancelled denoise (x left at the last completed step).
    auto on_block = [&](int block, int total_blocks) {
      const bool go_on = observer ? observer->on_block(step_running, steps_all, block, total_blocks) : true;
      if (!go_on || cancelled()) throw Cancelled();
    };
    auto velocity = [&](const at::Tensor& xk, double sigma) {
      ++step_running;
      const at::Tensor t = at::full({1}, sigma, f32);  // σ_k is a float32 value: exact
      const flux::CancelPoint check = [&] {
        if (cancelled()) throw Cancelled();
      };
      return c_.transformer->forward(xk, img_ids, txt, txt_ids, t, y, guidance, r.dype, sigma, nullptr, on_block, check)
          .to(at::kFloat);
    };
    auto on_step = [&](const sampling::EulerStep& s) {
      bool go_on = true;
      if (observer) {
        // Golden diagnostics keep the pass's own 0-based step index.
        observer->on_step_tensors(s.index, *s.x_in, *s.pred);
        StepProgress p;
        p.step = steps_before + s.index + 1;
        p.total = steps_all;
        p.pass = pass_no;
        p.passes = run.passes;
        p.sigma = s.sigma;
        p.elapsed_s = seconds_since(run.first_denoise);
        // At this pass's pace (a refine's pass 2 is slower per step: the estimate grows when it begins).
        p.eta_s = seconds_since(t_denoise) / (s.index + 1) * (steps_all - p.step);
        go_on = observer->on_step(p);
        if (go_on && r.preview_every > 0 && p.step % r.preview_every == 0 && !cancelled())
          observer->on_preview(p.step, preview(s.x0_estimate(), lh, lw, r));
      }
      return go_on && !cancelled();
    };
    const auto status = sampling::euler_denoise(x, pr.sigmas, velocity, on_step, cancel);
    pr.seconds_denoise = seconds_since(t_denoise);
    if (status == sampling::DenoiseStatus::Cancelled) return false;

    // Memory is tight (the plan released the text encoders): the transformer's pages leave this process while the
    // VAE decodes, instead of adding the decode's working set on top of them. They stay in the page cache while
    // memory allows, so the next run faults them back in cheaply.
    if (drop_weights_before_decode && c_.transformer_store) c_.transformer_store->drop_resident_pages();

    // Unpack and decode (tiled; progress and cancellation per tile).
    const at::Tensor z = sampling::unpack_latent(x, lh, lw);  // [1, 16, H/8, W/8] normalised latent
    x = at::Tensor();
    if (latent_out) *latent_out = z.to(at::kCPU, at::kFloat).contiguous();
    if (observer) observer->on_stage("decoding");
    const auto t_decode = std::chrono::steady_clock::now();
    try {
      decoded = vae::tiled_decode(c_.vae, z, tile_options(r), [&](int done, int total) {
        const bool go_on = observer ? observer->on_decode_tile(done, total) : true;
        return go_on && !cancelled();
      });  // [1, 3, H, W] float32 CPU
    } catch (const Cancelled&) {
      return false;
    }
    pr.seconds_decode = seconds_since(t_decode);
    return true;
  }

  // Cheap preview of the denoised estimate: the linear projection, or a full (tiled) VAE decode when asked.
  RgbImage preview(const at::Tensor& x0_tokens, std::int64_t lh, std::int64_t lw, const GenerationRequest& r) const {
    const at::Tensor z = sampling::unpack_latent(x0_tokens, lh, lw);  // [1, 16, h, w]
    if (!r.preview_vae) return image::latent_preview(z);
    auto ae = c_.vae;
    return image::tensor_to_rgb(vae::tiled_decode(ae, z, tile_options(r)));
  }

  // The request contract (GenerationRequest::validate) under this pipeline's pixel limit.
  void check_request(const GenerationRequest& r) const {
    RequestLimits limits;
    limits.max_pixels = options_.max_pixels;
    require_valid(r, limits);  // every problem in one message
  }

  static constexpr std::size_t kPromptCacheSize = 8;  // a dev prompt is 8 MiB of T5 output

  mutable PipelineComponents c_;
  LoadOptions options_;
  ModelFootprint footprint_;
  struct CachedPrompt {
    std::string key;  // encoder files, T5 length, prompt
    at::Tensor y, txt;
  };
  std::deque<CachedPrompt> prompt_cache_;

  // LoRA files stay loaded while requests use them: the same file (path, size and modification time) is neither
  // read nor hashed again, and the model's adapters are only rebuilt when the list or a strength changes.
  struct CachedLora {
    std::string path;
    std::filesystem::file_time_type mtime;
    std::uintmax_t size = 0;
    std::shared_ptr<const flux::LoraFile> file;
    std::string sha256;
  };
  std::vector<CachedLora> lora_cache_;
  // What the transformer carries now (shared pointers: a reloaded file can never pass for the one it replaced).
  std::vector<std::pair<std::shared_ptr<const flux::LoraFile>, double>> applied_;

  // Strengths were checked with the rest of the request (GenerationRequest::validate, in check_request).
  std::vector<LoraRef> apply_loras(const std::vector<LoraRef>& wanted) {
    std::vector<CachedLora> keep;
    std::vector<flux::LoraAdapterSet> sets;
    std::vector<LoraRef> refs;
    for (const LoraRef& w : wanted) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(w.path, ec)) throw IoError("LoRA file '" + w.path + "' does not exist");
      const auto mtime = std::filesystem::last_write_time(w.path, ec);
      const auto size = std::filesystem::file_size(w.path, ec);
      auto same = [&](const CachedLora& c) { return c.path == w.path && c.mtime == mtime && c.size == size; };
      auto hit = std::find_if(keep.begin(), keep.end(), same);
      if (hit == keep.end()) {
        auto old = std::find_if(lora_cache_.begin(), lora_cache_.end(), same);
        if (old != lora_cache_.end()) {
          keep.push_back(*old);
        } else {
          CachedLora c{w.path, mtime, size, nullptr, sha256_file_hex(w.path)};
          c.file = std::make_shared<const flux::LoraFile>(flux::load_lora(w.path, *c_.transformer));
          keep.push_back(std::move(c));
        }
        hit = std::prev(keep.end());
      }
      sets.push_back({hit->file, w.strength});
      refs.push_back(LoraRef{w.path, w.strength, hit->sha256});
    }
    lora_cache_ = std::move(keep);  // files no request uses any more are freed
    std::vector<std::pair<std::shared_ptr<const flux::LoraFile>, double>> now;
    for (const auto& set : sets) now.emplace_back(set.file, set.strength);
    if (now != applied_) {
      flux::set_loras(*c_.transformer, sets);
      applied_ = std::move(now);
    }
    return refs;
  }
};

}  // namespace

std::unique_ptr<FluxPipeline> FluxPipeline::load(const ModelPaths& paths, const LoadOptions& options,
                                                 StepObserver* observer) {
  c10::InferenceMode inference;
  // The plan's numbers come from the file headers, read before any weight (the demo is built in memory).
  std::optional<ModelFootprint> footprint;
  if (!is_demo_model(paths.model)) footprint = model_footprint(paths, options);
  PipelineComponents c = load_components(paths, options, observer);
  if (!footprint) footprint = model_footprint(c);
  return std::make_unique<FluxPipelineImpl>(std::move(c), options, std::move(*footprint));
}

}  // namespace dype
