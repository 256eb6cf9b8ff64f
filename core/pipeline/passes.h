#pragma once
// The denoising passes a request runs: one (text-to-image, or img2img from `init_image`), or two for a hi-res
// refine (pass 1 at a base size, pass 2 img2img at the request's size), and the sigma schedule each one samples.
// Shared by the pipeline, the memory/time plan, `dype generate --dry-run`, `dype schedule` and the GUI (pass
// plan, frequency plot), so that they all count the same steps and show the same sigmas.
#include <string>
#include <utility>
#include <vector>

#include "core/pipeline/generation_request.h"

namespace dype {

struct PassPlan {
  int width = 0, height = 0;
  int steps = 0;        // schedule length N (the time shift is that of width × height)
  int start_index = 0;  // first sigma sampled (img2img_start_index; 0 from pure noise)
  double strength = 1.0;
  bool from_image = false;  // starts from an encoded picture: the init image (pass 1) or pass 1's upscaled output
  int steps_run() const { return steps - start_index; }
};

// The auto base size of a refine: the area of a base_resolution² image with the target's aspect, each side a
// multiple of 16 and no larger than the target's.
std::pair<int, int> refine_base_size(int target_width, int target_height, int base_resolution);

// The passes of `r`, in order. Throws InvalidArgument for an impossible combination (strength outside (0, 1],
// refine base size not a multiple of 16 or larger than the target, refine steps < 0, unknown filter / fit names):
// the first of pass_problems(r).
std::vector<PassPlan> plan_passes(const GenerationRequest& r);

// Every reason plan_passes(r) would refuse `r`, one message each (empty: it plans). For
// GenerationRequest::validate, which reports all problems at once.
std::vector<std::string> pass_problems(const GenerationRequest& r);

// Steps over all passes.
int total_steps(const std::vector<PassPlan>& passes);

// The sigmas one pass samples and the time shift behind them, exactly as the pipeline runs it.
struct PassSchedule {
  std::vector<double> sigmas;  // the sigmas visited: steps − start_index + 1 values ending at 0
  double mu = 0;               // time shift used (meaningful when `shifted`)
  bool shifted = false;        // false: not time-shifted (policy none, or auto for schnell)
  // The model is evaluated at every sigma but the final 0.
  std::vector<double> evaluations() const { return {sigmas.begin(), sigmas.end() - (sigmas.empty() ? 0 : 1)}; }
};

// The schedule of `pass` of `r`: the FLUX schedule of pass.steps with the time shift that r's shift policy picks
// for pass.width × pass.height tokens (is_schnell: the model has no guidance embedder), from pass.start_index.
PassSchedule schedule_for(const GenerationRequest& r, bool is_schnell, const PassPlan& pass);
// The schedule of the request's last pass (the one at the output size): what GenerationResult::sigmas, mu and
// shifted report after a run. Throws InvalidArgument as plan_passes does.
PassSchedule schedule_for(const GenerationRequest& r, bool is_schnell);

}  // namespace dype
