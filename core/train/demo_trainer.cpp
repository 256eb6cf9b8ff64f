#include "core/train/demo_trainer.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "core/common/error.h"
#include "core/image/convert.h"
#include "core/image/png_export.h"
#include "core/io/safetensors.h"
#include "core/io/weights.h"
#include "core/pipeline/demo_model.h"
#include "core/sampling/pack.h"
#include "core/shapes/render.h"
#include "core/shapes/scene.h"
#include "core/shapes/score.h"
#include "core/train/loss_plot.h"

namespace dype::train {

namespace fs = std::filesystem;

void DemoTrainingOptions::validate() const {
  auto need = [](bool ok, const char* what) {
    if (!ok) throw InvalidArgument(what);
  };
  need(!output_dir.empty(), "--output DIR is required");
  need(resolution >= 64 && resolution <= 1024 && resolution % 16 == 0,
       "--resolution must be a multiple of 16 in 64…1024");
  need(vae_steps >= 0 && decoder_steps >= 0 && flux_steps >= 0, "step counts must be ≥ 0");
  need(vae_batch >= 1 && flux_batch >= 1, "batch sizes must be ≥ 1");
  need(!vae_sizes.empty(), "--vae-sizes needs at least one size");
  for (int s : vae_sizes)
    need(s >= 16 && s % 16 == 0 && s <= 1024, "--vae-sizes: each size must be a multiple of 16 in 16…1024");
  need(pictures >= flux_batch, "--pictures must be at least the batch");
  need(vae_lr > 0 && flux_lr > 0, "learning rates must be > 0");
  need(ema_decay >= 0 && ema_decay < 1, "--ema must be in [0, 1)");
  need(vae_threads >= 1 && flux_threads >= 1, "thread counts must be ≥ 1");
  need(flux_workers >= 1 && flux_workers <= flux_batch, "--workers must be in 1…the batch size");
  need(flux_workers == 1 || flux_threads == 1, "--workers N > 1 runs one thread per worker: leave --threads at 1");
  need(log_every >= 1, "--log-every must be ≥ 1");
  need(uniform_t_share >= 0 && uniform_t_share <= 1, "--uniform-t must be in [0, 1]");
  need(clip_dropout >= 0 && clip_dropout <= 1, "--clip-dropout must be in [0, 1]");
  need(object_weight >= 0 && object_weight <= 16, "--object-weight must be in [0, 16]");
  need(continue_from.empty() || vae_from.empty(), "--continue and --vae-from cannot be combined");
  need(check_every >= 0, "--check-every must be ≥ 0");
  need(save_every >= 0, "--save-every must be ≥ 0");
  need(pattern_scale > 0 && pattern_scale <= 4, "--pattern-scale must be in (0, 4]");
  if (shape) trained_demo_flux_config(*shape);  // InvalidArgument naming the impossible size
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kClipLength = 77;  // FLUX pads every CLIP prompt to 77 tokens (flux_pipeline.cpp)

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The parameter source of a model being trained: random initialisation (RandomWeights' defaults), except that
// every adaLN modulation and the final projection start at zero (DiT's "adaLN-Zero": each block starts as the
// identity, the model's first prediction is 0), and a record of every tensor handed out under the name the
// loaders ask for — so that saving writes exactly the names loading reads, whatever the module tree looks like.
class RecordingWeights : public io::WeightSource {
 public:
  RecordingWeights(std::uint64_t seed, bool adaln_zero)
      : WeightSource(at::kFloat, at::kCPU), random_(seed, at::kFloat, at::kCPU), adaln_zero_(adaln_zero) {}
  // Continues from `start` (a demo weights file, tensors under `prefix`) instead of a random initialisation.
  RecordingWeights(std::shared_ptr<const io::TensorStore> start, const std::string& prefix)
      : WeightSource(at::kFloat, at::kCPU), random_(0, at::kFloat, at::kCPU), adaln_zero_(false) {
    start_ = std::make_unique<io::CheckpointWeights>(std::move(start), "demo weights", at::kFloat, at::kCPU, prefix);
  }
  at::Tensor take(const std::string& name, at::IntArrayRef shape) override {
    const bool zero =
        adaln_zero_ && (name.find("_mod.lin.") != std::string::npos ||
                        name.find(".modulation.lin.") != std::string::npos || name.rfind("final_layer.", 0) == 0);
    at::Tensor t = start_ ? start_->take(name, shape).clone()  // a copy: training writes into it
                   : zero ? at::zeros(shape, at::kFloat)
                          : random_.take(name, shape);
    taken_.emplace_back(name, t);
    return t;
  }
  void finish() override {
    if (start_) start_->finish();
  }
  // Every tensor, its name and whether it is trained.
  const std::vector<std::pair<std::string, at::Tensor>>& taken() const { return taken_; }
  std::vector<at::Tensor> trainable() const {
    std::vector<at::Tensor> ps;
    for (const auto& [name, t] : taken_) ps.push_back(t.requires_grad_(true));
    return ps;
  }

 private:
  io::RandomWeights random_;
  std::unique_ptr<io::CheckpointWeights> start_;
  bool adaln_zero_;
  std::vector<std::pair<std::string, at::Tensor>> taken_;
};

// Pictures as [B, 3, S, S] in [−1, 1], drawn in parallel (the renderer is plain C++).
at::Tensor render_batch(std::uint64_t seed, double pattern_scale, std::int64_t first, std::int64_t count, int size,
                        std::vector<std::string>* captions = nullptr) {
  at::Tensor out = at::empty({count, 3, size, size}, at::kFloat);  // [B, 3, S, S]
  std::vector<std::string> caps(static_cast<std::size_t>(count));
  at::parallel_for(0, count, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const shapes::Scene scene = shapes::random_scene(seed, static_cast<std::uint64_t>(first + b), pattern_scale);
      out[b].copy_(image::rgb_to_tensor(shapes::render(scene, size, size))[0]);
      caps[static_cast<std::size_t>(b)] = shapes::caption(scene);
    }
  });
  if (captions) *captions = std::move(caps);
  return out;
}

}  // namespace

