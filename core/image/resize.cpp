#include "core/image/resize.h"

#include <ATen/Parallel.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "core/common/error.h"
#include "core/common/strings.h"

namespace dype::image {

namespace {

constexpr int kMaxSide = 65536;
constexpr double kPi = 3.14159265358979323846;

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= kPi;
  return std::sin(x) / x;
}

double lanczos3(double x) { return (x > -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

// Keys' cubic convolution with a = −0.5 (Catmull-Rom), as PIL's BICUBIC.
double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

struct Kernel {
  double support;
  double (*fn)(double);
};

Kernel kernel_of(ResizeFilter f) { return f == ResizeFilter::Bicubic ? Kernel{2.0, bicubic} : Kernel{3.0, lanczos3}; }

// One axis of a resampling: the source has `in` samples; it is scaled to `scaled` samples, of which `out`
// consecutive ones starting at `offset` are produced (a plain resize has scaled = out, offset = 0).
struct AxisMap {
  int in, scaled, offset, out;
  bool is_copy() const { return in == scaled; }  // scale 1: a slice, taken exactly
};

// Output j reads count[j] source samples from first[j] with weights w[j·kmax ..], summing to 1.
struct AxisTaps {
  std::vector<int> first, count;
  std::vector<float> w;
  int kmax = 0;
};

AxisTaps make_taps(const AxisMap& a, const Kernel& kernel) {
  const double scale = static_cast<double>(a.in) / a.scaled;  // source pixels per scaled pixel
  // Shrinking stretches the kernel by the ratio so that it covers every source pixel: that is the antialiasing.
  const double filterscale = std::max(scale, 1.0);
  const double support = kernel.support * filterscale;
  const double ss = 1.0 / filterscale;
  AxisTaps t;
  t.kmax = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(a.out);
  t.count.resize(a.out);
  t.w.assign(static_cast<std::size_t>(a.out) * t.kmax, 0.0f);
  std::vector<double> ww(t.kmax);
  for (int j = 0; j < a.out; ++j) {
    const double center = (a.offset + j + 0.5) * scale;  // pixel centres at i + 0.5
    // Taps outside [0, in) are dropped (PIL's edge rule); the weights left are renormalised below.
    const int lo = std::max(static_cast<int>(std::floor(center - support + 0.5)), 0);
    const int hi = std::min(static_cast<int>(std::floor(center + support + 0.5)), a.in);
    const int n = std::min(hi - lo, t.kmax);
    double total = 0.0;
    for (int k = 0; k < n; ++k) {
      ww[k] = kernel.fn((k + lo - center + 0.5) * ss);
      total += ww[k];
    }
    float* w = t.w.data() + static_cast<std::size_t>(j) * t.kmax;
    for (int k = 0; k < n; ++k) w[k] = static_cast<float>(total != 0.0 ? ww[k] / total : 0.0);
    t.first[j] = lo;
    t.count[j] = n;
  }
  return t;
}

// A stack of planes (N·C of them) of rows with unit stride along a row.
struct Planes {
  float* data;
  std::int64_t plane_stride, row_stride;
};

std::int64_t grain_for(std::int64_t work_per_item) {
  return std::max<std::int64_t>(1, (1 << 15) / std::max<std::int64_t>(work_per_item, 1));
}

inline float clamp1(float v) { return v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v); }

// Rows pass: dst[p, r, j] = Σ_k w[j,k] · src[p, r, first[j] + k] for `rows` rows of each of `planes` planes.
void pass_rows(Planes src, std::int64_t planes, std::int64_t rows, const AxisTaps& t, Planes dst, bool clamp) {
  const std::int64_t out_w = static_cast<std::int64_t>(t.first.size());
  at::parallel_for(0, planes * rows, grain_for(out_w * t.kmax), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t p = i / rows, r = i % rows;
      const float* s = src.data + p * src.plane_stride + r * src.row_stride;
      float* d = dst.data + p * dst.plane_stride + r * dst.row_stride;
      for (std::int64_t j = 0; j < out_w; ++j) {
        const float* w = t.w.data() + j * t.kmax;
        const float* sp = s + t.first[j];
        float acc = 0.0f;
        for (int k = 0; k < t.count[j]; ++k) acc += w[k] * sp[k];
        d[j] = clamp ? clamp1(acc) : acc;
      }
    }
  });
}

