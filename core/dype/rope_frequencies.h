#pragma once
// DyPE frequency maths: pure, cheap functions of (method, schedule knobs, geometry, t). The model's RoPE, the
// GUI's frequency plot and `dype schedule` all call these, so the plot shows exactly what the model uses.
// Specification: ../shared/reference/DYPE.md (§2 formulas, §6 worked vectors) and ../shared/golden/README.md
// ("Rotary position embedding (pe) and DyPE"). All arithmetic is float64.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dype {

enum class DypeMethod { None, PI, NTK, YaRN, VisionYaRN };
// Two published DY-YaRN forms (DYPE.md §2.7): Paper = thresholds × t^λt (paper v2, current official code);
// Comfy = thresholds ^ (λs·t^λt) (first official release, ComfyUI-DyPE).
enum class YarnForm { Paper, Comfy };

struct DypeConfig {
  DypeMethod method = DypeMethod::YaRN;
  bool dynamic = true;  // DyPE on: strength follows κ(t) = λs·t^λt; off: the static method
  YarnForm yarn_form = YarnForm::Paper;
  double lambda_s = 2.0;       // "strength"
  double lambda_t = 2.0;       // "exponent"
  int base_resolution = 1024;  // px; base grid = base_resolution / 16 tokens per axis
  bool isotropic = false;      // one s = max over spatial axes instead of one s per axis (DYPE.md §2.10)
};

// RoPE geometry of the model: FLUX.1 is theta 10000, axes 16/56/56.
struct RopeGeometry {
  double theta = 10000.0;
  std::vector<std::int64_t> axes_dim{16, 56, 56};
};

// Frequencies of one axis and the numbers they were derived from (for diagnostics, the plot and tests).
struct AxisFrequencies {
  std::vector<double> omega;  // d/2 angular frequencies, pair j -> omega[j]
  double mscale = 1.0;        // multiplies cos and sin of this axis
  bool scaled = false;        // false: plain RoPE (axis 0, method none, or extent <= base grid)
  std::int64_t current = 0;   // tokens on the axis (max id + 1)
  double s = 1.0;             // extent / base grid (vision-yarn: the per-axis s_i)
  double kappa = 1.0;         // κ(t) (paper form: t^λt)
  std::optional<std::array<double, 2>> beta_range, gamma_range;  // YaRN ramps (low, high) where used
};

// The per-axis frequencies for a token grid whose spatial axes hold `extent[i]` positions (extent[0] is ignored:
// axis 0 is never scaled), at DyPE time t = current sigma in [0, 1] (1 = pure noise).
std::vector<AxisFrequencies> rope_frequencies(const DypeConfig& cfg, const RopeGeometry& geo,
                                              const std::vector<std::int64_t>& extent, double t);

// rope_frequencies at every t of `ts` (e.g. the sigmas a sampler evaluates the model at): the data of the GUI
// plot and of `dype schedule --steps`.
std::vector<std::vector<AxisFrequencies>> rope_frequencies_over(const DypeConfig& cfg, const RopeGeometry& geo,
                                                                const std::vector<std::int64_t>& extent,
                                                                const std::vector<double>& ts);

// Token grid of a FLUX image (one token per 16×16 px, partial patches rounded up): {1, rows, columns}, the extent
// argument of rope_frequencies for text + one image. Throws InvalidArgument for a non-positive size.
std::vector<std::int64_t> token_grid_extent(int width_px, int height_px);

// κ(t) = λs·t^λt.
double dype_kappa(double lambda_s, double lambda_t, double t);

// Plain RoPE frequencies of an axis with `dim` rotary dims: omega[j] = 1 / theta^(2j/dim).
std::vector<double> base_frequencies(double theta, std::int64_t dim);

// Names used by the CLI, the settings and image metadata ("none", "pi", "ntk", "yarn", "vision-yarn";
// "paper", "comfy"). parse_* throw InvalidArgument listing the valid names.
const char* method_name(DypeMethod m);
DypeMethod parse_method(const std::string& name);
const char* yarn_form_name(YarnForm f);
YarnForm parse_yarn_form(const std::string& name);

}  // namespace dype
