#pragma once
// Resampling images in tensor form: the init image of img2img brought to the requested size, and the first pass
// of a two-pass hi-res refine enlarged before its second pass.
//
// Conventions (those of PIL's Image.resize, so results can be checked against it):
// - pixel i covers [i, i+1) and its centre is i + 0.5; output pixel j samples the source at (j + 0.5)·in/out;
// - separable: rows first, then columns, each through per-output tap lists (first index, weights summing to 1);
// - antialiased when shrinking: the kernel is stretched by in/out, so every source pixel contributes (no aliasing);
// - edges: taps that would fall outside the image are dropped and the remaining weights renormalised to sum 1
//   (PIL's rule; a constant image stays exactly constant up to float rounding, there is no dark or mirrored border);
// - results are clamped to [-1, 1]: Lanczos and bicubic overshoot at edges, and the VAE expects [-1, 1].
#include <ATen/ATen.h>

#include <string>

namespace dype::image {

// Lanczos3: sinc(x)·sinc(x/3), support 3 (sharpest, the default). Bicubic: Keys' cubic with a = −0.5 (Catmull-Rom,
// PIL's BICUBIC), support 2.
enum class ResizeFilter { Lanczos3, Bicubic };
const char* resize_filter_name(ResizeFilter filter);  // "lanczos", "bicubic"
// "lanczos" (or "lanczos3"), "bicubic"; InvalidArgument listing the names otherwise.
ResizeFilter parse_resize_filter(const std::string& name);

// img [1, C, H, W] (any N, C) float CPU -> [1, C, height, width] float32. Same size: an exact copy (no clamp).
// InvalidArgument for a non-4-D, non-float or non-CPU tensor and for a size below 1 or above 65536.
at::Tensor resize(const at::Tensor& img, int width, int height, ResizeFilter filter = ResizeFilter::Lanczos3);

// crop: scale to cover the target, keeping the aspect ratio, then keep the centre; stretch: scale each axis.
enum class FitMode { Crop, Stretch };
const char* fit_mode_name(FitMode mode);          // "crop", "stretch"
FitMode parse_fit_mode(const std::string& name);  // InvalidArgument listing the names otherwise

struct FitPlan {
  int src_w = 0, src_h = 0, dst_w = 0, dst_h = 0;
  int scaled_w = 0, scaled_h = 0;  // size after scaling, before the crop
  int crop_x = 0, crop_y = 0;      // top-left of the kept window in the scaled image (odd excess: one more px
                                   // is cropped on the right / bottom)
  FitMode mode = FitMode::Crop;
  // "1536x1024 → scaled to 1536x1024, 256 px cropped left and right → 1024x1024",
  // "1536x1024 → stretched to 1024x1024 (aspect 1.50 → 1.00)", "1024x1024: used as is".
  std::string describe() const;
};

// For crop, the axis that binds is scaled exactly to the target and the other is rounded to the nearest pixel (at
// least the target). InvalidArgument for a size below 1.
FitPlan plan_fit(int src_w, int src_h, int dst_w, int dst_h, FitMode mode);

// Applies the plan in one resampling: for crop, only the kept window is computed (its taps are placed in source
// coordinates), so the scaled-but-uncropped image is never made; the result equals resize() to the scaled size
// followed by the crop. The intermediate of the two passes is [C, rows of the source the window needs, dst_w].
at::Tensor fit_image(const at::Tensor& img, int dst_w, int dst_h, FitMode mode,
                     ResizeFilter filter = ResizeFilter::Lanczos3, FitPlan* plan = nullptr);

}  // namespace dype::image
