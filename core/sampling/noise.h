#pragma once
// Initial latent noise with the seed conventions of the reference tools (../shared/reference/FLUX.md §2), so that
// a seed means the same image here as in ComfyUI (default) or BFL's reference code (`bfl` mode).
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dype::sampling {

// The one noise enum: GenerationRequest carries it, and its names are what image metadata records.
enum class NoiseConvention {
  Comfy,  // float32 standard normal from a CPU generator seeded with the seed (ComfyUI; the golden cases)
  Bfl,    // the same CPU generator, drawn in bfloat16 (BFL `get_noise`), then widened to float32
};
// "comfy", "bfl": stored in PNG metadata, so these names must not change.
const char* noise_convention_name(NoiseConvention c);
// Inverse of noise_convention_name; throws InvalidArgument listing the valid names.
NoiseConvention parse_noise_convention(const std::string& name);

// Latent shape for an image of width × height pixels: [1, 16, 2·⌈H/16⌉, 2·⌈W/16⌉].
std::vector<std::int64_t> latent_noise_shape(int width, int height);

// Noise [1, 16, 2·⌈H/16⌉, 2·⌈W/16⌉] float32 on the CPU. The draw always happens on the CPU with a fresh generator
// (never the device RNG), so the numbers do not depend on the GPU model; move the result to the device afterwards.
at::Tensor make_noise(std::uint64_t seed, int width, int height, NoiseConvention convention);

}  // namespace dype::sampling
