#pragma once
// The denoising passes a request runs: one (text-to-image, or img2img from `init_image`), or two for a hi-res
// refine (pass 1 at a base size, pass 2 img2img at the request's size). Shared by the pipeline, the memory/time
// plan, `dype generate --dry-run` and the GUI, so that they all count the same steps.
#include <utility>
#include <vector>

#include "core/pipeline/generation_request.h"

namespace dype {

struct PassPlan {
  int width = 0, height = 0;
  int steps = 0;         // schedule length N (the time shift is that of width × height)
  int start_index = 0;   // first sigma sampled (img2img_start_index; 0 from pure noise)
  double strength = 1.0;
  bool from_image = false;  // starts from an encoded picture: the init image (pass 1) or pass 1's upscaled output
  int steps_run() const { return steps - start_index; }
};

// The auto base size of a refine: the area of a base_resolution² image with the target's aspect, each side a
// multiple of 16 and no larger than the target's.
std::pair<int, int> refine_base_size(int target_width, int target_height, int base_resolution);

// The passes of `r`, in order. Throws InvalidArgument for an impossible combination (strength outside (0, 1],
// refine base size not a multiple of 16 or larger than the target, refine steps < 0, unknown filter / fit names).
std::vector<PassPlan> plan_passes(const GenerationRequest& r);

// Steps over all passes.
int total_steps(const std::vector<PassPlan>& passes);

}  // namespace dype
