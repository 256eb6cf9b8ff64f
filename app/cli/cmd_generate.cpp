// `dype generate`: one image from a prompt, with progress on stderr, optional previews and latent dump.
// Exit codes: 0 written, 1 error (message on stderr), 130 interrupted (Ctrl-C: the run stops after the current
// transformer block, T5 layer or VAE tile, not at the end of a step of minutes, and no output file is written).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/common/error.h"
#include "core/common/format.h"
#include "core/image/png_export.h"
#include "core/io/safetensors.h"
#include "core/pipeline/components.h"
#include "core/pipeline/demo_model.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/memory_plan.h"
#include "core/pipeline/model_footprint.h"
#include "core/pipeline/passes.h"
#include "core/pipeline/request_metadata.h"
#include "core/pipeline/throughput.h"

namespace dype::cli {
namespace {

const char* kHelp =
    "usage: dype generate --prompt TEXT --output FILE.png [options]\n\n"
    "model\n"
    "  --model PATH|demo|demo-random   diffusers folder, BFL/ComfyUI transformer .safetensors, demo (tiny model\n"
    "                       trained on procedural shapes by `dype train-demo`: needs --demo-weights FILE until\n"
    "                       trained weights are built in) or demo-random (random weights: coloured noise)\n"
    "                                                      (default demo when built in, else demo-random)\n"
    "  --demo-weights FILE  with --model demo: weights written by `dype train-demo` instead of the built-in ones\n"
    "  --vae F --clip F --t5 F   single-file components (default: found beside --model)\n"
    "  --tokenizers DIR     folder with tokenizer/ (vocab.json, merges.txt) and tokenizer_2/ (spiece.model)\n"
    "  --lora FILE[:S]      a LoRA for the transformer (BFL/ComfyUI, kohya or diffusers keys) at strength S\n"
    "                       (default 1); repeat the option for several\n"
    "image\n"
    "  --prompt TEXT        the prompt\n"
    "  --width PX --height PX   multiples of 16     (default: the model's, 1024 x 1024; the demo 4x its base,\n"
    "                       512 x 512)\n"
    "  --steps N            sampling steps                 (default 28 dev, 4 schnell, 20 demo)\n"
    "  --guidance G         distilled guidance (dev only)                         (default 3.5)\n"
    "  --seed S             noise seed                                            (default 0)\n"
    "  --noise comfy|bfl    noise convention: comfy = float32 CPU normal (ComfyUI), bfl = bf16 (BFL reference)\n"
    "image to image\n"
    "  --init-image FILE    start from this PNG or JPEG instead of pure noise (diffusers FluxImg2Img convention)\n"
    "  --strength S         share of the schedule re-run, (0, 1]; 1 = text-to-image  (default 0.6)\n"
    "  --init-fit crop|stretch   bring the picture to --width x --height: crop = scale to cover and centre-crop\n"
    "                       (aspect kept), stretch = scale each axis                 (default crop)\n"
    "two-pass hi-res refine (the output is --width x --height)\n"
    "  --refine auto|WxH    pass 1 at this size (auto: the --base-resolution area with the output's aspect),\n"
    "                       then upscale, encode and re-denoise at the output size with DyPE\n"
    "  --refine-strength S  img2img strength of pass 2                           (default 0.6)\n"
    "  --refine-steps N     schedule length of pass 2; it runs about N x strength   (default: --steps)\n"
    "  --refine-upscale lanczos|bicubic   pixel-space upscale filter              (default lanczos)\n"
    "DyPE\n"
    "  --dype-method M      none | pi | ntk | yarn | vision-yarn                  (default yarn)\n"
    "  --dype-dynamic on|off   strength follows kappa(t) = strength * t^exponent  (default on)\n"
    "  --yarn-form F        paper | comfy                                         (default paper)\n"
    "  --dype-strength LS   lambda_s (default 2)       --dype-exponent LT   lambda_t (default 2)\n"
    "  --base-resolution PX resolution the model was trained at  (default: the model's, 1024; the demo's file says,\n"
    "                       128 for the built-in one)\n"
    "  --shift S            auto | clamp | flux | none | MU (a number)            (default auto: none for schnell,\n"
    "                       clamp = min(FLUX line, 1.15) for dev)\n"
    "compute\n"
    "  --device cpu|cuda[:N]   (default cpu)    --dtype float32|bfloat16|float16   (default: float32 on the\n"
    "                       CPU, bfloat16 on a GPU)\n"
    "  --max-memory GIB     memory budget on the compute device (RAM on the CPU, VRAM on a GPU; --max-vram is\n"
    "                       the same)                                            (default: what is free now)\n"
    "  --text-encoders auto|release|keep   free T5/CLIP after encoding (auto: when everything does not fit in\n"
    "                       half of the budget; the encoded prompt is cached either way)  (default auto)\n"
    "  --dry-run            print the memory plan (from the file headers) and the time estimate, load nothing\n"
    "output\n"
    "  --output FILE.png    the image (written to a temporary file and renamed: never a partial file)\n"
    "  --bit-depth 8|16     PNG bit depth                                         (default 8)\n"
    "  --save-latent F      also write the final latent [1,16,H/8,W/8] float32 as tensor `latent` (safetensors)\n"
    "  --preview-every N --preview-dir DIR   write a cheap latent preview PNG every N steps into DIR\n"
    "  --help               this text\n\n"
    "example: dype generate --model demo --prompt \"a red star on a blue background, top left\" --width 512 "
    "--height 512 --output out.png\n";

std::atomic<bool> g_interrupted{false};

// Only the lock-free atomic store: nothing else is async-signal-safe here. The pipeline polls the flag.
void on_sigint(int) { g_interrupted.store(true); }

// Without a terminal (logs, pipes, CI) block progress is one plain line at most this often: a real step of
// minutes still shows that it is moving, a fast step (the demo, tests) prints none.
constexpr double kPlainBlockLineSeconds = 10.0;
// On a terminal the line is redrawn at most this often (57 blocks per step can be fast on a GPU).
constexpr double kTtyBlockRedrawSeconds = 0.1;

std::string clock_str(double s) {
  if (!(s >= 0)) s = 0;
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", t / 60, t % 60);
  return buf;
}

// Progress on stderr: a redrawn bar on a terminal, one line per event otherwise (logs, pipes, CI).
class CliObserver : public StepObserver {
 public:
  CliObserver(bool tty, std::string preview_dir) : tty_(tty), preview_dir_(std::move(preview_dir)) {}

