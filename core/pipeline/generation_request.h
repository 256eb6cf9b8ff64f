#pragma once
// One generation, as a value: what the user asked for (GenerationRequest), what came back (GenerationResult) and
// how the pipeline reports while it runs (StepObserver). Shared by the CLI, the GUI worker and image metadata.
#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dype/rope_frequencies.h"
#include "core/image/rgb_image.h"
#include "core/pipeline/pipeline_types.h"  // ComputeTarget
#include "core/sampling/noise.h"           // sampling::NoiseConvention
#include "core/sampling/schedule.h"        // ShiftPolicy

namespace dype {

// The limits every request is held to, in one place: the pipeline enforces them (FluxPipeline::generate), the
// CLI and the GUI check against the same numbers before they ask (GenerationRequest::validate).
struct RequestLimits {
  int min_steps = 1;
  int max_steps = 10000;
  std::uint64_t max_pixels = 4096ull * 4096ull;  // width × height (LoadOptions::max_pixels for a loaded pipeline)
};

// One LoRA applied to the transformer (core/flux/lora.h for the file formats).
struct LoraRef {
  std::string path;
  double strength = 1.0;
  std::string sha256;  // of the file as applied: set by the pipeline in GenerationResult::request, kept in metadata

  bool operator==(const LoraRef& o) const { return path == o.path && strength == o.strength && sha256 == o.sha256; }
};

// Two-pass hi-res refine: pass 1 at a base size, decoded, upscaled in pixel space, encoded again and re-denoised
// at the request's size from part-way down the schedule (img2img with DyPE). The output is width × height.
struct RefineSettings {
  bool enabled = false;
  int base_width = 0;     // pass 1 size; 0 × 0 = auto: the DyPE base area (base_resolution²) with the target's
  int base_height = 0;    // aspect, in multiples of 16 (refine_base_size)
  double strength = 0.6;  // img2img strength of pass 2
  int steps = 0;          // schedule length N of pass 2 (0 = the request's steps); it runs about N·strength
  std::string upscale = "lanczos";  // pixel-space upscale filter: lanczos | bicubic (core/image/resize.h)

  bool operator==(const RefineSettings& o) const {
    return enabled == o.enabled && base_width == o.base_width && base_height == o.base_height &&
           strength == o.strength && steps == o.steps && upscale == o.upscale;
  }
};

struct GenerationRequest {
  std::string prompt;
  int width = 1024;
  int height = 1024;
  int steps = 28;
  double guidance = 3.5;
  std::uint64_t seed = 0;
  DypeConfig dype;
  ShiftPolicy shift = ShiftPolicy::Auto;
  double shift_mu = 1.15;   // used by ShiftPolicy::Fixed
  double base_shift = 0.5;  // the time-shift line through (256, base_shift) and (4096, max_shift)
  double max_shift = 1.15;
  sampling::NoiseConvention noise = sampling::NoiseConvention::Comfy;
  int preview_every = 1;       // 0 = no previews
  bool preview_vae = false;    // full VAE decode for previews instead of the linear projection
  int vae_tile = 128;          // latent pixels per tile side (0 = decode untiled); 128 = 1024 px, so
                               // images up to 1024² decode in one piece (exactly), larger ones in tiles
  int vae_tile_overlap = 16;   // latent pixels
  int bit_depth = 8;           // 8 | 16: 16 also fills GenerationResult::image.rgb16 (for 16-bit export)
  std::vector<LoraRef> loras;  // in order; strength 0 keeps a LoRA listed without computing it
  // Image-to-image (diffusers FluxImg2ImgPipeline convention, core/sampling/img2img.h): start from this picture
  // (PNG or JPEG) brought to width × height by `init_fit`, instead of pure noise. Empty: text-to-image.
  std::string init_image;
  double strength = 0.6;          // share of the schedule re-run from the picture; 1 = text-to-image
  std::string init_fit = "crop";  // crop (cover, centre crop) | stretch (core/image/resize.h FitMode)
  std::string init_image_sha256;  // of the file as used: set by the pipeline in GenerationResult::request
  RefineSettings refine;

  nlohmann::json to_json() const;
  static GenerationRequest from_json(const nlohmann::json& j);  // missing keys keep their defaults

