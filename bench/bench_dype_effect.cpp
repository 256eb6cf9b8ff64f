// bench-deps: pipeline shapes image
// bench_dype_effect: what DyPE does for the trained demo model (issue 12). The demo was trained at its base
// resolution only (128 px); here it generates fixed captions (shapes::reference_captions) at 1×, 2× and 4× that
// size per side with each RoPE method, and the shapes scorer (core/shapes/score.h) checks every picture against its
// caption. Prints a table (markdown) and writes a contact sheet: one seed and caption, a row per size, a column per
// method (cells scaled to 256 px).
//
//   bench_dype_effect [--seeds 32] [--captions 8] [--scales 1,2,4] [--methods all|name,name...] [--steps N]
//                     [--sheet FILE.png] [--sheet-seed 0] [--sheet-caption 0] [--csv FILE] [--threads 2]
//                     [--demo-weights FILE] [--pattern-scale X (default: the model's own)]
//
// Methods (rows): none (plain RoPE extrapolation), pi, ntk, yarn (static: full strength at every step),
// dy-pi, dy-ntk, dy-yarn-paper, dy-yarn-comfy, vision-yarn (DyPE: strength κ(t) = λs·t^λt), and the same with the
// resolution-dependent time shift (FLUX dev's rule, clamp) as "+shift" rows: none+shift, dy-yarn-paper+shift.
// At 1× every method is plain RoPE (nothing to extrapolate), so 1× runs once and is reported as "base"; beside it
// the row "autoencoder" scores the caption's own drawing (its look drawn per seed) encoded and decoded by the model's
// autoencoder — the most a transformer decoded by it can score.
// Cells: accepted (colour, exactly one object, its place and the background right), colour found, mean object-count
// error |components − 1|, mean seconds per picture. Prints figures, asserts nothing.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "bench/perf_common.h"
#include "core/common/cpu_allocator.h"
#include "core/image/convert.h"
#include "core/image/png_export.h"
#include "core/image/resize.h"
#include "core/pipeline/demo_model.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/shapes/render.h"
#include "core/shapes/scene.h"
#include "core/shapes/score.h"

using namespace dype;

