// `dype train-demo`: trains the built-in demo model (core/train/demo_trainer.h) and writes its weights file. The
// committed resources/demo/trained/demo.safetensors comes from this command with its defaults (README: "The demo
// model"); run on a GPU-less 2-core machine it takes about two hours.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/common/cpu_allocator.h"
#include "core/common/error.h"
#include "core/image/png_export.h"
#include "core/train/demo_trainer.h"
#include "core/train/loss_plot.h"

namespace dype::cli {

namespace {

const char* kHelp =
    "usage: dype train-demo --output DIR [options]\n\n"
    "Trains the demo model from nothing on the procedural captioned shapes (dype shapes): the autoencoder on whole\n"
    "pictures, then the FLUX transformer and the text encoders by rectified flow at the base resolution. Writes "
    "DIR/demo.safetensors (load it with\n"
    "--model demo --demo-weights FILE, or copy it to resources/demo/trained/ and rebuild to make it the default)\n"
    "and DIR/loss.csv, DIR/loss.png. Deterministic for a seed and thread counts.\n"
    "       dype train-demo --plot DIR/loss.csv      draws DIR/loss.png from a loss log again\n\n"
    "  --seed N            data and initialisation seed (default 1)\n"
    "  --resolution PX     base resolution of the pictures (default 128)\n"
    "  --pattern-scale X   stripe and dot periods × X (default 1: 0.08–0.16 of the side), in every phase\n"
    "  --vae-steps N       autoencoder steps (default 3000), --vae-lr X (5e-4), --vae-batch N (pictures per step at\n"
    "                      the first size, 2), --vae-sizes A,B (whole-picture sizes cycled through, 128,256)\n"
    "  --decoder-steps N   then the decoder alone N steps on the encoder's latent means (default 0): sharper\n"
    "                      pictures, the latent space unchanged (also with --continue FILE --steps 0)\n"
    "  --pictures N        cached training pictures for the transformer (default 16384)\n"
    "  --steps N           transformer steps (default 30000), --batch N (8), --lr X (5e-4), --ema X (0.999)\n"
    "  --uniform-t X       share of t drawn uniformly, the rest logit-normal (default 0.5)\n"
    "  --clip-dropout X    share of samples trained with the empty caption's CLIP tokens, so that the words\n"
    "                      must be read from T5 (default 0)\n"
    "  --object-weight X   extra flow-loss weight on the tokens the object covers: X pictures' worth spread over\n"
    "                      them whatever the object's size, so a small object counts (default 0: the plain mean)\n"
    "  --continue FILE     keep FILE's autoencoder, train its text encoders and transformer further\n"
    "  --vae-from FILE     keep FILE's autoencoder, train text encoders and transformer from scratch\n"
    "  --frozen-text       keep the text encoders at their random initialisation (the first recipe)\n"
    "  --hidden N          transformer width (default 128), --heads N (2; head size a multiple of 32),\n"
    "                      --double N (2) and --single N (4) blocks, --theta X (RoPE base, 10000);\n"
    "                      written into the file's metadata\n"
    "  --check-every N     caption check every N transformer steps (default 2000; 0: at the end only)\n"
    "  --save-every N      write DIR/demo.safetensors (the EMA weights so far) every N transformer steps, so that\n"
    "                      a run that dies leaves a model (default 5000; 0: at the end only)\n"
    "  --vae-threads N     threads for the autoencoder phase (default 2); --threads N for the transformer (1)\n"
    "  --workers N         split each transformer batch over N threads (default 1; 2 on a 2-core machine: faster,\n"
    "                      the same draws, sums in another order)\n"
    "  --log-every N       loss window (default 500)\n";

}  // namespace

int cmd_train_demo(int argc, char** argv) {
  const Args a(argc, argv, 2, {"help", "frozen-text"});
  if (a.has("help")) {
    std::cout << kHelp;
    return 0;
  }
  if (!a.positional().empty())
    throw InvalidArgument("unexpected argument '" + a.positional().front() + "' (see --help)");
  if (auto csv = a.get("plot")) {
    a.allow_only({"plot"});
    const std::string png = (std::filesystem::path(*csv).parent_path() / "loss.png").string();
    image::write_png(png, train::plot_losses(train::read_loss_csv(*csv)), 8);
    std::printf("wrote %s\n", png.c_str());
    return 0;
  }
  a.allow_only(
      {"output",        "seed",        "resolution",  "vae-steps",    "vae-batch", "vae-sizes",    "vae-lr",
       "pictures",      "steps",       "batch",       "lr",           "ema",       "uniform-t",    "continue",
       "vae-from",      "frozen-text", "check-every", "vae-threads",  "threads",   "log-every",    "help",
       "hidden",        "heads",       "double",      "single",       "theta",     "clip-dropout", "decoder-steps",
       "pattern-scale", "workers",     "save-every",  "object-weight"});
  train::DemoTrainingOptions o;
  o.output_dir = a.get_or("output", "");
  const long long seed = a.get_int("seed", 1);
  if (seed < 0) throw InvalidArgument("--seed must be ≥ 0");
  o.seed = static_cast<std::uint64_t>(seed);
  auto i = [&](const char* name, int def) {
    const long long v = a.get_int(name, def);
    if (v < -1'000'000'000LL || v > 1'000'000'000LL)
      throw InvalidArgument(std::string("--") + name + " is out of range");
    return static_cast<int>(v);
  };
  o.resolution = i("resolution", o.resolution);
  o.pattern_scale = a.get_double("pattern-scale", o.pattern_scale);
  o.vae_steps = i("vae-steps", o.vae_steps);
  o.vae_batch = i("vae-batch", o.vae_batch);
  if (auto sizes = a.get("vae-sizes")) {
    o.vae_sizes.clear();
    std::stringstream ss(*sizes);
    for (std::string item; std::getline(ss, item, ',');) {
      try {
        o.vae_sizes.push_back(std::stoi(item));
      } catch (const std::exception&) {
        throw InvalidArgument("--vae-sizes expects sizes like 64,128,256, got '" + *sizes + "'");
      }
    }
  }
  o.vae_lr = a.get_double("vae-lr", o.vae_lr);
  o.decoder_steps = i("decoder-steps", o.decoder_steps);
  o.pictures = i("pictures", o.pictures);
  o.flux_steps = i("steps", o.flux_steps);
  o.flux_batch = i("batch", o.flux_batch);
  o.flux_lr = a.get_double("lr", o.flux_lr);
  o.ema_decay = a.get_double("ema", o.ema_decay);
  o.uniform_t_share = a.get_double("uniform-t", o.uniform_t_share);
  o.clip_dropout = a.get_double("clip-dropout", o.clip_dropout);
  o.object_weight = a.get_double("object-weight", o.object_weight);
  o.continue_from = a.get_or("continue", "");
  o.vae_from = a.get_or("vae-from", "");
  o.train_text = !a.has("frozen-text");
  if (a.has("hidden") || a.has("heads") || a.has("double") || a.has("single") || a.has("theta")) {
    DemoTransformerShape shape;
    shape.hidden_size = i("hidden", shape.hidden_size);
    shape.num_heads = i("heads", shape.num_heads);
    shape.depth = i("double", shape.depth);
    shape.depth_single_blocks = i("single", shape.depth_single_blocks);
    shape.theta = a.get_double("theta", shape.theta);
    o.shape = shape;
  }
  o.check_every = i("check-every", o.check_every);
  o.save_every = i("save-every", o.save_every);
  o.vae_threads = i("vae-threads", o.vae_threads);
  o.flux_threads = i("threads", o.flux_threads);
  o.flux_workers = i("workers", o.flux_workers);
  o.log_every = i("log-every", o.log_every);
  tune_allocator_for_large_tensors();  // training allocates the same large activations every step
  const train::TrainingReport r = train::train_demo(o, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  std::printf(
      "trained: %s (latent scale %.5f, shift %.5f; reconstruction %.2f dB, %d/%d accepted; final loss %.5f); "
      "autoencoder %.0f s, decoder %.0f s, latents %.0f s, transformer %.0f s\n",
      r.weights_path.c_str(), r.vae_scale, r.vae_shift, r.vae_psnr, r.round_trips_accepted, r.round_trips,
      r.final_flux_loss, r.seconds_vae, r.seconds_decoder, r.seconds_latents, r.seconds_flux);
  return 0;
}

}  // namespace dype::cli
