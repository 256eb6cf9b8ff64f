#pragma once
// FLUX's sampling schedule: the sigmas (= timesteps, = DyPE t) a rectified-flow sampler visits, with FLUX's
// resolution-dependent time shift (BFL `get_schedule`; DYPE.md §3, golden README "Schedule and sampler").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dype {

// How the FLUX time shift μ is chosen (DYPE.md §3). Auto: none for schnell, clamp for dev. Lives with the schedule
// it parameterises; GenerationRequest carries one.
enum class ShiftPolicy { Auto, Clamp, Flux, None, Fixed };
const char* shift_policy_name(ShiftPolicy p);  // "auto", "clamp", "flux", "none", "fixed"
// Inverse of shift_policy_name; throws InvalidArgument listing the valid names.
ShiftPolicy parse_shift_policy(const std::string& name);
// A shift as people type it (`--shift`): a policy name, or a number μ, which is ShiftPolicy::Fixed with *mu set.
// Throws InvalidArgument for anything else (or a non-finite number).
ShiftPolicy parse_shift_option(const std::string& text, double* mu);

// μ of the FLUX line through (256, base_shift) and (4096, max_shift), extrapolated on both sides (BFL, diffusers).
double flux_mu_line(std::int64_t image_seq_len, double base_shift = 0.5, double max_shift = 1.15);

// The time shift μ a policy chooses for `image_seq_len` image tokens, or nullopt for no shift:
// Auto = None for schnell, Clamp for dev; Clamp = min(line, max_shift) (the official DyPE code's 1.15 at and above
// 1024²); Flux = the extrapolated line (11.55 at 4096²: near one-step sampling); None = no shift; Fixed = fixed_mu.
// Throws InvalidArgument for a non-positive token count or non-finite numbers.
std::optional<double> time_shift_mu(ShiftPolicy policy, std::int64_t image_seq_len, bool is_schnell,
                                    double base_shift = 0.5, double max_shift = 1.15, double fixed_mu = 1.15);

// num_steps + 1 sigmas from 1 down to exactly 0, shifted by σ ↦ e^μ / (e^μ + (1/σ − 1)) when mu is given.
// Reproduces the reference's float32 recipe (linspace in float32; reciprocal(t) − 1; + float32(e^μ);
// reciprocal(·) × float32(e^μ)), so every value is a float32 number widened to double. The model is evaluated at
// the first num_steps of them. Throws InvalidArgument for num_steps < 1.
std::vector<double> flux_schedule(int num_steps, std::optional<double> mu);

// Number of image tokens of a FLUX image: ceil(H/16)·ceil(W/16). Throws InvalidArgument for a non-positive size.
std::int64_t flux_image_seq_len(int width_px, int height_px);

}  // namespace dype
