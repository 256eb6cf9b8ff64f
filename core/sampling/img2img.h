#pragma once
// Image-to-image on FLUX's flow-matching schedule, in diffusers' FluxImg2ImgPipeline convention: the schedule is
// the ordinary N-step one (with the time shift of the output size), sampling starts part-way down it, and the
// starting latent is the encoded picture moved toward noise by the schedule's σ at that point.
#include <ATen/ATen.h>

#include <vector>

namespace dype::sampling {

// The index of the first sigma sampled for `strength` S of an N-step schedule, as diffusers' get_timesteps
// computes it in double precision: init = min(N·S, N); t_start = int(max(N − init, 0)). The run then takes
// N − t_start = ⌈N·S⌉ steps when N·S is not a whole number (N = 28, S = 0.6: t_start 11, 17 steps), so any S > 0
// runs at least one step. (Rounding N·S down instead, t_start = N − ⌊N·S⌋, would run 16 there: not diffusers'.)
// S = 1 gives 0 (text-to-image). Throws InvalidArgument for N < 1 or S outside (0, 1] or not finite.
int img2img_start_index(int num_steps, double strength);

// sigmas[start..] (the N − start + 1 values visited from the start index down to 0). Throws InvalidArgument when
// start leaves no step.
std::vector<double> schedule_from(const std::vector<double>& sigmas, int start);

// The latent sampling starts from: σ·noise + (1 − σ)·x0 (diffusers' FlowMatchEulerDiscreteScheduler.scale_noise),
// in float32 with σ rounded to float32 as the scheduler holds it. σ = 1 returns `noise` exactly. noise and x0 have
// the same shape (packed or not: the formula is elementwise) and dtype float32.
at::Tensor noised_start(const at::Tensor& x0, const at::Tensor& noise, double sigma);

}  // namespace dype::sampling