// Columns pass: dst[p, j, :] = Σ_k w[j,k] · src[p, first[j] − row0 + k, :]; whole rows at a time, so the inner
// loop runs along contiguous memory (vectorised) instead of gathering down a column.
void pass_cols(Planes src, std::int64_t planes, std::int64_t width, int row0, const AxisTaps& t, Planes dst,
               bool clamp) {
  const std::int64_t out_h = static_cast<std::int64_t>(t.first.size());
  at::parallel_for(0, planes * out_h, grain_for(width * t.kmax), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t p = i / out_h, j = i % out_h;
      const float* w = t.w.data() + j * t.kmax;
      const float* s = src.data + p * src.plane_stride + (t.first[j] - row0) * src.row_stride;
      float* d = dst.data + p * dst.plane_stride + j * dst.row_stride;
      for (std::int64_t x = 0; x < width; ++x) d[x] = w[0] * s[x];
      for (int k = 1; k < t.count[j]; ++k) {
        const float wk = w[k];
        const float* sk = s + k * src.row_stride;
        for (std::int64_t x = 0; x < width; ++x) d[x] += wk * sk[x];
      }
      if (clamp)
        for (std::int64_t x = 0; x < width; ++x) d[x] = clamp1(d[x]);
    }
  });
}

Planes planes_of(const at::Tensor& t) {  // t: [N, C, H, W] with unit stride in W and stride(0) = C·stride(1)
  return {t.data_ptr<float>(), t.stride(1), t.stride(2)};
}

// The one resampling routine behind resize() and fit_image(). x: [N, C, H, W] float32 contiguous.
at::Tensor resample(const at::Tensor& x, const AxisMap& ax, const AxisMap& ay, ResizeFilter filter) {
  const Kernel kernel = kernel_of(filter);
  const std::int64_t n = x.size(0), c = x.size(1), planes = n * c;
  at::Tensor src = x;
  if (ax.is_copy()) src = src.narrow(3, ax.offset, ax.out);  // [N, C, H, out_w] view
  if (ay.is_copy()) src = src.narrow(2, ay.offset, ay.out);  // [N, C, out_h, W'] view
  if (ax.is_copy() && ay.is_copy()) return src.clone(at::MemoryFormat::Contiguous);

  // Only the source rows the columns pass reads go through the rows pass.
  AxisTaps ty;
  int row0 = 0, row1 = static_cast<int>(src.size(2));
  if (!ay.is_copy()) {
    ty = make_taps(ay, kernel);
    row0 = ay.in;
    row1 = 0;
    for (int j = 0; j < ay.out; ++j) {
      row0 = std::min(row0, ty.first[j]);
      row1 = std::max(row1, ty.first[j] + ty.count[j]);
    }
  }
  at::Tensor mid;  // [N, C, row1 - row0, out_w]
  if (!ax.is_copy()) {
    const AxisTaps tx = make_taps(ax, kernel);
    mid = at::empty({n, c, row1 - row0, ax.out}, x.options());
    Planes s = planes_of(src);
    s.data += static_cast<std::int64_t>(row0) * s.row_stride;
    pass_rows(s, planes, row1 - row0, tx, planes_of(mid), /*clamp=*/ay.is_copy());
  } else {
    mid = src.narrow(2, row0, row1 - row0);
  }
  if (ay.is_copy()) return mid;
  at::Tensor out = at::empty({n, c, ay.out, mid.size(3)}, x.options());  // [N, C, out_h, out_w]
  pass_cols(planes_of(mid), planes, mid.size(3), row0, ty, planes_of(out), /*clamp=*/true);
  return out;
}

at::Tensor checked_input(const at::Tensor& img, const char* what) {
  std::ostringstream os;
  if (!img.defined()) {
    os << what << ": no image";
  } else if (img.dim() != 4 || img.size(2) < 1 || img.size(3) < 1) {
    os << what << ": expected an image tensor [N, C, H, W] with H, W >= 1, got " << img.sizes();
  } else if (!img.device().is_cpu()) {
    os << what << ": the image must be on the CPU, it is on " << img.device();
  } else if (!at::isFloatingType(img.scalar_type())) {
    os << what << ": the image must hold floating-point values, it holds " << img.scalar_type();
  } else {
    return img.to(at::kFloat).contiguous();
  }
  throw InvalidArgument(os.str());
}

void check_size(const char* what, int w, int h) {
  if (w < 1 || h < 1 || w > kMaxSide || h > kMaxSide)
    throw InvalidArgument(std::string(what) + ": target size " + std::to_string(w) + "x" + std::to_string(h) +
                          " is out of range (1 to " + std::to_string(kMaxSide) + " px per side)");
}

std::string wxh(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

}  // namespace

const char* resize_filter_name(ResizeFilter filter) { return filter == ResizeFilter::Bicubic ? "bicubic" : "lanczos"; }

ResizeFilter parse_resize_filter(const std::string& name) {
  const std::string n = to_lower(name);
  if (n == "lanczos" || n == "lanczos3") return ResizeFilter::Lanczos3;
  if (n == "bicubic") return ResizeFilter::Bicubic;
  throw InvalidArgument("unknown resize filter '" + name + "' (expected one of: lanczos, bicubic)");
}

