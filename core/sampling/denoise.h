#pragma once
// The FLUX flow-matching Euler sampler: x ← x + (σ_{k+1} − σ_k)·v(x, σ_k), σ from 1 (noise) to 0 (image).
// The model is a callable so that the loop is testable without weights and reusable by benchmarks.
#include <ATen/ATen.h>

#include <atomic>
#include <functional>
#include <vector>

namespace dype::sampling {

// What a step callback sees. x_in is the packed latent the model was evaluated on, pred the model output (the
// velocity), x_out the latent after the update; all [B, L_img, 64] float32.
struct EulerStep {
  int index = 0;  // 0-based
  int total = 0;
  double sigma = 0;       // σ_k: the model's timestep and DyPE's t for this step
  double sigma_next = 0;  // σ_{k+1}
  const at::Tensor* x_in = nullptr;
  const at::Tensor* pred = nullptr;
  const at::Tensor* x_out = nullptr;
  // The denoised (x0) estimate x_in − σ_k·pred, used for previews.
  at::Tensor x0_estimate() const;
};

// v(x, σ): the transformer with everything but the latent and the time bound in. It may throw dype::Cancelled
// to stop inside a step (between transformer blocks): euler_denoise then returns Cancelled.
using VelocityFn = std::function<at::Tensor(const at::Tensor& x, double sigma)>;
// Called after every step; return false to stop.
using EulerStepFn = std::function<bool(const EulerStep& step)>;

enum class DenoiseStatus { Completed, Cancelled };

// Runs len(sigmas) − 1 Euler steps on x in place. The update follows the reference in float32 exactly: the
// difference σ_{k+1} − σ_k is taken in double and rounded to float32, then one float32 multiply and one float32
// add (no fused multiply-add), so the trajectory matches the golden stepK tensors bit for bit given the same
// predictions. `cancel` is checked before every model call; a stop (the flag, on_step returning false, or the
// velocity throwing dype::Cancelled mid-step) leaves x at the last completed step.
DenoiseStatus euler_denoise(at::Tensor& x, const std::vector<double>& sigmas, const VelocityFn& velocity,
                            const EulerStepFn& on_step = nullptr, const std::atomic<bool>* cancel = nullptr);

}  // namespace dype::sampling
