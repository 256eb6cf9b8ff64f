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

namespace dype {

// How the FLUX time shift μ is chosen (DYPE.md §3). Auto: none for schnell, clamp for dev.
enum class ShiftPolicy { Auto, Clamp, Flux, None, Fixed };
// Noise convention: Comfy = float32 CPU normal; Bfl = the same CPU normal drawn in bf16 (BFL reference).
enum class NoiseMode { Comfy, Bfl };

// One LoRA applied to the transformer (core/flux/lora.h for the file formats).
struct LoraRef {
  std::string path;
  double strength = 1.0;
  std::string sha256;  // of the file as applied: set by the pipeline in GenerationResult::request, kept in metadata

  bool operator==(const LoraRef& o) const { return path == o.path && strength == o.strength && sha256 == o.sha256; }
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
  double shift_mu = 1.15;    // used by ShiftPolicy::Fixed
  double base_shift = 0.5;   // the time-shift line through (256, base_shift) and (4096, max_shift)
  double max_shift = 1.15;
  NoiseMode noise = NoiseMode::Comfy;
  std::string device = "cpu";      // "cpu", "cuda", "cuda:1"
  std::string dtype = "float32";   // compute dtype: float32 | bfloat16 | float16
  int preview_every = 1;           // 0 = no previews
  bool preview_vae = false;        // full VAE decode for previews instead of the linear projection
  int vae_tile = 128;              // latent pixels per tile side (0 = decode untiled); 128 = 1024 px, so
                                   // images up to 1024² decode in one piece (exactly), larger ones in tiles
  int vae_tile_overlap = 16;       // latent pixels
  int bit_depth = 8;               // 8 | 16: 16 also fills GenerationResult::image.rgb16 (for 16-bit export)
  std::vector<LoraRef> loras;      // in order; strength 0 keeps a LoRA listed without computing it

  nlohmann::json to_json() const;
  static GenerationRequest from_json(const nlohmann::json& j);  // missing keys keep their defaults
};

struct StepProgress {
  int step = 0;       // 1-based number of the step just finished
  int total = 0;
  double sigma = 0;   // sigma the model was evaluated at in this step (= DyPE t)
  double elapsed_s = 0;
  double eta_s = 0;
};

// Per-request callbacks, called on the thread that runs generate(). Returning false from on_block, on_step or
// on_decode_tile stops the run within that block / step / tile (the result is then marked cancelled).
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual void on_stage(const std::string& stage) {}  // "loading", "encoding", "denoising", "decoding"
  // Progress inside a step: called after each transformer block of step `step` (1-based, the step in progress,
  // of `total_steps`), `block` of `total_blocks` (1-based; 19 double + 38 single = 57 for FLUX.1), in order, before
  // that step's on_step. A real-size step takes minutes on a CPU; this is what keeps a progress display and a stop
  // request responsive within it. Returning false stops after this block: the step is not finished, and no
  // on_step is called for it. Called often (57 times per step): keep it cheap, throttle any display.
  virtual bool on_block(int step, int total_steps, int block, int total_blocks) { return true; }
  virtual bool on_step(const StepProgress& progress) { return true; }
  virtual void on_preview(int step, const RgbImage& preview) {}
  virtual bool on_decode_tile(int done, int total) { return true; }
  // Diagnostics for tests and benchmarks: the packed latent the model was evaluated on at 0-based step `index` and
  // its prediction, [1, L_img, 64] float32 on the compute device (golden stepK.x / stepK.pred).
  virtual void on_step_tensors(int index, const at::Tensor& x, const at::Tensor& pred) {}
};

struct GenerationResult {
  GenerationRequest request;
  bool cancelled = false;
  RgbImage image;
  at::Tensor latent;           // [1, 16, H/8, W/8] float32 on CPU (VAE space before scale/shift undo)
  std::string model_label;     // e.g. "FLUX.1-dev (diffusers)" or "demo (random weights)"
  double mu = 0;               // time shift actually used (meaningful when `shifted`)
  bool shifted = false;        // false: the schedule was not time-shifted (policy none, or auto for schnell)
  std::vector<double> sigmas;  // steps + 1 values
  double seconds_encode = 0, seconds_denoise = 0, seconds_decode = 0;
  bool prompt_from_cache = false;  // the encoded prompt came from the pipeline's cache (no text encoder ran)
  std::uint64_t peak_rss_bytes = 0;
};

const char* shift_policy_name(ShiftPolicy p);  // "auto", "clamp", "flux", "none", "fixed"
const char* noise_mode_name(NoiseMode m);      // "comfy", "bfl"
// Inverse of the *_name functions; throw InvalidArgument listing the valid names.
ShiftPolicy parse_shift_policy(const std::string& name);
NoiseMode parse_noise_mode(const std::string& name);

}  // namespace dype