  void on_stage(const std::string& stage) override {
    end_bar();
    std::fprintf(stderr, "%s...\n", stage.c_str());
    if (stage == "denoising") denoise_start_ = last_block_line_ = std::chrono::steady_clock::now();
  }

  // "step 1/4 · block 23/57" inside a step: redrawn on a terminal, a rare plain line otherwise.
  bool on_block(int step, int total_steps, int block, int total_blocks) override {
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_block_line_).count();
    if (since >= (tty_ ? kTtyBlockRedrawSeconds : kPlainBlockLineSeconds)) {
      last_block_line_ = now;
      if (tty_) {
        const long done = static_cast<long>(step - 1) * total_blocks + block;
        const long all = static_cast<long>(total_steps) * total_blocks;
        const double elapsed = std::chrono::duration<double>(now - denoise_start_).count();
        std::fprintf(stderr, "\r\033[K[%s] step %d/%d · block %d/%d  %s elapsed ", bar(done, all).c_str(), step,
                     total_steps, block, total_blocks, clock_str(elapsed).c_str());
        bar_open_ = true;
      } else {
        std::fprintf(stderr, "step %d/%d · block %d/%d\n", step, total_steps, block, total_blocks);
      }
      std::fflush(stderr);
    }
    return !g_interrupted.load();
  }

  bool on_step(const StepProgress& p) override {
    last_block_line_ = std::chrono::steady_clock::now();  // the step line just below says as much
    const std::string pass =
        p.passes > 1 ? "pass " + std::to_string(p.pass) + "/" + std::to_string(p.passes) + " " : "";
    if (tty_) {
      std::fprintf(stderr, "\r\033[K[%s] %s%d/%d  sigma %.4f  %s elapsed  ETA %s ", bar(p.step, p.total).c_str(),
                   pass.c_str(), p.step, p.total, p.sigma, clock_str(p.elapsed_s).c_str(), clock_str(p.eta_s).c_str());
      bar_open_ = true;
      if (p.step == p.total) end_bar();
    } else {
      std::fprintf(stderr, "%sstep %d/%d sigma %.4f elapsed %.1fs eta %.1fs\n", pass.c_str(), p.step, p.total, p.sigma,
                   p.elapsed_s, p.eta_s);
    }
    std::fflush(stderr);
    return !g_interrupted.load();
  }