  // Every problem that makes this request unrunnable under `limits`, one message each (empty: valid): size,
  // steps, guidance, previews, bit depth, DyPE and time-shift numbers, LoRA strengths, img2img strength and fit,
  // refine settings (the pass plan's rules, core/pipeline/passes.h). The pipeline refuses what this reports.
  std::vector<std::string> validate(const RequestLimits& limits = {}) const;
};

struct StepProgress {
  int step = 0;   // 1-based number of the step just finished, counted over all passes
  int total = 0;  // steps of all passes (a refine run: pass 1's + pass 2's)
  int pass = 1;   // 1-based pass of a two-pass refine (1 of 1 otherwise)
  int passes = 1;
  double sigma = 0;  // sigma the model was evaluated at in this step (= DyPE t)
  double elapsed_s = 0;
  double eta_s = 0;
};

// Per-request callbacks, called on the thread that runs generate(). Returning false from on_block, on_step or
// on_decode_tile stops the run within that block / step / tile (the result is then marked cancelled).
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  // "loading", "encoding", "denoising", "decoding", and for img2img / refine "encoding image", "upscaling"
  virtual void on_stage(const std::string& stage) {}
  // Something the user should know about the run (how the init image was fitted, a conversion of its format),
  // once, before the work it concerns; also collected in GenerationResult::notes.
  virtual void on_note(const std::string& note) {}
  // A pass begins (1-based `pass` of `passes`: 2 for a refine run), before its picture is prepared, at
  // width × height, running `steps_run` of its `steps`-step schedule.
  virtual void on_pass(int pass, int passes, int width, int height, int steps_run, int steps) {}
  // Progress inside a step: called after each transformer block of step `step` (1-based, the step in progress,
  // of `total_steps`), `block` of `total_blocks` (1-based; 19 double + 38 single = 57 for FLUX.1), in order, before
  // that step's on_step. A real-size step takes minutes on a CPU; this is what keeps a progress display and a stop
  // request responsive within it. Returning false stops after this block: the step is not finished, and no
  // on_step is called for it. Called often (57 times per step): keep it cheap, throttle any display.
  virtual bool on_block(int step, int total_steps, int block, int total_blocks) { return true; }
  virtual bool on_step(const StepProgress& progress) { return true; }
  virtual void on_preview(int step, const RgbImage& preview) {}
  virtual bool on_decode_tile(int done, int total) { return true; }
  // The VAE encode of an init image or of pass 1's upscaled picture, per tile (same contract as on_decode_tile).
  virtual bool on_encode_tile(int done, int total) { return true; }
  // Diagnostics for tests and benchmarks: the packed latent the model was evaluated on at 0-based step `index` and
  // its prediction, [1, L_img, 64] float32 on the compute device (golden stepK.x / stepK.pred).
  virtual void on_step_tensors(int index, const at::Tensor& x, const at::Tensor& pred) {}
};

// One denoising pass as it ran (a refine run has two; text-to-image and img2img one).
struct PassResult {
  int width = 0, height = 0;
  int steps = 0;               // schedule length N
  int start_index = 0;         // first sigma sampled (img2img: img2img_start_index; 0 from pure noise)
  double strength = 1.0;       // 1 when the pass started from pure noise
  std::vector<double> sigmas;  // the sigmas visited: N − start_index + 1 values ending at 0
  double mu = 0;
  bool shifted = false;
  double seconds_prepare = 0;  // reading/fitting the init image or upscaling pass 1's picture
  double seconds_encode_image = 0, seconds_denoise = 0, seconds_decode = 0;
  int steps_run() const { return steps - start_index; }
  double seconds() const { return seconds_prepare + seconds_encode_image + seconds_denoise + seconds_decode; }
};

struct GenerationResult {
  GenerationRequest request;
  bool cancelled = false;
  RgbImage image;
  at::Tensor latent;           // [1, 16, H/8, W/8] float32 on CPU (VAE space before scale/shift undo)
  std::string model_label;     // e.g. "FLUX.1-dev (diffusers)" or "demo (random weights)"
  ComputeTarget target;        // the device and dtype it was computed with (resolved: "cpu" / "float32")
  double mu = 0;               // time shift actually used (meaningful when `shifted`)
  bool shifted = false;        // false: the schedule was not time-shifted (policy none, or auto for schnell)
  std::vector<double> sigmas;  // the sigmas the last pass visited (steps + 1 values from pure noise)
  std::vector<PassResult> passes;
  std::vector<std::string> notes;  // what on_note reported
  double seconds_encode = 0, seconds_denoise = 0, seconds_decode = 0;
  bool prompt_from_cache = false;  // the encoded prompt came from the pipeline's cache (no text encoder ran)
  // Steps actually run over all passes (img2img runs fewer than `steps`).
  int steps_run() const;
  std::uint64_t peak_rss_bytes = 0;
};

// Throws InvalidArgument naming every problem r.validate(limits) finds, joined with "; " (returns when valid).
void require_valid(const GenerationRequest& r, const RequestLimits& limits = {});

// The size rule of validate(): throws InvalidArgument when width/height are not positive multiples of 16 or
// exceed `max_pixels` (the message names the nearest valid size / the limit).
void validate_size(int width, int height, std::uint64_t max_pixels = RequestLimits{}.max_pixels);

}  // namespace dype