at::Tensor object_token_weights(const shapes::Scene& scene, int size, double w) {
  if (size < 16 || size % 16 != 0) throw InvalidArgument("object_token_weights: size must be a multiple of 16");
  // The object alone, white on zeros, drawn as render() draws it: its red channel over white's is each pixel's
  // coverage (to 8 bits).
  RgbImage mask;
  mask.width = mask.height = size;
  mask.rgb8.assign(static_cast<std::size_t>(size) * size * 3, 0);
  shapes::Scene white = scene;
  white.colour = shapes::Colour::White;
  shapes::draw_object(mask, white);
  const at::Tensor cover = image::rgb_to_tensor(mask).narrow(1, 0, 1).add(1).mul(
      127.5 / shapes::rgb_of(shapes::Colour::White).r);                    // [1, 1, S, S] in [0, 1]
  const at::Tensor per_token = at::avg_pool2d(cover, {16, 16}).flatten();  // [L_img], row-major as pack_latent
  const double mean = per_token.mean().item<double>();
  if (w == 0 || mean <= 0) return at::ones_like(per_token);  // no object drawn (radius 0): the plain mean
  return 1.0 + (w / mean) * per_token;                       // [L_img]
}

namespace {

// Linear warm-up over `warmup` steps, then cosine decay to 10 % of `peak` at `total`.
double learning_rate(double peak, int step, int total, int warmup) {
  if (step < warmup) return peak * (step + 1) / warmup;
  const double p = total > warmup ? double(step - warmup) / (total - warmup) : 1.0;
  return peak * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * std::min(1.0, p))));
}

void set_lr(torch::optim::Adam& opt, double lr) {
  for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
}