const char* fit_mode_name(FitMode mode) { return mode == FitMode::Stretch ? "stretch" : "crop"; }

FitMode parse_fit_mode(const std::string& name) {
  const std::string n = to_lower(name);
  if (n == "crop") return FitMode::Crop;
  if (n == "stretch") return FitMode::Stretch;
  throw InvalidArgument("unknown fit mode '" + name + "' (expected one of: crop, stretch)");
}

at::Tensor resize(const at::Tensor& img, int width, int height, ResizeFilter filter) {
  check_size("resize", width, height);
  const at::Tensor x = checked_input(img, "resize");  // [N, C, H, W] float32
  const int in_w = static_cast<int>(x.size(3)), in_h = static_cast<int>(x.size(2));
  if (in_w == width && in_h == height) return x.clone(at::MemoryFormat::Contiguous);  // exact, no clamp
  return resample(x, {in_w, width, 0, width}, {in_h, height, 0, height}, filter);     // [N, C, height, width]
}

FitPlan plan_fit(int src_w, int src_h, int dst_w, int dst_h, FitMode mode) {
  if (src_w < 1 || src_h < 1 || dst_w < 1 || dst_h < 1)
    throw InvalidArgument("fit " + wxh(src_w, src_h) + " to " + wxh(dst_w, dst_h) + ": sizes must be at least 1 px");
  FitPlan p;
  p.src_w = src_w;
  p.src_h = src_h;
  p.dst_w = dst_w;
  p.dst_h = dst_h;
  p.mode = mode;
  p.scaled_w = dst_w;
  p.scaled_h = dst_h;
  if (mode == FitMode::Crop) {
    const std::int64_t sw = src_w, sh = src_h, dw = dst_w, dh = dst_h;
    // Scale by the larger of dw/sw and dh/sh (cover); compared as dw·sh vs dh·sw to stay in integers.
    if (dw * sh >= dh * sw)
      p.scaled_h = static_cast<int>(std::max<std::int64_t>(dh, (2 * sh * dw + sw) / (2 * sw)));  // round(sh·dw/sw)
    else
      p.scaled_w = static_cast<int>(std::max<std::int64_t>(dw, (2 * sw * dh + sh) / (2 * sh)));
    p.crop_x = (p.scaled_w - dst_w) / 2;
    p.crop_y = (p.scaled_h - dst_h) / 2;
  }
  return p;
}

std::string FitPlan::describe() const {
  if (src_w == dst_w && src_h == dst_h) return wxh(src_w, src_h) + ": used as is";
  const std::string from = wxh(src_w, src_h) + " → ";
  if (mode == FitMode::Stretch) {
    if (static_cast<std::int64_t>(src_w) * dst_h == static_cast<std::int64_t>(dst_w) * src_h)
      return from + "scaled to " + wxh(dst_w, dst_h);
    char buf[64];
    std::snprintf(buf, sizeof(buf), " (aspect %.2f → %.2f)", static_cast<double>(src_w) / src_h,
                  static_cast<double>(dst_w) / dst_h);
    return from + "stretched to " + wxh(dst_w, dst_h) + buf;
  }
  std::string s = from + "scaled to " + wxh(scaled_w, scaled_h);
  auto cropped = [](int before, int after, const char* a, const char* b) {
    if (before == after) return ", " + std::to_string(before) + " px cropped " + a + " and " + b;
    return ", " + std::to_string(before) + " px cropped " + a + ", " + std::to_string(after) + " " + b;
  };
  if (scaled_w > dst_w) s += cropped(crop_x, scaled_w - dst_w - crop_x, "left", "right");
  if (scaled_h > dst_h) s += cropped(crop_y, scaled_h - dst_h - crop_y, "top", "bottom");
  if (scaled_w != dst_w || scaled_h != dst_h) s += " → " + wxh(dst_w, dst_h);
  return s;
}

at::Tensor fit_image(const at::Tensor& img, int dst_w, int dst_h, FitMode mode, ResizeFilter filter, FitPlan* plan) {
  check_size("fit image", dst_w, dst_h);
  const at::Tensor x = checked_input(img, "fit image");  // [N, C, H, W] float32
  const FitPlan p = plan_fit(static_cast<int>(x.size(3)), static_cast<int>(x.size(2)), dst_w, dst_h, mode);
  if (plan) *plan = p;
  if (p.src_w == dst_w && p.src_h == dst_h) return x.clone(at::MemoryFormat::Contiguous);
  return resample(x, {p.src_w, p.scaled_w, p.crop_x, dst_w}, {p.src_h, p.scaled_h, p.crop_y, dst_h},
                  filter);  // [N, C, dst_h, dst_w]
}

}  // namespace dype::image