  void on_preview(int step, const RgbImage& preview) override {
    if (preview_dir_.empty()) return;
    char name[64];
    std::snprintf(name, sizeof(name), "/preview_step%03d.png", step);
    try {
      image::write_png(preview_dir_ + name, preview, 8);
    } catch (const Error& e) {
      end_bar();
      std::fprintf(stderr, "warning: preview not written: %s\n", e.what());
    }
  }

  bool on_decode_tile(int done, int total) override { return tile_line("decod", done, total); }
  bool on_encode_tile(int done, int total) override { return tile_line("encod", done, total); }

  void on_pass(int pass, int passes, int width, int height, int steps_run, int steps) override {
    if (passes < 2 && steps_run == steps) return;  // plain text-to-image: nothing to say
    end_bar();
    std::fprintf(stderr, "pass %d/%d: %dx%d, %d of %d steps\n", pass, passes, width, height, steps_run, steps);
  }

  void on_note(const std::string& note) override {
    end_bar();
    std::fprintf(stderr, "note: %s\n", note.c_str());
  }

  void end_bar() {
    if (bar_open_) std::fprintf(stderr, "\n");
    bar_open_ = false;
  }

 private:
  // "decoding tile 3/8" redrawn on a terminal, "decoded tile 3/8" lines otherwise (verb stem: "decod", "encod").
  bool tile_line(const char* stem, int done, int total) {
    if (tty_) {
      std::fprintf(stderr, "\r%sing tile %d/%d ", stem, done, total);
      bar_open_ = done < total;
      if (done == total) std::fprintf(stderr, "\n");
    } else if (total > 1) {
      std::fprintf(stderr, "%sed tile %d/%d\n", stem, done, total);
    }
    std::fflush(stderr);
    return !g_interrupted.load();
  }

  static std::string bar(long done, long total) {
    const int width = 30;
    const long filled = total > 0 ? std::min<long>(width, done * width / total) : width;
    std::string s(static_cast<std::size_t>(filled), '#');
    s.resize(width, '.');
    return s;
  }

