#include "ui/frequency_series.h"

#include <QObject>
#include <algorithm>
#include <cmath>

#include "core/pipeline/passes.h"

namespace dype::ui {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

// The schedule's float32 arithmetic can land a hair above 1; DyPE's t is defined on [0, 1].
double clampT(double t) { return std::clamp(t, 0.0, 1.0); }

}  // namespace

QString methodDisplayName(dype::DypeMethod method) {
  switch (method) {
    case DypeMethod::None: return QObject::tr("plain RoPE");
    case DypeMethod::PI: return QStringLiteral("PI");
    case DypeMethod::NTK: return QStringLiteral("NTK");
    case DypeMethod::YaRN: return QStringLiteral("YaRN");
    case DypeMethod::VisionYaRN: return QStringLiteral("vision-YaRN");
  }
  return {};
}

std::vector<int> representativePairs(int pairs) {
  if (pairs <= 8) {
    std::vector<int> all(pairs);
    for (int i = 0; i < pairs; ++i) all[i] = i;
    return all;
  }
  // For FLUX's 28 pairs: 0 (fastest), 4/7/10/13 (inside and around the YaRN bands), 17, 21, 27 (slowest).
  std::vector<int> out;
  for (double f : {0.0, 4.0 / 27, 7.0 / 27, 10.0 / 27, 13.0 / 27, 17.0 / 27, 21.0 / 27, 1.0}) {
    const int p = int(std::lround(f * (pairs - 1)));
    if (out.empty() || out.back() != p) out.push_back(p);
  }
  return out;
}

std::vector<double> evaluationSigmas(const dype::GenerationRequest& r, bool isSchnell) {
  // The pipeline's own schedule of the output-size pass (img2img: from its start index), without the final 0.
  return dype::schedule_for(r, isSchnell).evaluations();
}

FrequencySeries computeFrequencySeries(const FrequencyPlotInput& in) {
  FrequencySeries out;
  out.sigmas = in.sigmas;
  const auto extent = dype::token_grid_extent(in.width, in.height);
  const int axis = std::clamp(in.axis, 1, int(in.geometry.axes_dim.size()) - 1);
  const std::int64_t dim = in.geometry.axes_dim[std::size_t(axis)];
  const std::vector<double> base = dype::base_frequencies(in.geometry.theta, dim);
  out.extent = extent[std::size_t(axis)];
  out.baseGrid = double(in.config.base_resolution / 16);

  std::vector<double> ts(in.sigmas.size());
  std::transform(in.sigmas.begin(), in.sigmas.end(), ts.begin(), clampT);
  const auto current = dype::rope_frequencies_over(in.config, in.geometry, extent, ts);

  dype::DypeConfig staticCfg = in.config;
  staticCfg.method = in.compareMethod;
  staticCfg.dynamic = false;
  const bool compare = in.compare && in.compareMethod != DypeMethod::None && !ts.empty();
  std::vector<std::vector<dype::AxisFrequencies>> reference;
  if (compare) reference = dype::rope_frequencies_over(staticCfg, in.geometry, extent, ts);

  for (int pair : in.pairs) {
    if (pair < 0 || pair >= int(base.size())) continue;
    FrequencyCurve c;
    c.pair = pair;
    c.baseOmega = base[std::size_t(pair)];
    for (const auto& axes : current) c.omega.push_back(axes[std::size_t(axis)].omega[std::size_t(pair)]);
    out.curves.push_back(std::move(c));
    if (compare) {
      FrequencyCurve r;
      r.pair = pair;
      r.comparison = true;
      r.baseOmega = base[std::size_t(pair)];
      for (const auto& axes : reference) r.omega.push_back(axes[std::size_t(axis)].omega[std::size_t(pair)]);
      out.curves.push_back(std::move(r));
    }
  }
  for (const auto& axes : current) out.mscale.push_back(axes[std::size_t(axis)].mscale);
  if (!current.empty()) out.scale = current.front()[std::size_t(axis)].s;

  QString method = methodDisplayName(in.config.method);
  if (in.config.method != DypeMethod::None && in.config.dynamic) {
    method += QStringLiteral(" + DyPE");
    if (in.config.method == DypeMethod::YaRN)
      method += in.config.yarn_form == YarnForm::Paper ? QObject::tr(" (paper)") : QObject::tr(" (ComfyUI form)");
  } else if (in.config.method != DypeMethod::None) {
    method = QObject::tr("static %1").arg(method);
  }
  out.title = QObject::tr("%1 · %2 axis %3 tokens = %4 × base grid %5")
                  .arg(method, axis == 2 ? QObject::tr("width") : QObject::tr("height"))
                  .arg(out.extent)
                  .arg(double(out.extent) / out.baseGrid, 0, 'f', 2)
                  .arg(out.baseGrid);
  if (compare) out.comparisonName = QObject::tr("static %1").arg(methodDisplayName(in.compareMethod));
  return out;
}

double plotValue(const FrequencyCurve& c, std::size_t i, PlotQuantity q) {
  const double w = c.omega[i];
  return q == PlotQuantity::FrequencyRatio ? w / c.baseOmega : kTwoPi / w;
}

}  // namespace dype::ui
