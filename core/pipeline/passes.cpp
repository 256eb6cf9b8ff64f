#include "core/pipeline/passes.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "core/image/resize.h"
#include "core/sampling/img2img.h"
#include "core/sampling/schedule.h"

namespace dype {
namespace {

// Runs `check`; what it throws as InvalidArgument becomes a problem (prefixed with `context`) instead of ending
// the plan, so that one pass over a request finds every problem.
template <typename F>
bool attempt(std::vector<std::string>& problems, const std::string& context, F&& check) {
  try {
    check();
    return true;
  } catch (const InvalidArgument& e) {
    problems.push_back(context + e.what());
    return false;
  }
}

// The plan and, in `problems`, every reason it cannot run (the plan is then incomplete).
std::vector<PassPlan> plan(const GenerationRequest& r, std::vector<std::string>& problems) {
  // Names are checked here so that a typo fails before any work, not after pass 1.
  PassPlan first;
  first.width = r.width;
  first.height = r.height;
  first.steps = r.steps;
  if (!r.init_image.empty()) {
    attempt(problems, "", [&] { image::parse_fit_mode(r.init_fit); });
    first.from_image = true;
    first.strength = r.strength;
    // With a step count below 1 the request's steps are the problem (GenerationRequest::validate says so).
    attempt(problems, "", [&] { first.start_index = sampling::img2img_start_index(std::max(r.steps, 1), r.strength); });
  }
  if (!r.refine.enabled) return {first};

  const RefineSettings& rf = r.refine;
  attempt(problems, "", [&] { image::parse_resize_filter(rf.upscale); });
  PassPlan second;
  second.width = r.width;
  second.height = r.height;
  second.steps = rf.steps > 0 ? rf.steps : r.steps;
  second.from_image = true;
  second.strength = rf.strength;
  if ((rf.base_width == 0) != (rf.base_height == 0)) {
    problems.push_back("refine base size: give both width and height, or neither (auto)");
  } else {
    const auto [bw, bh] = rf.base_width ? std::pair<int, int>{rf.base_width, rf.base_height}
                                        : refine_base_size(r.width, r.height, r.dype.base_resolution);
    const std::string size = std::to_string(bw) + "x" + std::to_string(bh);
    if (bw % 16 != 0 || bh % 16 != 0 || bw <= 0 || bh <= 0)
      problems.push_back("refine base size " + size + ": width and height must be positive multiples of 16");
    else if (bw > r.width || bh > r.height)
      problems.push_back("refine base size " + size + " is larger than the output " + std::to_string(r.width) + "x" +
                         std::to_string(r.height) + ": the refine pass upscales pass 1's picture to the output size");
    first.width = bw;
    first.height = bh;
  }
  if (rf.steps < 0) problems.push_back("refine steps must be >= 0 (0 = the same as the first pass)");
  attempt(problems, "refine pass: ", [&] {
    second.start_index = sampling::img2img_start_index(std::max(second.steps, 1), rf.strength);
  });
  return {first, second};
}

}  // namespace

std::pair<int, int> refine_base_size(int target_width, int target_height, int base_resolution) {
  const double area = static_cast<double>(base_resolution) * static_cast<double>(base_resolution);
  const double aspect = static_cast<double>(target_width) / static_cast<double>(target_height);
  auto side = [](double v, int cap) { return std::clamp(static_cast<int>(std::lround(v / 16.0)) * 16, 16, cap); };
  return {side(std::sqrt(area * aspect), target_width), side(std::sqrt(area / aspect), target_height)};
}

std::vector<PassPlan> plan_passes(const GenerationRequest& r) {
  std::vector<std::string> problems;
  std::vector<PassPlan> passes = plan(r, problems);
  if (!problems.empty()) throw InvalidArgument(problems.front());
  return passes;
}

std::vector<std::string> pass_problems(const GenerationRequest& r) {
  std::vector<std::string> problems;
  plan(r, problems);
  return problems;
}

int total_steps(const std::vector<PassPlan>& passes) {
  int n = 0;
  for (const auto& p : passes) n += p.steps_run();
  return n;
}

PassSchedule schedule_for(const GenerationRequest& r, bool is_schnell, const PassPlan& pass) {
  const std::optional<double> mu = time_shift_mu(r.shift, flux_image_seq_len(pass.width, pass.height), is_schnell,
                                                 r.base_shift, r.max_shift, r.shift_mu);
  PassSchedule s;
  s.sigmas = sampling::schedule_from(flux_schedule(pass.steps, mu), pass.start_index);
  s.shifted = mu.has_value();
  s.mu = mu.value_or(0.0);
  return s;
}

PassSchedule schedule_for(const GenerationRequest& r, bool is_schnell) {
  return schedule_for(r, is_schnell, plan_passes(r).back());
}

}  // namespace dype
