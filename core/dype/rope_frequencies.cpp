#include "core/dype/rope_frequencies.h"

#include <cmath>
#include <sstream>

#include "core/common/error.h"

namespace dype {
namespace {

constexpr double kPi = 3.14159265358979323846;

// YaRN rotation thresholds (DYPE.md §2.6): β band (1.25, 0.75) blends NTK→PI, γ band (16, 2) base→blend.
constexpr double kBeta0 = 1.25, kBeta1 = 0.75, kGamma0 = 16.0, kGamma1 = 2.0;

std::string num(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

void validate(const DypeConfig& cfg, const RopeGeometry& geo, const std::vector<std::int64_t>& extent, double t) {
  if (!(geo.theta > 1.0) || !std::isfinite(geo.theta))
    throw InvalidArgument("RoPE theta must be a finite number > 1, got " + num(geo.theta));
  if (geo.axes_dim.empty()) throw InvalidArgument("RoPE geometry has no axes (axes_dim is empty)");
  for (std::size_t i = 0; i < geo.axes_dim.size(); ++i) {
    const auto d = geo.axes_dim[i];
    if (d <= 0 || d % 2 != 0)
      throw InvalidArgument("RoPE axis " + std::to_string(i) + " has " + std::to_string(d) +
                            " dims; every axis needs a positive, even number of rotary dims");
  }
  if (extent.size() != geo.axes_dim.size())
    throw InvalidArgument("RoPE extent lists " + std::to_string(extent.size()) + " axes but the model has " +
                          std::to_string(geo.axes_dim.size()));
  for (std::size_t i = 1; i < extent.size(); ++i)
    if (extent[i] < 1)
      throw InvalidArgument("RoPE axis " + std::to_string(i) + " extent must be >= 1 token, got " +
                            std::to_string(extent[i]));
  if (!(t >= 0.0 && t <= 1.0)) throw InvalidArgument("DyPE time t must be in [0, 1] (sigma), got " + num(t));
  if (!(cfg.lambda_s >= 0.0) || !std::isfinite(cfg.lambda_s))
    throw InvalidArgument("DyPE strength (lambda_s) must be a finite number >= 0, got " + num(cfg.lambda_s));
  if (!(cfg.lambda_t >= 0.0) || !std::isfinite(cfg.lambda_t))
    throw InvalidArgument("DyPE exponent (lambda_t) must be a finite number >= 0, got " + num(cfg.lambda_t));
  if (cfg.base_resolution < 16 || cfg.base_resolution % 16 != 0)
    throw InvalidArgument("DyPE base resolution must be a positive multiple of 16 px, got " +
                          std::to_string(cfg.base_resolution));
}

// Fractional pair index whose rotation count over the base grid equals `rotations` (DYPE.md §2.6 step 1).
double correction_index(double rotations, double d, double base_patches, double theta) {
  return d * std::log(base_patches / (2.0 * kPi * rotations)) / (2.0 * std::log(theta));
}

// Band limits (low, high) for thresholds (r0, r1), clamped exactly as the golden README states. high may stay
// negative; the final low <= d/2 clamp keeps the paper form's ramp from inverting at tiny t (DYPE.md §2.7 (a)).
std::array<double, 2> band_range(double r0, double r1, std::int64_t d, double base_patches, double theta) {
  double low = std::max(std::floor(correction_index(r0, double(d), base_patches, theta)), 0.0);
  double high = std::min(std::ceil(correction_index(r1, double(d), base_patches, theta)), double(d - 1));
  const double half = double(d / 2);
  low = std::max(0.0, low);
  high = std::min(half, high);
  low = std::min(low, half);
  return {low, high};
}

// 1 - ramp over pair indices: 1 below `low` (keep the first operand), 0 above `high`. float32 ramps for
// vision-yarn (its reference builds them in float32), float64 otherwise.
std::vector<double> inverse_ramp(std::array<double, 2> range, std::size_t pairs, bool float32_ramp) {
  double low = range[0], high = range[1];
  if (low == high) high += 0.001;
  std::vector<double> m(pairs);
  for (std::size_t j = 0; j < pairs; ++j) {
    double r;
    if (float32_ramp) {
      float rf = float(double(j) - low) / float(high - low);
      rf = std::min(std::max(rf, 0.0f), 1.0f);
      r = double(rf);
    } else {
      r = std::min(std::max((double(j) - low) / (high - low), 0.0), 1.0);
    }
    m[j] = 1.0 - r;
  }
  return m;
}

// omega = 1 / theta'^(2j/d) for theta' = theta·factor (NTK base change; factor 1 gives the base frequencies).
std::vector<double> frequencies_for_base(double theta_eff, std::int64_t dim) {
  std::vector<double> w(std::size_t(dim / 2));
  for (std::size_t j = 0; j < w.size(); ++j) w[j] = 1.0 / std::pow(theta_eff, double(2 * j) / double(dim));
  return w;
}

// Three-band NTK-by-parts blend (DYPE.md §2.6): omega_lin is the PI part, the NTK part uses scale s_ntk (the
// axis' s for yarn, the global s_g for vision-yarn); thresholds are already scheduled by DyPE.
void yarn_blend(AxisFrequencies& ax, double theta, std::int64_t d, double base_patches,
                const std::vector<double>& omega_lin, double s_ntk, std::array<double, 4> thr, bool float32_ramp) {
  const std::size_t pairs = std::size_t(d / 2);
  const std::vector<double> base = base_frequencies(theta, d);
  const double ntk_theta = theta * std::pow(s_ntk, double(d) / double(d - 2));
  const auto beta = band_range(thr[0], thr[1], d, base_patches, theta);
  const auto gamma = band_range(thr[2], thr[3], d, base_patches, theta);
  const std::vector<double> m_beta = inverse_ramp(beta, pairs, float32_ramp);
  const std::vector<double> m_gamma = inverse_ramp(gamma, pairs, float32_ramp);
  std::vector<double> omega(pairs);
  for (std::size_t j = 0; j < pairs; ++j) {
    const double ntk = 1.0 / std::pow(ntk_theta, double(2 * j) / double(d));
    double w = omega_lin[j] * (1.0 - m_beta[j]) + ntk * m_beta[j];  // small j -> NTK, large j -> PI
    w = w * (1.0 - m_gamma[j]) + base[j] * m_gamma[j];              // small j -> untouched
    omega[j] = w;
  }
  ax.omega = std::move(omega);
  ax.beta_range = beta;
  ax.gamma_range = gamma;
}

AxisFrequencies plain_axis(double theta, std::int64_t dim, std::int64_t current) {
  AxisFrequencies ax;
  ax.omega = base_frequencies(theta, dim);
  ax.current = current;
  return ax;
}

}  // namespace

double dype_kappa(double lambda_s, double lambda_t, double t) { return lambda_s * std::pow(t, lambda_t); }

std::vector<double> base_frequencies(double theta, std::int64_t dim) { return frequencies_for_base(theta, dim); }

std::vector<AxisFrequencies> rope_frequencies(const DypeConfig& cfg, const RopeGeometry& geo,
                                              const std::vector<std::int64_t>& extent, double t) {
  validate(cfg, geo, extent, t);
  const std::size_t n_axes = geo.axes_dim.size();
  const double theta = geo.theta;
  const double base_patches = double(cfg.base_resolution / 16);

  std::vector<AxisFrequencies> out;
  out.reserve(n_axes);
  // Axis 0 (text / reference-image index) is never scaled.
  out.push_back(plain_axis(theta, geo.axes_dim[0], extent[0]));

  // Per-axis scale s_i = extent / base grid, and the global s_g = max(1, s_i...) (isotropic option, vision-yarn).
  std::vector<double> s_axis(n_axes, 1.0);
  double s_global = 1.0;
  for (std::size_t i = 1; i < n_axes; ++i) {
    s_axis[i] = double(extent[i]) / base_patches;
    s_global = std::max(s_global, s_axis[i]);
  }

  if (cfg.method == DypeMethod::VisionYaRN && cfg.dynamic) {
    // ComfyUI-DyPE's vision_yarn (DYPE.md §2.8): PI part per axis, NTK part and mscale from the global scale.
    for (std::size_t i = 1; i < n_axes; ++i) {
      const std::int64_t d = geo.axes_dim[i];
      AxisFrequencies ax = plain_axis(theta, d, extent[i]);
      if (s_global > 1.0) {
        if (d <= 2) throw InvalidArgument("vision-yarn needs more than 2 rotary dims on axis " + std::to_string(i));
        const double s_i = std::max(1.0, s_axis[i]);
        const double k = dype_kappa(cfg.lambda_s, cfg.lambda_t, t);
        std::vector<double> lin = ax.omega;
        for (auto& w : lin) w = w / s_i;
        yarn_blend(ax, theta, d, base_patches, lin, s_global,
                   {std::pow(kBeta0, k), std::pow(kBeta1, k), std::pow(kGamma0, k), std::pow(kGamma1, k)}, true);
        ax.scaled = true;
        ax.s = s_i;
        ax.kappa = k;
        ax.mscale = 1.0 + 0.1 * std::log(s_global) * std::pow(t, cfg.lambda_t);
      }
      out.push_back(std::move(ax));
    }
    return out;
  }

  // Vision-yarn without DyPE is static YaRN (the golden set's definition of "DyPE off" for that method).
  const DypeMethod method = cfg.method == DypeMethod::VisionYaRN ? DypeMethod::YaRN : cfg.method;
  const bool dynamic = cfg.dynamic && cfg.method != DypeMethod::VisionYaRN;
  const double kappa = dynamic ? dype_kappa(cfg.lambda_s, cfg.lambda_t, t) : 1.0;

  for (std::size_t i = 1; i < n_axes; ++i) {
    const std::int64_t d = geo.axes_dim[i];
    AxisFrequencies ax = plain_axis(theta, d, extent[i]);
    const double s = cfg.isotropic ? s_global : s_axis[i];
    // At or below the base grid every method is plain RoPE, exactly.
    if (method == DypeMethod::None || !(s > 1.0)) {
      out.push_back(std::move(ax));
      continue;
    }
    if (method != DypeMethod::PI && d <= 2)
      throw InvalidArgument(std::string(method_name(method)) + " needs more than 2 rotary dims on axis " +
                            std::to_string(i) + " (the NTK exponent d/(d-2) is undefined)");
    ax.scaled = true;
    ax.s = s;
    ax.kappa = kappa;
    switch (method) {
      case DypeMethod::PI: {
        const double s_eff = dynamic ? std::pow(s, kappa) : s;
        for (auto& w : ax.omega) w = w / s_eff;
        break;
      }
      case DypeMethod::NTK: {
        double factor = std::pow(s, double(d) / double(d - 2));
        if (dynamic) factor = std::pow(factor, kappa);
        factor = std::max(1.0, factor);
        ax.omega = frequencies_for_base(theta * factor, d);
        break;
      }
      case DypeMethod::YaRN: {
        ax.mscale = 0.1 * std::log(s) + 1.0;
        std::array<double, 4> thr{kBeta0, kBeta1, kGamma0, kGamma1};
        if (dynamic && cfg.yarn_form == YarnForm::Comfy) {
          for (auto& r : thr) r = std::pow(r, kappa);
        } else if (dynamic) {
          // Paper form: thresholds × t^λt (λs unused); t^λt = 0 is the t -> 0 limit, plain frequencies.
          const double kp = std::pow(t, cfg.lambda_t);
          ax.kappa = kp;
          if (kp == 0.0) break;
          for (auto& r : thr) r *= kp;
        }
        std::vector<double> lin(ax.omega.size());
        for (std::size_t j = 0; j < lin.size(); ++j) lin[j] = 1.0 / (s * std::pow(theta, double(2 * j) / double(d)));
        yarn_blend(ax, theta, d, base_patches, lin, s, thr, false);
        break;
      }
      default: break;
    }
    out.push_back(std::move(ax));
  }
  return out;
}

std::vector<std::vector<AxisFrequencies>> rope_frequencies_over(const DypeConfig& cfg, const RopeGeometry& geo,
                                                                const std::vector<std::int64_t>& extent,
                                                                const std::vector<double>& ts) {
  std::vector<std::vector<AxisFrequencies>> out;
  out.reserve(ts.size());
  for (double t : ts) out.push_back(rope_frequencies(cfg, geo, extent, t));
  return out;
}

std::vector<std::int64_t> token_grid_extent(int width_px, int height_px) {
  if (width_px <= 0 || height_px <= 0)
    throw InvalidArgument("image size must be positive, got " + std::to_string(width_px) + "x" +
                          std::to_string(height_px) + " px");
  return {1, (std::int64_t(height_px) + 15) / 16, (std::int64_t(width_px) + 15) / 16};
}

const char* method_name(DypeMethod m) {
  switch (m) {
    case DypeMethod::None: return "none";
    case DypeMethod::PI: return "pi";
    case DypeMethod::NTK: return "ntk";
    case DypeMethod::YaRN: return "yarn";
    case DypeMethod::VisionYaRN: return "vision-yarn";
  }
  return "none";
}

DypeMethod parse_method(const std::string& name) {
  if (name == "none" || name == "base") return DypeMethod::None;
  if (name == "pi") return DypeMethod::PI;
  if (name == "ntk") return DypeMethod::NTK;
  if (name == "yarn") return DypeMethod::YaRN;
  if (name == "vision-yarn" || name == "vision_yarn") return DypeMethod::VisionYaRN;
  throw InvalidArgument("unknown DyPE method '" + name + "' (valid: none, pi, ntk, yarn, vision-yarn)");
}

const char* yarn_form_name(YarnForm f) { return f == YarnForm::Paper ? "paper" : "comfy"; }

YarnForm parse_yarn_form(const std::string& name) {
  if (name == "paper") return YarnForm::Paper;
  if (name == "comfy") return YarnForm::Comfy;
  throw InvalidArgument("unknown YaRN form '" + name + "' (valid: paper, comfy)");
}

}  // namespace dype
