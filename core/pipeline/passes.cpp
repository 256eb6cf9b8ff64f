#include "core/pipeline/passes.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "core/image/resize.h"
#include "core/sampling/img2img.h"

namespace dype {

std::pair<int, int> refine_base_size(int target_width, int target_height, int base_resolution) {
  const double area = static_cast<double>(base_resolution) * static_cast<double>(base_resolution);
  const double aspect = static_cast<double>(target_width) / static_cast<double>(target_height);
  auto side = [](double v, int cap) { return std::clamp(static_cast<int>(std::lround(v / 16.0)) * 16, 16, cap); };
  return {side(std::sqrt(area * aspect), target_width), side(std::sqrt(area / aspect), target_height)};
}

std::vector<PassPlan> plan_passes(const GenerationRequest& r) {
  // Names are checked here so that a typo fails before any work, not after pass 1.
  if (!r.init_image.empty()) image::parse_fit_mode(r.init_fit);
  PassPlan first;
  first.width = r.width;
  first.height = r.height;
  first.steps = r.steps;
  if (!r.init_image.empty()) {
    first.from_image = true;
    first.strength = r.strength;
    first.start_index = sampling::img2img_start_index(r.steps, r.strength);
  }
  if (!r.refine.enabled) return {first};

  image::parse_resize_filter(r.refine.upscale);
  const RefineSettings& rf = r.refine;
  if ((rf.base_width == 0) != (rf.base_height == 0))
    throw InvalidArgument("refine base size: give both width and height, or neither (auto)");
  const auto [bw, bh] = rf.base_width ? std::pair<int, int>{rf.base_width, rf.base_height}
                                      : refine_base_size(r.width, r.height, r.dype.base_resolution);
  if (bw % 16 != 0 || bh % 16 != 0 || bw <= 0 || bh <= 0)
    throw InvalidArgument("refine base size " + std::to_string(bw) + "x" + std::to_string(bh) +
                          ": width and height must be positive multiples of 16");
  if (bw > r.width || bh > r.height)
    throw InvalidArgument("refine base size " + std::to_string(bw) + "x" + std::to_string(bh) +
                          " is larger than the output " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                          ": the refine pass upscales pass 1's picture to the output size");
  if (rf.steps < 0) throw InvalidArgument("refine steps must be >= 0 (0 = the same as the first pass)");
  first.width = bw;
  first.height = bh;
  PassPlan second;
  second.width = r.width;
  second.height = r.height;
  second.steps = rf.steps > 0 ? rf.steps : r.steps;
  second.from_image = true;
  second.strength = rf.strength;
  try {
    second.start_index = sampling::img2img_start_index(second.steps, rf.strength);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("refine pass: ") + e.what());
  }
  return {first, second};
}

int total_steps(const std::vector<PassPlan>& passes) {
  int n = 0;
  for (const auto& p : passes) n += p.steps_run();
  return n;
}

}  // namespace dype