namespace {

const std::vector<std::string>& kCaptions = shapes::reference_captions();

struct Method {
  std::string name;
  DypeMethod method;
  bool dynamic;
  YarnForm form;
  bool shift;
};

const std::vector<Method> kMethods = {
    {"none", DypeMethod::None, false, YarnForm::Paper, false},
    {"pi", DypeMethod::PI, false, YarnForm::Paper, false},
    {"ntk", DypeMethod::NTK, false, YarnForm::Paper, false},
    {"yarn", DypeMethod::YaRN, false, YarnForm::Paper, false},
    {"dy-pi", DypeMethod::PI, true, YarnForm::Paper, false},
    {"dy-ntk", DypeMethod::NTK, true, YarnForm::Paper, false},
    {"dy-yarn-paper", DypeMethod::YaRN, true, YarnForm::Paper, false},
    {"dy-yarn-comfy", DypeMethod::YaRN, true, YarnForm::Comfy, false},
    {"vision-yarn", DypeMethod::VisionYaRN, true, YarnForm::Paper, false},
    {"none+shift", DypeMethod::None, false, YarnForm::Paper, true},
    {"dy-yarn-paper+shift", DypeMethod::YaRN, true, YarnForm::Paper, true},
};

struct Cell {
  int n = 0, accepted = 0, colour = 0;
  double count_error = 0, seconds = 0;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// Pastes `im` scaled to cell × cell at column `col`, row `row` of `sheet` ([1, 3, H, W] in [−1, 1]).
void paste(at::Tensor& sheet, const RgbImage& im, int row, int col, int cell, int gap) {
  const at::Tensor small = image::resize(image::rgb_to_tensor(im), cell, cell);  // [1, 3, cell, cell]
  sheet.narrow(2, gap + row * (cell + gap), cell).narrow(3, gap + col * (cell + gap), cell).copy_(small);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options o(argc, argv,
                           {"seeds", "captions", "scales", "methods", "steps", "sheet", "sheet-seed", "sheet-caption",
                            "csv", "threads", "demo-weights", "pattern-scale"},
                           {});
    if (o.help()) {
      std::printf(
          "bench_dype_effect [--seeds 32] [--captions 8] [--scales 1,2,4] [--methods all|a,b] [--steps N]\n"
          "                  [--sheet FILE.png] [--sheet-seed 0] [--sheet-caption 0] [--csv FILE] [--threads 2]\n"
          "                  [--demo-weights FILE] [--pattern-scale X (the autoencoder row's patterns; default: the "
          "model's)]\nmethods:");
      for (const Method& m : kMethods) std::printf(" %s", m.name.c_str());
      std::printf("\n");
      return 0;
    }
    at::set_num_threads(static_cast<int>(o.integer("threads", 2)));
    tune_allocator_for_large_tensors();
    const int seeds = static_cast<int>(o.integer("seeds", 32));
    const int ncap = static_cast<int>(o.integer("captions", static_cast<long long>(kCaptions.size())));
    if (seeds < 1 || ncap < 1 || ncap > static_cast<int>(kCaptions.size()))
      throw InvalidArgument("--seeds must be ≥ 1 and --captions 1…" + std::to_string(kCaptions.size()));
    std::vector<int> scales;
    for (const auto& s : split(o.str("scales", "1,2,4"))) scales.push_back(std::stoi(s));
    std::vector<Method> methods;
    const std::string wanted = o.str("methods", "all");
    for (const Method& m : kMethods)
      if (wanted == "all" || ("," + wanted + ",").find("," + m.name + ",") != std::string::npos) methods.push_back(m);
    if (methods.empty()) throw InvalidArgument("--methods names none of the methods (see --help)");

    ModelPaths paths;
    paths.model = kDemoModel;
    paths.demo_weights = o.str("demo-weights");
    LoadOptions lo;
    lo.max_pixels = 16384ull * 16384ull;
    auto pipe = FluxPipeline::load(paths, lo);
    const int base = pipe->base_resolution();
    const int steps = static_cast<int>(o.integer("steps", pipe->default_steps()));
    std::printf("bench_dype_effect: %s, base %d px, %d steps, %d seeds × %d captions, %d threads\n",
                pipe->label().c_str(), base, steps, seeds, ncap, at::get_num_threads());

    const int sheet_seed = static_cast<int>(o.integer("sheet-seed", 0));
    const int sheet_caption = static_cast<int>(o.integer("sheet-caption", 0));
    const int cell = 256, gap = 8;
    at::Tensor sheet = at::ones({1, 3, gap + static_cast<int>(scales.size()) * (cell + gap),
                                 gap + static_cast<int>(methods.size()) * (cell + gap)});  // white
    std::map<std::pair<int, std::string>, Cell> table;                                     // (scale, method)
    std::ofstream csv;
    if (o.has("csv")) {
      csv.open(o.str("csv"));
      csv << "scale,method,caption,seed,accepted,colour_ok,count_ok,place_ok,background_ok,objects,seconds\n";
    }
    // One scored picture into its table cell and the CSV.
    auto record = [&](Cell& c, int scale, const std::string& row, int ci, int seed, const shapes::Score& s,
                      double sec) {
      ++c.n;
      c.accepted += s.accepted();
      c.colour += s.colour_ok;
      c.count_error += s.count_error();
      c.seconds += sec;
      if (csv.is_open())
        csv << scale << ',' << row << ",\"" << kCaptions[ci] << "\"," << seed << ',' << s.accepted() << ','
            << s.colour_ok << ',' << s.count_ok << ',' << s.place_ok << ',' << s.background_ok << ',' << s.components
            << ',' << sec << '\n';
    };
    if (std::find(scales.begin(), scales.end(), 1) != scales.end()) {
      PipelineComponents parts = load_trained_demo_components(at::kCPU, at::kFloat, at::kCPU, paths.demo_weights);
      Cell& c = table[{1, "autoencoder"}];
      // The look's stripe / dot period (scene.h): by default the one the model was trained on.
      const double pattern_scale = o.real("pattern-scale", trained_demo_pattern_scale(paths.demo_weights));
      at::NoGradGuard no_grad;
      for (int ci = 0; ci < ncap; ++ci) {
        for (int seed = 0; seed < seeds; ++seed) {
          shapes::Scene scene = shapes::parse_caption(kCaptions[ci]);
          scene.look =
              shapes::random_scene(static_cast<std::uint64_t>(seed), static_cast<std::uint64_t>(ci), pattern_scale)
                  .look;
          const auto t0 = std::chrono::steady_clock::now();
          const at::Tensor x = image::rgb_to_tensor(shapes::render(scene, base, base));  // [1, 3, S, S]
          const RgbImage back = image::tensor_to_rgb(parts.vae->decode(parts.vae->encode(x)).clamp(-1, 1));
          const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          record(c, 1, "autoencoder", ci, seed, shapes::score(back, scene), sec);
        }
      }
      std::fprintf(stderr, "  1× %-20s accepted %d/%d\n", "autoencoder", c.accepted, c.n);
    }
    for (std::size_t si = 0; si < scales.size(); ++si) {
      const int scale = scales[si];
      for (const Method& m : methods) {
        const bool base_row = scale == 1;
        if (base_row && &m != &methods.front()) continue;  // 1×: plain RoPE whatever the method
        Cell& c = table[{scale, base_row ? std::string("base") : m.name}];
        for (int ci = 0; ci < ncap; ++ci) {
          for (int seed = 0; seed < seeds; ++seed) {
            GenerationRequest r;
            r.prompt = kCaptions[ci];
            r.width = r.height = base * scale;
            r.steps = steps;
            r.seed = static_cast<std::uint64_t>(seed);
            r.preview_every = 0;
            r.dype.method = m.method;
            r.dype.dynamic = m.dynamic;
            r.dype.yarn_form = m.form;
            r.dype.base_resolution = base;
            r.shift = m.shift ? ShiftPolicy::Clamp : ShiftPolicy::Auto;
            const auto t0 = std::chrono::steady_clock::now();
            const GenerationResult res = pipe->generate(r);
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            record(c, scale, base_row ? "base" : m.name, ci, seed,
                   shapes::score(res.image, shapes::parse_caption(kCaptions[ci])), sec);
            if (seed == sheet_seed && ci == sheet_caption) {
              if (base_row) {
                for (std::size_t col = 0; col < methods.size(); ++col)
                  paste(sheet, res.image, static_cast<int>(si), static_cast<int>(col), cell, gap);
              } else {
                paste(sheet, res.image, static_cast<int>(si), static_cast<int>(&m - &methods.front()), cell, gap);
              }
            }
          }
        }
        const std::string name = base_row ? "base" : m.name;
        std::fprintf(stderr, "  %d× %-20s accepted %d/%d, %.1f s per picture\n", scale, name.c_str(), c.accepted, c.n,
                     c.seconds / c.n);
      }
    }

    std::printf("\n| size | method | accepted | colour found | mean count error | s / picture |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (int scale : scales) {
      if (auto it = table.find({scale, "autoencoder"}); it != table.end()) {
        const Cell& c = it->second;
        std::printf("| %d² (%d×) | autoencoder round trip | %.0f %% (%d/%d) | %.0f %% | %.2f | %.2f |\n", base, scale,
                    100.0 * c.accepted / c.n, c.accepted, c.n, 100.0 * c.colour / c.n, c.count_error / c.n,
                    c.seconds / c.n);
      }
      for (const Method& m : methods) {
        const std::string name = scale == 1 ? "base" : m.name;
        auto it = table.find({scale, name});
        if (it == table.end() || (scale == 1 && &m != &methods.front())) continue;
        const Cell& c = it->second;
        std::printf("| %d² (%d×) | %s | %.0f %% (%d/%d) | %.0f %% | %.2f | %.1f |\n", base * scale, scale, name.c_str(),
                    100.0 * c.accepted / c.n, c.accepted, c.n, 100.0 * c.colour / c.n, c.count_error / c.n,
                    c.seconds / c.n);
      }
    }
    if (o.has("sheet")) {
      image::write_png(o.str("sheet"), image::tensor_to_rgb(sheet), 8);
      std::printf("\ncontact sheet: %s (seed %d, \"%s\"; rows:", o.str("sheet").c_str(), sheet_seed,
                  kCaptions[sheet_caption].c_str());
      for (int s : scales) std::printf(" %d²", base * s);
      std::printf("; columns:");
      for (const Method& m : methods) std::printf(" %s", m.name.c_str());
      std::printf(")\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dype_effect: %s\n", e.what());
    return 1;
  }
}