  bool tty_;
  std::string preview_dir_;
  bool bar_open_ = false;
  std::chrono::steady_clock::time_point denoise_start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_block_line_ = denoise_start_;
};

// The folder that will receive `file` must exist and be writable (the file itself is written later, atomically).
void check_writable_folder_of(const std::string& file, const char* option) {
  const std::filesystem::path p(file);
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    throw IoError(std::string(option) + " '" + file + "': the folder '" + dir.string() + "' does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw IoError(std::string(option) + " '" + file + "': the folder '" + dir.string() + "' is not writable");
  if (std::filesystem::is_directory(p)) throw IoError(std::string(option) + " '" + file + "' is a folder");
}

// "FILE" or "FILE:STRENGTH" (the text after the last ':' is the strength only when it is a number, so a path with
// a colon still works). The file must exist: checked now, not after loading the model.
LoraRef parse_lora(const std::string& v) {
  LoraRef l{v, 1.0, ""};
  if (const auto colon = v.rfind(':'); colon != std::string::npos && colon + 1 < v.size()) {
    const std::string s = v.substr(colon + 1);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() && *end == '\0') {
      if (!std::isfinite(d)) throw InvalidArgument("--lora " + v + ": the strength must be a finite number");
      l.path = v.substr(0, colon);
      l.strength = d;
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(l.path, ec)) throw IoError("--lora: file '" + l.path + "' does not exist");
  return l;
}

// "auto" (0 x 0) or "WxH".
std::pair<int, int> parse_refine_size(const std::string& v) {
  if (v == "auto") return {0, 0};
  int w = 0, h = 0;
  char tail = 0;
  if (std::sscanf(v.c_str(), "%dx%d%c", &w, &h, &tail) != 2 || w <= 0 || h <= 0)
    throw InvalidArgument("--refine expects auto or a size WxH (pass 1's size, e.g. 1024x1024), got '" + v + "'");
  return {w, h};
}

// The final line's per-pass part: "pass 1 1024x1024 28 steps 40.1 s, pass 2 4096x4096 17 of 28 steps from
// sigma 0.71 (upscale 0.9 s, encode 6.0 s) 310.2 s".
std::string passes_summary(const GenerationResult& r) {
  std::string out;
  char buf[256];
  for (std::size_t i = 0; i < r.passes.size(); ++i) {
    const PassResult& p = r.passes[i];
    std::snprintf(buf, sizeof(buf), "%spass %zu %dx%d: %d", i ? "; " : "", i + 1, p.width, p.height, p.steps_run());
    out += buf;
    if (p.start_index > 0) {
      std::snprintf(buf, sizeof(buf), " of %d steps from sigma %.3f", p.steps, p.sigmas.front());
      out += buf;
    } else {
      out += " steps";
    }
    std::snprintf(buf, sizeof(buf), " %.1f s (", p.seconds());
    out += buf;
    if (p.seconds_prepare > 0 || p.seconds_encode_image > 0) {
      std::snprintf(buf, sizeof(buf), "%s %.1f s, encode %.1f s, ", i ? "upscale" : "read", p.seconds_prepare,
                    p.seconds_encode_image);
      out += buf;
    }
    std::snprintf(buf, sizeof(buf), "denoise %.1f s, decode %.1f s)", p.seconds_denoise, p.seconds_decode);
    out += buf;
  }
  return out;
}

int parse_int(const Args& a, const std::string& name, long long def, long long lo, long long hi) {
  const long long v = a.get_int(name, def);
  if (v < lo || v > hi)
    throw InvalidArgument("--" + name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                          ", got " + std::to_string(v));
  return static_cast<int>(v);
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  Args a(argc, argv, 2, {"help", "dry-run"});
  if (a.has("help")) {
    std::cout << kHelp;
    return 0;
  }
  a.allow_only({"help",          "dry-run",
                "max-memory",    "max-vram",
                "text-encoders", "model",
                "demo-weights",  "vae",
                "clip",          "t5",
                "tokenizers",    "lora",
                "prompt",        "width",
                "height",        "steps",
                "guidance",      "seed",
                "dype-method",   "dype-dynamic",
                "yarn-form",     "dype-strength",
                "dype-exponent", "base-resolution",
                "shift",         "noise",
                "device",        "dtype",
                "output",        "bit-depth",
                "save-latent",   "preview-every",
                "preview-dir",   "init-image",
                "strength",      "init-fit",
                "refine",        "refine-strength",
                "refine-steps",  "refine-upscale"});
  if (!a.positional().empty())
    throw InvalidArgument("unexpected argument '" + a.positional().front() + "' (see --help)");
  const bool dry_run = a.has("dry-run");
  const auto output = a.get("output");
  if (!dry_run && (!output || output->empty()))
    throw InvalidArgument("--output FILE.png is required (see dype generate --help)");
  const auto prompt = a.get("prompt");
  if (!prompt) throw InvalidArgument("--prompt TEXT is required (see dype generate --help)");

  // Everything the user can get wrong is checked before the (possibly long) model load.
  GenerationRequest req;
  req.prompt = *prompt;
  // A side not given is the model's default, known once its files are found (footprint below); 1024 until then.
  req.width = parse_int(a, "width", 1024, 1, 1 << 20);
  req.height = parse_int(a, "height", 1024, 1, 1 << 20);
  req.guidance = a.get_double("guidance", 3.5);
  if (auto s = a.get("seed")) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s->c_str(), &end, 10);
    if (end == s->c_str() || *end != '\0' || errno != 0 || s->front() == '-')
      throw InvalidArgument("--seed expects a non-negative integer, got '" + *s + "'");
    req.seed = v;
  }
  req.dype.method = parse_method(a.get_or("dype-method", method_name(req.dype.method)));
  req.dype.dynamic = a.get_on_off("dype-dynamic", req.dype.dynamic);
  req.dype.yarn_form = parse_yarn_form(a.get_or("yarn-form", yarn_form_name(req.dype.yarn_form)));
  req.dype.lambda_s = a.get_double("dype-strength", req.dype.lambda_s);
  req.dype.lambda_t = a.get_double("dype-exponent", req.dype.lambda_t);
  req.dype.base_resolution = parse_int(a, "base-resolution", req.dype.base_resolution, 16, 1 << 20);
  req.shift = parse_shift_option(a.get_or("shift", "auto"), &req.shift_mu);
  req.noise = sampling::parse_noise_convention(a.get_or("noise", "comfy"));
  req.bit_depth = parse_int(a, "bit-depth", 8, 8, 16);
  if (req.bit_depth != 8 && req.bit_depth != 16) throw InvalidArgument("--bit-depth must be 8 or 16");
  const std::string preview_dir = a.get_or("preview-dir", "");
  req.preview_every = parse_int(a, "preview-every", preview_dir.empty() ? 0 : 1, 0, 1 << 20);
  if (req.preview_every > 0 && preview_dir.empty())
    throw InvalidArgument("--preview-every needs --preview-dir DIR (where the previews go)");
  const auto save_latent = a.get("save-latent");
  if (auto init = a.get("init-image")) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*init, ec))
      throw IoError("--init-image: file '" + *init + "' does not exist");
    req.init_image = *init;
  } else if (a.has("strength") || a.has("init-fit")) {
    throw InvalidArgument(
        "--strength and --init-fit apply to --init-image FILE (for the refine pass: --refine-strength)");
  }
  req.strength = a.get_double("strength", req.strength);
  req.init_fit = a.get_or("init-fit", req.init_fit);
  if (auto refine = a.get("refine")) {
    req.refine.enabled = true;
    std::tie(req.refine.base_width, req.refine.base_height) = parse_refine_size(*refine);
    req.refine.strength = a.get_double("refine-strength", req.refine.strength);
    req.refine.steps = parse_int(a, "refine-steps", 0, 0, RequestLimits{}.max_steps);
    req.refine.upscale = a.get_or("refine-upscale", req.refine.upscale);
  } else if (a.has("refine-strength") || a.has("refine-steps") || a.has("refine-upscale")) {
    throw InvalidArgument("--refine-strength, --refine-steps and --refine-upscale apply to --refine auto|WxH");
  }

  // Output locations are checked now, not after a long run.
  if (output) check_writable_folder_of(*output, "--output");
  if (save_latent) check_writable_folder_of(*save_latent, "--save-latent");
  if (!preview_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(preview_dir, ec);
    if (!std::filesystem::is_directory(preview_dir) || ::access(preview_dir.c_str(), W_OK) != 0)
      throw IoError("--preview-dir '" + preview_dir + "' is not a writable folder");
  }

  ModelPaths paths;
  // Default: the trained demo when it is built in or its weights are given, else the random one.
  paths.model = a.get_or("model", has_trained_demo() || a.has("demo-weights") ? kDemoModel : kDemoRandomModel);
  paths.demo_weights = a.get_or("demo-weights", "");
  paths.vae = a.get_or("vae", "");
  paths.clip = a.get_or("clip", "");
  paths.t5 = a.get_or("t5", "");
  paths.tokenizers = a.get_or("tokenizers", "");
  for (const std::string& v : a.get_all("lora")) req.loras.push_back(parse_lora(v));
  LoadOptions opts;
  opts.target.device = a.get_or("device", "cpu");
  opts.target.dtype = a.get_or("dtype", default_compute_dtype(parse_device(opts.target.device)));
  opts.text_encoders = parse_text_encoder_policy(a.get_or("text-encoders", "auto"));
  if (a.has("max-memory") && a.has("max-vram")) throw InvalidArgument("give --max-memory or --max-vram, not both");
  const std::string budget_option = a.has("max-vram") ? "max-vram" : "max-memory";
  if (a.has(budget_option)) {
    const double gib = a.get_double(budget_option, 0);
    if (!(gib > 0 && gib < 1e6)) throw InvalidArgument("--" + budget_option + " expects a size in GiB, e.g. 22");
    opts.max_memory_bytes = static_cast<std::uint64_t>(gib * 1024 * 1024 * 1024);
  }
  validate_size(req.width, req.height, opts.max_pixels);
  const at::Device device = parse_device(opts.target.device);
  const at::ScalarType dtype = parse_compute_dtype(opts.target.dtype, device);

  // Ctrl-C sets the cancel flag; a second Ctrl-C falls back to the default action (immediate exit).
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  tune_allocator_for_large_tensors();
  const auto t0 = std::chrono::steady_clock::now();
  // The plan comes from the file headers: a run that cannot fit is refused here, before any weight is read.
  const ModelFootprint footprint = model_footprint(paths, opts);
  RequestLimits limits;  // the ones the pipeline will hold the request to
  limits.max_pixels = opts.max_pixels;
  req.steps = parse_int(a, "steps", footprint.default_steps, limits.min_steps, limits.max_steps);
  // DyPE extrapolates from the resolution the model was trained at: the model's own unless the user says.
  if (!a.has("base-resolution")) req.dype.base_resolution = footprint.base_resolution;
  if (!a.has("width") || !a.has("height")) {
    if (!a.has("width")) req.width = footprint.default_size;
    if (!a.has("height")) req.height = footprint.default_size;
    validate_size(req.width, req.height, opts.max_pixels);
  }
  require_valid(req, limits);  // the pipeline's own contract (strength, refine size, names...): before any loading
  const std::vector<PassPlan> passes = plan_passes(req);
  const Throughput speed = cached_throughput(device, dtype);
  opts.flops_per_second = speed.flops_per_second;
  opts.convert_elements_per_second = speed.convert_elements_per_second;
  const MemoryEstimate plan = plan_generation(footprint, req, opts, available_memory_bytes(device), speed);
  if (dry_run) {
    for (std::size_t i = 0; i < passes.size(); ++i) {
      const PassPlan& p = passes[i];
      std::cout << "pass " << i + 1 << ": " << p.width << "x" << p.height << ", " << p.steps_run() << " of " << p.steps
                << " steps" << (p.from_image ? (i ? " from pass 1's picture upscaled" : " from the init image") : "")
                << (p.from_image ? ", strength " + std::to_string(p.strength).substr(0, 4) : std::string()) << "\n";
    }
    std::cout << describe_plan(footprint, plan);
    return 0;
  }
  if (!plan.fits) throw ResourceError(plan.advice);
  std::fprintf(stderr, "memory plan: peak %s of %s available, text encoders %s; about %.1f s per step\n",
               format_bytes(plan.peak_bytes).c_str(),
               plan.available_bytes ? format_bytes(plan.available_bytes).c_str() : "unknown",
               plan.release_text_encoders ? "released after encoding" : "kept", plan.seconds_per_step);

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  CliObserver observer(tty, preview_dir);
  std::unique_ptr<FluxPipeline> pipe = FluxPipeline::load(paths, opts, &observer);
  std::fprintf(stderr, "model: %s, loaded in %.1f s\n", pipe->label().c_str(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (paths.model == kDemoRandomModel)  // the trained demo draws pictures
    std::fprintf(stderr, "note: the demo model has random weights; its images are coloured noise by design\n");
  if (g_interrupted.load()) {
    std::fprintf(stderr, "interrupted\n");
    return 130;
  }

  const MemoryEstimate est = pipe->estimate(req);
  if (!est.fits) throw ResourceError(est.advice);

  GenerationResult result = pipe->generate(req, &observer, &g_interrupted);
  observer.end_bar();
  if (result.cancelled || g_interrupted.load()) {
    std::fprintf(stderr, "interrupted: no output written\n");
    return 130;
  }
  if (save_latent)
    io::save_safetensors(*save_latent, {{"latent", result.latent.to(at::kCPU, at::kFloat).contiguous()}},
                         {{"format", "pt"}, {"model", result.model_label}});
  export_png(*output, result, req.bit_depth, DYPE_VERSION);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int steps_run = std::max(1, result.steps_run());
  // img2img and refine: what each pass cost, on the same final line (scripts read the last line).
  const bool per_pass = result.passes.size() > 1 || (!result.passes.empty() && result.passes.front().start_index > 0);
  std::fprintf(stderr,
               "wrote %s (%dx%d, %d-bit) in %.1f s (encode %.1f s, denoise %.1f s = %.1f s/step, decode %.1f s), peak "
               "RSS %s%s%s\n",
               output->c_str(), result.image.width, result.image.height, req.bit_depth, total, result.seconds_encode,
               result.seconds_denoise, result.seconds_denoise / steps_run, result.seconds_decode,
               format_bytes(result.peak_rss_bytes).c_str(), per_pass ? "; " : "",
               per_pass ? passes_summary(result).c_str() : "");
  return 0;
}

}  // namespace dype::cli
