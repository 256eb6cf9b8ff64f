#pragma once
// What a model set holds in memory, known before any weight is read (DESIGN.md §4: memory is planned from file
// headers). Every safetensors header gives each tensor's dtype and shape; with the load policy (weights narrower
// than the compute dtype stay as stored, memory-mapped; the VAE is converted) that is enough to know the bytes
// each component will occupy, the largest per-layer conversion temporary, and the transformer's shape. The same
// numbers serve `dype generate --dry-run`, the refusal before loading, and the GUI's estimate.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "core/flux/config.h"
#include "core/pipeline/generation_request.h"
#include "core/pipeline/pipeline_types.h"
#include "core/pipeline/throughput.h"

namespace dype {

struct PipelineComponents;

struct ComponentFootprint {
  std::string path;                      // file or folder ("" for the built-in demo)
  std::uint64_t file_bytes = 0;          // tensor data of the component as stored
  std::uint64_t resident_bytes = 0;      // what it occupies once used, under the load policy
  std::uint64_t layer_temp_bytes = 0;    // largest weight converted for one layer call (0: none converted)
  std::uint64_t converted_elements = 0;  // weight elements converted to the compute dtype at every use
  std::string dtypes;                    // "F8_E4M3 11.1 GiB, BF16 20 MiB"
};

struct ModelFootprint {
  ComponentFootprint transformer, t5, clip, vae;
  flux::FluxConfig config;  // the transformer's (from shapes or config.json)
  std::int64_t t5_layers = 24, t5_d_model = 4096, t5_d_ff = 10240, t5_heads = 64;
  bool schnell = false;
  bool demo = false;
  // The model's conventions (components.h: t5_length_of, base_resolution_of, default_steps_of).
  int t5_length = 512;
  int base_resolution = 1024;
  int default_steps = 28;
  int default_size = 1024;  // square side of a picture when none is asked for (components.h: default_size_of)
  std::uint64_t text_bytes() const { return t5.resident_bytes + clip.resident_bytes; }
};

// From the headers of the files `paths` names (the same discovery as loading). Reads no weight; throws what
// loading would throw for a missing or malformed file (IoError / FormatError / ModelError).
ModelFootprint model_footprint(const ModelPaths& paths, const LoadOptions& options);
// From a loaded set (the demo model, which has no files).
ModelFootprint model_footprint(const PipelineComponents& components);

// The plan of one request: memory per phase (encode, denoise, decode) against what `device` has free, whether
// the text encoders are released after encoding, and the time estimate when `speed` is known (measured on the
// compute device: FLOPs of the step plus the per-layer conversion of stored weights). `weights_loaded`: the
// weights already occupy the device (a loaded pipeline on a GPU).
MemoryEstimate plan_generation(const ModelFootprint& footprint, const GenerationRequest& request,
                               const LoadOptions& options, std::uint64_t available_bytes, const Throughput& speed,
                               bool weights_loaded = false);

// Floating-point operations of one transformer forward at `width` × `height` (matrix products and attention).
double transformer_flops_per_step(const flux::FluxConfig& config, int width, int height, std::int64_t txt_tokens,
                                  std::uint64_t parameters);

// Several lines for people: what was counted, the phases, the decision on the text encoders, the time estimate.
std::string describe_plan(const ModelFootprint& footprint, const MemoryEstimate& plan);

}  // namespace dype