// OpenBLAS (Debian's pthread build) runs its own threads whatever LibTorch's intra-op count says. While several
// training workers already keep every core busy, its threads only contend with them (a step took 3× longer), so
// this holds it at one thread and gives its count back afterwards. Other BLAS libraries have no such call: nothing
// to do for them.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    set_ = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (!set_ || !get) return;
    before_ = get();
    set_(1);
  }
  ~SingleThreadedBlas() {
    if (set_ && before_ > 0) set_(before_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int before_ = 0;
};

// Runs `work(w)` for w = 1 … n − 1 on threads of their own and `work(0)` on the calling thread, and returns when all
// are done; the first exception (the calling thread's first) is rethrown after every thread has been joined.
void run_on_workers(int n, const std::function<void(int)>& work) {
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
  std::vector<std::thread> threads;
  for (int w = 1; w < n; ++w)
    threads.emplace_back([&, w] {
      try {
        at::init_num_threads();  // this thread's intra-op count from the process's (1): no nested OpenMP team
        work(w);
      } catch (...) {
        errors[static_cast<std::size_t>(w)] = std::current_exception();
      }
    });
  try {
    work(0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

class LossLog {
 public:
  LossLog(const std::string& path, std::function<void(const std::string&)> log) : log_(std::move(log)), out_(path) {
    if (!out_) throw IoError("cannot write '" + path + "'");
    out_ << "phase,step,loss,lr,seconds\n";
  }
  void flush() { out_.flush(); }
  void say(const std::string& line) {
    if (log_) log_(line);
  }
  // Adds one step's loss; every `every` steps writes the window's mean. Returns the last window's mean.
  double add(const char* phase, int step, double loss, double lr, double seconds, int every) {
    sum_ += loss;
    ++n_;
    if (n_ == every) {
      last_ = sum_ / n_;
      out_ << phase << ',' << step << ',' << last_ << ',' << lr << ',' << seconds << '\n';
      out_.flush();
      char buf[160];
      std::snprintf(buf, sizeof(buf), "%s step %d: loss %.5f, lr %.2e, %.0f s", phase, step, last_, lr, seconds);
      say(buf);
      sum_ = 0;
      n_ = 0;
    }
    return last_;
  }

 private:
  std::function<void(const std::string&)> log_;
  std::ofstream out_;
  double sum_ = 0, last_ = 0;
  int n_ = 0;
};

}  // namespace

TrainingReport train_demo(const DemoTrainingOptions& o, const std::function<void(const std::string&)>& log) {
  o.validate();
  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (ec) throw IoError("cannot create '" + o.output_dir + "': " + ec.message());
  TrainingReport report;
  report.weights_path = (fs::path(o.output_dir) / "demo.safetensors").string();
  report.loss_path = (fs::path(o.output_dir) / "loss.csv").string();
  LossLog losses(report.loss_path, log);
  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  const std::uint64_t vae_data_seed = o.seed * 1000 + 1, flux_data_seed = o.seed * 1000 + 2;
  const std::uint64_t held_out_seed = o.seed * 1000 + 3, decoder_data_seed = o.seed * 1000 + 5;

  // A weights file to start from: --continue keeps its autoencoder and trains its text encoders and transformer
  // further; --vae-from keeps only its autoencoder.
  std::shared_ptr<const io::TensorStore> start;
  const std::string& start_path = o.continue_from.empty() ? o.vae_from : o.continue_from;
  if (!start_path.empty()) {
    start = io::TensorStore::open(start_path);
    losses.say(o.continue_from.empty()
                   ? "autoencoder from " + start_path + "; text encoders and transformer trained from scratch"
                   : "continuing from " + start_path +
                         ": autoencoder kept, text encoders and transformer trained further");
  }
  const bool continuing = !o.continue_from.empty();
  // The transformer's size: the file's when continuing (an explicit different one is refused), else the option's.
  DemoTransformerShape shape = o.shape.value_or(DemoTransformerShape{});
  if (continuing) {
    const DemoTransformerShape file_shape = demo_transformer_shape(start->files().front()->metadata());
    if (o.shape && !(*o.shape == file_shape))
      throw InvalidArgument("--continue " + start_path +
                            ": the file's transformer has another size than the one asked for (leave out "
                            "--hidden/--heads/--double/--single/--theta to keep the file's)");
    shape = file_shape;
  }
  const flux::FluxConfig flux_config = trained_demo_flux_config(shape);

  // Text encoders: the demo's tokenizers and architecture, starting from its random initialisation (same seeds as
  // make_demo_text) or from the file continued; recorded for saving.
  PipelineComponents text;
  make_demo_text(text, at::kFloat, at::kCPU);
  RecordingWeights clip_w =
      continuing ? RecordingWeights(start, kDemoClipPrefix) : RecordingWeights(kDemoSeed + 1, false);
  RecordingWeights t5_w = continuing ? RecordingWeights(start, kDemoT5Prefix) : RecordingWeights(kDemoSeed + 2, false);
  text.clip = text::ClipTextModel(text.clip->config(), clip_w);
  text.t5 = text::T5Encoder(text.t5->config(), t5_w);
  clip_w.finish();
  t5_w.finish();

  // 1. Autoencoder (kept as it is when starting from a weights file).
  at::set_num_threads(o.vae_threads);
  RecordingWeights vae_w = start ? RecordingWeights(start, kDemoVaePrefix) : RecordingWeights(kDemoSeed + 14, false);
  vae::AutoEncoderConfig vc = trained_demo_vae_config();
  vae::AutoEncoder ae(vae_w, vc);
  vae_w.finish();
  // The autoencoder's pictures for `step`: whole pictures, cycling through sizes (see the header); larger sizes get
  // fewer pictures, so that every step costs about the same. `next` counts the data set's pictures used so far.
  auto vae_pictures = [&](std::uint64_t data_seed, int step, std::int64_t& next) {
    const int size = o.vae_sizes[static_cast<std::size_t>(step) % o.vae_sizes.size()];
    const int small = o.vae_sizes.front();
    const std::int64_t batch = std::max<std::int64_t>(1, o.vae_batch * small * small / (size * size));
    const at::Tensor x = render_batch(data_seed, o.pattern_scale, next, batch, size);  // [B, 3, S, S]
    next += batch;
    return x;
  };
  auto reconstruction_loss = [](const at::Tensor& rec, const at::Tensor& x) {
    return (rec - x).abs().mean() + (rec - x).pow(2).mean();
  };
  if (!start) {
    const auto t0 = Clock::now();
    torch::optim::Adam opt(vae_w.trainable(), torch::optim::AdamOptions(o.vae_lr));
    std::int64_t next_picture = 0;
    for (int step = 0; step < o.vae_steps; ++step) {
      const double lr = learning_rate(o.vae_lr, step, o.vae_steps, 100);
      set_lr(opt, lr);
      const at::Tensor x = vae_pictures(vae_data_seed, step, next_picture);  // [B, 3, S, S]
      opt.zero_grad();
      const at::Tensor moments = ae->encoder()->forward(x);  // [B, 2z, c/8, c/8]
      const auto parts = moments.chunk(2, 1);
      const at::Tensor mean = parts[0], logvar = parts[1].clamp(-30.0, 20.0);
      const at::Tensor z = mean + (0.5 * logvar).exp() * at::randn(mean.sizes(), gen, at::kFloat);
      const at::Tensor rec = ae->decoder()->forward(z);  // [B, 3, c, c]
      const at::Tensor kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean();
      const at::Tensor loss = reconstruction_loss(rec, x) + 1e-6 * kl;
      loss.backward();
      opt.step();
      losses.add("autoencoder", step + 1, loss.item<double>(), lr, seconds_since(t0), o.log_every);
    }
    report.seconds_vae = seconds_since(t0);
  }
  for (const auto& [name, t] : vae_w.taken()) t.requires_grad_(false);
  // 1b. The decoder alone on the encoder's means (header): the autoencoder's blur, not the transformer, was what
  // kept rings and stripes from the scorer (bench/NOTES.md).
  if (o.decoder_steps > 0) {
    const auto t0 = Clock::now();
    std::vector<at::Tensor> decoder_params;
    for (const auto& [name, t] : vae_w.taken())
      if (name.rfind("decoder.", 0) == 0) decoder_params.push_back(t.requires_grad_(true));
    torch::optim::Adam opt(decoder_params, torch::optim::AdamOptions(o.vae_lr));
    std::int64_t next_picture = 0;
    for (int step = 0; step < o.decoder_steps; ++step) {
      const double lr = learning_rate(o.vae_lr, step, o.decoder_steps, 100);
      set_lr(opt, lr);
      const at::Tensor x = vae_pictures(decoder_data_seed, step, next_picture);  // [B, 3, S, S]
      at::Tensor mean;
      {
        at::NoGradGuard no_grad;
        mean = ae->encoder()->forward(x).narrow(1, 0, vc.z_channels);  // [B, z, S/8, S/8]
      }
      opt.zero_grad();
      const at::Tensor loss = reconstruction_loss(ae->decoder()->forward(mean), x);
      loss.backward();
      opt.step();
      losses.add("decoder", o.vae_steps + step + 1, loss.item<double>(), lr, seconds_since(t0), o.log_every);
    }
    for (const at::Tensor& t : decoder_params) t.requires_grad_(false);
    report.seconds_decoder = seconds_since(t0);
  }

  // 2. Latent statistics and the transformer's data: latents (the encoder's means) and caption tokens.
  const auto t1 = Clock::now();
  const int t5_len = kTrainedDemoT5Length;
  const std::int64_t lat = o.resolution / 8;
  at::Tensor latents = at::empty({o.pictures, vc.z_channels, lat, lat}, at::kFloat);  // [N, 16, S/8, S/8]
  at::Tensor t5_ids = at::empty({o.pictures, t5_len}, at::kLong);                     // [N, L_txt]
  at::Tensor clip_ids = at::empty({o.pictures, kClipLength}, at::kLong);              // [N, 77]
  at::Tensor object_weights;  // [N, L_img] with --object-weight, else undefined (the plain mean)
  // A caption's tokens into row `row` of a T5 and a CLIP token table, as the pipeline tokenizes prompts.
  auto tokenize = [&](const std::string& caption, at::Tensor t5_table, at::Tensor clip_table, std::int64_t row) {
    t5_table[row].copy_(text.t5_tokenizer->encode_tensor(caption, t5_len)[0]);
    clip_table[row].copy_(text.clip_tokenizer->encode_tensor(caption, kClipLength)[0]);
  };
  // The caption check's altered captions of the first pictures: the object at another place ("place moved"), and
  // in another colour that still stands out from the background ("colour changed").
  const std::int64_t n_check = std::min<std::int64_t>(o.pictures, 64);
  at::Tensor t5_moved = at::empty({n_check, t5_len}, at::kLong);            // [n, L_txt]
  at::Tensor clip_moved = at::empty({n_check, kClipLength}, at::kLong);     // [n, 77]
  at::Tensor t5_recolour = at::empty({n_check, t5_len}, at::kLong);         // [n, L_txt]
  at::Tensor clip_recolour = at::empty({n_check, kClipLength}, at::kLong);  // [n, 77]
  for (std::int64_t i = 0; i < n_check; ++i) {
    const shapes::Scene scene = shapes::random_scene(flux_data_seed, static_cast<std::uint64_t>(i), o.pattern_scale);
    shapes::Scene moved = scene;
    moved.place = static_cast<shapes::Place>((static_cast<int>(scene.place) + 4) % shapes::kPlaceCount);
    tokenize(shapes::caption(moved), t5_moved, clip_moved, i);
    shapes::Scene recoloured = scene;
    for (int k = 1; k < shapes::kColourCount; ++k) {
      recoloured.colour = static_cast<shapes::Colour>((static_cast<int>(scene.colour) + k) % shapes::kColourCount);
      if (shapes::is_distinguishable(recoloured)) break;
    }
    tokenize(shapes::caption(recoloured), t5_recolour, clip_recolour, i);
  }
  {
    at::NoGradGuard no_grad;
    losses.say("encoding " + std::to_string(o.pictures) + " pictures and captions");
    const std::int64_t chunk = 32;
    double s_render = 0, s_encode = 0, s_text = 0;
    for (std::int64_t first = 0; first < o.pictures; first += chunk) {
      const std::int64_t n = std::min<std::int64_t>(chunk, o.pictures - first);
      std::vector<std::string> caps;
      auto tp = Clock::now();
      const at::Tensor x =
          render_batch(flux_data_seed, o.pattern_scale, first, n, o.resolution, &caps);  // [n, 3, S, S]
      s_render += seconds_since(tp);
      tp = Clock::now();
      latents.narrow(0, first, n).copy_(ae->encoder()->forward(x).narrow(1, 0, vc.z_channels));
      s_encode += seconds_since(tp);
      tp = Clock::now();
      for (std::int64_t i = 0; i < n; ++i) tokenize(caps[static_cast<std::size_t>(i)], t5_ids, clip_ids, first + i);
      s_text += seconds_since(tp);
    }
    char times[160];
    std::snprintf(times, sizeof(times),
                  "encoded: pictures drawn in %.0f s, encoded in %.0f s, captions tokenized in %.0f s", s_render,
                  s_encode, s_text);
    losses.say(times);
    if (o.object_weight > 0) {
      // --object-weight: each picture's per-token loss weights, from its scene (the same draws as its picture).
      object_weights = at::empty({o.pictures, (lat / 2) * (lat / 2)}, at::kFloat);  // [N, L_img]
      at::parallel_for(0, o.pictures, 64, [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i)
          object_weights[i].copy_(
              object_token_weights(shapes::random_scene(flux_data_seed, static_cast<std::uint64_t>(i), o.pattern_scale),
                                   o.resolution, o.object_weight));
      });
    }
    report.vae_shift = latents.mean().item<double>();
    report.vae_scale = 1.0 / latents.std().item<double>();
    latents.sub_(report.vae_shift).mul_(report.vae_scale);  // FLUX latent space: scale · (mean − shift)
    vc.scale_factor = report.vae_scale;
    vc.shift_factor = report.vae_shift;

    // Reconstruction of held-out whole pictures through the latent space the transformer will produce: PSNR over
    // the first 16 (the figure earlier runs report), the scorer over all 64 — the best a transformer whose pictures
    // this decoder draws can score.
    std::vector<std::string> held_out_captions;
    const at::Tensor x =
        render_batch(held_out_seed, o.pattern_scale, 0, 64, o.resolution, &held_out_captions);  // [64, 3, S, S]
    const at::Tensor mean = ae->encoder()->forward(x).narrow(1, 0, vc.z_channels);
    const at::Tensor rec = ae->decoder()->forward(mean).clamp(-1, 1);                                   // [64, 3, S, S]
    const double mse = (rec.narrow(0, 0, 16) - x.narrow(0, 0, 16)).pow(2).mean().item<double>() / 4.0;  // [0, 1]
    report.vae_psnr = -10.0 * std::log10(std::max(mse, 1e-12));
    report.round_trips = static_cast<int>(held_out_captions.size());
    for (std::size_t i = 0; i < held_out_captions.size(); ++i) {
      const RgbImage im = image::tensor_to_rgb(rec.narrow(0, static_cast<std::int64_t>(i), 1));
      report.round_trips_accepted += shapes::score(im, shapes::parse_caption(held_out_captions[i])).accepted();
    }
    char buf[240];
    std::snprintf(buf, sizeof(buf),
                  "latents: shift %.5f, scale %.5f; held-out reconstruction PSNR %.2f dB, accepted by the scorer "
                  "%d/%d (%.0f s)",
                  report.vae_shift, report.vae_scale, report.vae_psnr, report.round_trips_accepted, report.round_trips,
                  seconds_since(t1));
    losses.say(buf);
  }
  report.seconds_latents = seconds_since(t1);

  // 3. Transformer (and text encoders): rectified flow on the cached latents.
  at::set_num_threads(o.flux_threads);
  RecordingWeights flux_w = continuing ? RecordingWeights(start, kDemoTransformerPrefix)
                                       : RecordingWeights(kDemoSeed + 13, /*adaln_zero=*/true);
  flux::Flux model(flux_config, flux_w);
  flux_w.finish();

  // The whole model as one file: every component under its prefix, the latent statistics in the metadata,
  // `flux_steps_done` as its transformer steps. Written at the end, and every --save-every steps with the EMA so far,
  // so that a run that dies (power, a full disk) leaves its last model behind; the write is atomic (a .part file
  // renamed), so a save cut off midway leaves the previous one whole.
  auto save_weights = [&](int flux_steps_done) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    auto add = [&](const char* prefix, const std::vector<std::pair<std::string, at::Tensor>>& taken) {
      for (const auto& [name, t] : taken) tensors.emplace_back(prefix + name, t.detach());
    };
    add(kDemoTransformerPrefix, flux_w.taken());
    add(kDemoVaePrefix, vae_w.taken());
    add(kDemoClipPrefix, clip_w.taken());
    add(kDemoT5Prefix, t5_w.taken());
    auto num = [](double v) {
      char b[64];
      std::snprintf(b, sizeof(b), "%.9g", v);
      return std::string(b);
    };
    std::map<std::string, std::string> metadata = demo_transformer_metadata(shape);
    metadata.insert({{"format", "dype-demo-1"},
                     {"vae_scale_factor", num(report.vae_scale)},
                     {"vae_shift_factor", num(report.vae_shift)},
                     {"t5_length", std::to_string(t5_len)},
                     {"base_resolution", std::to_string(o.resolution)},
                     {"seed", std::to_string(o.seed)},
                     {"vae_steps", std::to_string(o.vae_steps)},
                     {"decoder_steps", std::to_string(o.decoder_steps)},
                     {"pattern_scale", num(o.pattern_scale)},
                     {"object_weight", num(o.object_weight)},
                     {"flux_steps", std::to_string(flux_steps_done)},
                     {"pictures", std::to_string(o.pictures)},
                     {"final_loss", num(report.final_flux_loss)}});
    io::save_safetensors(report.weights_path, tensors, metadata);
    losses.flush();
  };
  {
    std::vector<at::Tensor> params = flux_w.trainable();
    if (o.train_text)
      for (const RecordingWeights* w : {&clip_w, &t5_w})
        for (const at::Tensor& p : w->trainable()) params.push_back(p);
    // Every row of the position ids is the same, so a batch of b ≤ B pictures (a worker's slice) takes the first b.
    const at::Tensor img_ids = sampling::image_ids(o.flux_batch, lat, lat);  // [B, L_img, 3]
    const at::Tensor txt_ids = sampling::text_ids(o.flux_batch, t5_len);     // [B, L_txt, 3]
    DypeConfig plain;
    plain.method = DypeMethod::None;
    // The loss for captions given as tokens (t5 [b, L_txt], clip [b, 77]); the encoders run every time (frozen, they
    // cost a few percent of a step, and build no graph). With per-token weights ([b, L_img], --object-weight) each
    // picture's weighted mean, then the mean over pictures: a worker's slice of pictures is then exactly its share.
    auto velocity_loss = [&](const at::Tensor& xt, const at::Tensor& t, const at::Tensor& t5, const at::Tensor& clip,
                             const at::Tensor& target, const at::Tensor& weights) {
      const std::int64_t b = xt.size(0);
      const at::Tensor txt = text.t5->forward(t5);           // [b, L_txt, ctx]
      const at::Tensor y = text.clip->forward(clip).pooled;  // [b, vec]
      const at::Tensor pred = model->forward(xt, img_ids.narrow(0, 0, b), txt, txt_ids.narrow(0, 0, b), t, y,
                                             at::Tensor(), plain, 1.0);  // [b, L_img, 64]
      const at::Tensor err = (pred - target).pow(2);                     // [b, L_img, 64]
      if (!weights.defined()) return err.mean();
      const at::Tensor per_token = err.mean(-1);                      // [b, L_img]
      return ((per_token * weights).sum(1) / weights.sum(1)).mean();  // weights [b, L_img]
    };
    // One step's gradients of the batch's mean loss, returned. With --workers N the batch is split into N slices,
    // each forward and backward on its own thread through the same parameters: autograd adds the slices' gradients
    // into the shared .grad (under its lock; with two slices a + b = b + a, so still deterministic), each slice's
    // mean weighted by its share of the batch so that the sum is the whole batch's mean. Same draws, same loss as
    // one worker up to float summation order — and both cores busy on a model too small to use them from one
    // thread (bench/NOTES.md, "Two workers per step").
    auto backward_batch = [&](const at::Tensor& xt, const at::Tensor& t, const at::Tensor& t5, const at::Tensor& clip,
                              const at::Tensor& target, const at::Tensor& weights) {
      const std::int64_t b = xt.size(0);
      std::vector<double> parts(static_cast<std::size_t>(o.flux_workers), 0.0);
      run_on_workers(o.flux_workers, [&](int w) {
        const std::int64_t first = b * w / o.flux_workers, count = b * (w + 1) / o.flux_workers - first;
        auto slice = [&](const at::Tensor& x) { return x.defined() ? x.narrow(0, first, count) : x; };
        const at::Tensor part =
            velocity_loss(slice(xt), slice(t), slice(t5), slice(clip), slice(target), slice(weights)) *
            (double(count) / double(b));
        part.backward();
        parts[static_cast<std::size_t>(w)] = part.item<double>();
      });
      double loss = 0;
      for (double p : parts) loss += p;
      return loss;
    };

    // Does the model use its captions? The loss at a few t on the first pictures with their own captions, with the
    // same captions naming another place, and with the captions rolled by one picture: a model that follows its
    // captions does clearly worse with wrong ones (most of all at high t, where the picture is still mostly noise),
    // and one that reads the place words does worse when only the place is wrong. Its own generator, the same noise
    // at every check, so that checks during training compare with each other and leave training's draws alone.
    auto caption_check = [&](const std::string& when) {
      at::NoGradGuard no_grad;
      at::Generator check_gen = at::detail::createCPUGenerator(o.seed * 1000 + 4);
      const std::int64_t n = std::min<std::int64_t>(o.pictures - o.pictures % o.flux_batch, 64);
      // Each variant: the T5 and CLIP tokens of the batch starting at `first` (indices idx, others' = idx + 1).
      // "T5 only" gives the model another picture's CLIP caption, "CLIP only" another picture's T5 caption: which of
      // the two paths (T5 tokens through attention, CLIP's pooled vector through modulation) the model reads.
      using Tokens = std::pair<at::Tensor, at::Tensor>;
      const std::vector<
          std::pair<const char*, std::function<Tokens(std::int64_t, const at::Tensor&, const at::Tensor&)>>>
          variants = {
              {"own",
               [&](std::int64_t, const at::Tensor& i, const at::Tensor&) -> Tokens {
                 return {t5_ids.index_select(0, i), clip_ids.index_select(0, i)};
               }},
              {"place moved",
               [&](std::int64_t f, const at::Tensor&, const at::Tensor&) -> Tokens {
                 return {t5_moved.narrow(0, f, o.flux_batch), clip_moved.narrow(0, f, o.flux_batch)};
               }},
              {"colour changed",
               [&](std::int64_t f, const at::Tensor&, const at::Tensor&) -> Tokens {
                 return {t5_recolour.narrow(0, f, o.flux_batch), clip_recolour.narrow(0, f, o.flux_batch)};
               }},
              {"T5 only",
               [&](std::int64_t, const at::Tensor& i, const at::Tensor& other) -> Tokens {
                 return {t5_ids.index_select(0, i), clip_ids.index_select(0, other)};
               }},
              {"CLIP only",
               [&](std::int64_t, const at::Tensor& i, const at::Tensor& other) -> Tokens {
                 return {t5_ids.index_select(0, other), clip_ids.index_select(0, i)};
               }},
              {"others'",
               [&](std::int64_t, const at::Tensor&, const at::Tensor& other) -> Tokens {
                 return {t5_ids.index_select(0, other), clip_ids.index_select(0, other)};
               }},
          };
      std::string line = "caption check " + when + " (loss with";
      for (std::size_t v = 0; v < variants.size(); ++v) line += std::string(v == 0 ? " " : " / ") + variants[v].first;
      line += " captions):";
      for (double tv : {0.5, 0.9, 0.98}) {
        std::vector<double> sums(variants.size(), 0.0);
        for (std::int64_t first = 0; first + o.flux_batch <= n; first += o.flux_batch) {
          const at::Tensor idx = at::arange(first, first + o.flux_batch, at::kLong);
          const at::Tensor x0 = sampling::pack_latent(latents.index_select(0, idx));  // [B, L_img, 64]
          const at::Tensor noise = at::randn(x0.sizes(), check_gen, at::kFloat);
          const at::Tensor t = at::full({o.flux_batch}, tv, at::kFloat);
          const at::Tensor xt = (1 - tv) * x0 + tv * noise;
          const at::Tensor other = (idx + 1) % o.pictures;
          for (std::size_t v = 0; v < variants.size(); ++v) {
            const Tokens tok = variants[v].second(first, idx, other);
            sums[v] += velocity_loss(xt, t, tok.first, tok.second, noise - x0, at::Tensor()).item<double>();
          }
        }
        const double batches = double(n / o.flux_batch);
        char buf[32];
        std::snprintf(buf, sizeof(buf), " t %.2f:", tv);
        line += buf;
        for (std::size_t v = 0; v < sums.size(); ++v) {
          std::snprintf(buf, sizeof(buf), "%s %.4f", v == 0 ? "" : " /", sums[v] / batches);
          line += buf;
        }
        line += ';';
      }
      line.pop_back();
      losses.say(line);
    };

    // --clip-dropout: the empty caption's CLIP tokens in place of a share of the batch's, so that the model cannot
    // take everything from CLIP's pooled vector (which modulates every token alike and so cannot say where) and must
    // read the T5 tokens through attention — the only path on which a place word can reach the right tokens.
    const at::Tensor clip_empty = text.clip_tokenizer->encode_tensor("", kClipLength);  // [1, 77]
    const auto t0 = Clock::now();
    std::vector<at::Tensor> ema;
    for (const auto& p : params) ema.push_back(p.detach().clone());
    torch::optim::Adam opt(params, torch::optim::AdamOptions(o.flux_lr));
    std::optional<SingleThreadedBlas> blas_one;
    if (o.flux_workers > 1) blas_one.emplace();
    for (int step = 0; step < o.flux_steps; ++step) {
      const double lr = learning_rate(o.flux_lr, step, o.flux_steps, 250);
      set_lr(opt, lr);
      const at::Tensor idx = at::randint(o.pictures, {o.flux_batch}, gen, at::kLong);
      const at::Tensor x0 = sampling::pack_latent(latents.index_select(0, idx));  // [B, L_img, 64]
      const at::Tensor noise = at::randn(x0.sizes(), gen, at::kFloat);            // [B, L_img, 64]
      // t: logit-normal (FLUX / SD3) for a share of the batch, uniform for the rest — logit-normal alone rarely
      // draws t > 0.9, and a sampler starting from pure noise needs the model there (it decides the composition).
      const at::Tensor logit_normal = at::sigmoid(at::randn({o.flux_batch}, gen, at::kFloat));  // [B]
      const at::Tensor uniform = at::rand({o.flux_batch}, gen, at::kFloat);                     // [B]
      const at::Tensor pick = at::rand({o.flux_batch}, gen, at::kFloat) < o.uniform_t_share;
      const at::Tensor t = at::where(pick, uniform, logit_normal);
      const at::Tensor tt = t.view({o.flux_batch, 1, 1});
      const at::Tensor xt = (1 - tt) * x0 + tt * noise;
      at::Tensor clip = clip_ids.index_select(0, idx);  // [B, 77]
      if (o.clip_dropout > 0) {
        const at::Tensor drop = (at::rand({o.flux_batch}, gen, at::kFloat) < o.clip_dropout).view({-1, 1});  // [B, 1]
        clip = at::where(drop, clip_empty.expand_as(clip), clip);
      }
      opt.zero_grad();
      const at::Tensor weights = object_weights.defined() ? object_weights.index_select(0, idx) : at::Tensor();
      const double loss = backward_batch(xt, t, t5_ids.index_select(0, idx), clip, noise - x0, weights);
      torch::nn::utils::clip_grad_norm_(params, 1.0);
      opt.step();
      {
        at::NoGradGuard no_grad;
        // EMA with a short warm-up (the first steps would otherwise weigh the random start for thousands of steps).
        const double d = std::min(o.ema_decay, (1.0 + step) / (10.0 + step));
        for (std::size_t i = 0; i < params.size(); ++i) ema[i].mul_(d).add_(params[i].detach(), 1.0 - d);
      }
      report.final_flux_loss = losses.add("transformer", step + 1, loss, lr, seconds_since(t0), o.log_every);
      if (o.check_every > 0 && (step + 1) % o.check_every == 0 && step + 1 < o.flux_steps)
        caption_check("at step " + std::to_string(step + 1));
      if (o.save_every > 0 && (step + 1) % o.save_every == 0 && step + 1 < o.flux_steps) {
        // The EMA goes into the parameters for the write (what the end of the run saves) and back out after it.
        at::NoGradGuard no_grad;
        std::vector<at::Tensor> live;
        for (std::size_t i = 0; i < params.size(); ++i) {
          live.push_back(params[i].detach().clone());
          params[i].detach().copy_(ema[i]);
        }
        save_weights(step + 1);
        for (std::size_t i = 0; i < params.size(); ++i) params[i].detach().copy_(live[i]);
        losses.say("saved the EMA weights of step " + std::to_string(step + 1) + " to " + report.weights_path);
      }
    }
    report.seconds_flux = seconds_since(t0);
    blas_one.reset();
    at::NoGradGuard no_grad;
    if (o.flux_steps > 0)
      for (std::size_t i = 0; i < params.size(); ++i) params[i].detach().copy_(ema[i]);
    caption_check("of the saved (EMA) weights");
  }

  // 4. One file: every component under its prefix, the latent statistics in the metadata.
  save_weights(o.flux_steps);
  losses.flush();
  report.plot_path = (fs::path(o.output_dir) / "loss.png").string();
  image::write_png(report.plot_path, plot_losses(read_loss_csv(report.loss_path)), 8);
  losses.say("wrote " + report.weights_path + ", " + report.loss_path + " and " + report.plot_path);
  return report;
}

}  // namespace dype::train
