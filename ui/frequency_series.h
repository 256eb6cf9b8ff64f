#pragma once
// The numbers behind the frequency-schedule plot, computed only with core/dype (rope_frequencies) and
// core/pipeline's schedule_for (the real sigma schedule), so that the plot shows exactly what the model uses at
// each step.
#include <QString>
#include <cstdint>
#include <vector>

#include "core/dype/rope_frequencies.h"
#include "core/pipeline/generation_request.h"

namespace dype::ui {

enum class PlotQuantity { FrequencyRatio, Wavelength };  // ω(t)/ω_base, or 2π/ω(t) in tokens
enum class PlotXAxis { Step, Sigma };

struct FrequencyPlotInput {
  dype::DypeConfig config;
  int width = 1024;
  int height = 1024;
  std::vector<double> sigmas;  // t of every model evaluation, first step first
  int axis = 2;                // RoPE axis: 1 = rows (height), 2 = columns (width)
  std::vector<int> pairs;      // rotation pairs of that axis to draw (0 = highest frequency)
  // Static method drawn dashed for comparison (DyPE off), or nothing when `compare` is false.
  bool compare = true;
  dype::DypeMethod compareMethod = dype::DypeMethod::YaRN;
  dype::RopeGeometry geometry;  // FLUX.1: theta 10000, axes 16/56/56
};

struct FrequencyCurve {
  int pair = 0;
  bool comparison = false;    // false: current settings; true: the static comparison method
  double baseOmega = 1.0;     // plain RoPE frequency of the pair
  std::vector<double> omega;  // one per sigma
};

struct FrequencySeries {
  std::vector<double> sigmas;
  std::vector<FrequencyCurve> curves;
  std::vector<double> mscale;  // attention scale of the axis under the current settings, per sigma
  std::int64_t extent = 0;     // tokens on the axis
  double baseGrid = 64;        // base_resolution / 16
  double scale = 1.0;          // s of the axis under the current settings
  QString title;               // "YaRN + DyPE (paper) · width 256 tokens = 4.00 × base"
  QString comparisonName;      // "static YaRN", empty when none
};

FrequencySeries computeFrequencySeries(const FrequencyPlotInput& input);

// The value drawn for a curve at sample i.
double plotValue(const FrequencyCurve& curve, std::size_t i, PlotQuantity quantity);

// Pairs worth a curve each for an axis with `pairs` rotation pairs: the ends and the YaRN band checkpoints
// of DYPE.md §6 (0, 4, 7, 10, 13, ...), or every pair.
std::vector<int> representativePairs(int pairs);

// The sigmas at which the model is evaluated for a request: dype::schedule_for's last pass (time shift policy,
// img2img start and refine included), without the final 0; throws dype::Error.
std::vector<double> evaluationSigmas(const dype::GenerationRequest& request, bool isSchnell);

QString methodDisplayName(dype::DypeMethod method);

}  // namespace dype::ui
