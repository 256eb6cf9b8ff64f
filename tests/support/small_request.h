#pragma once
// The demo-model request the pipeline tests share: 128×96, a few steps, fixed seed, no previews, and a 64 px base
// resolution so that 128 px lies beyond the base grid and DyPE actually acts.
#include "core/pipeline/demo_model.h"
#include "core/pipeline/generation_request.h"
#include "core/pipeline/pipeline_types.h"

namespace dype::test {

inline GenerationRequest small_request(int steps = 3) {
  GenerationRequest r;
  r.prompt = "a lighthouse at dusk";
  r.width = 128;
  r.height = 96;
  r.steps = steps;
  r.seed = 7;
  r.preview_every = 0;
  r.dype.base_resolution = 64;
  return r;
}

// The random-weight demo (the cheapest full pipeline, its shape fixed by demo_flux_config).
inline ModelPaths demo_random_paths() {
  ModelPaths p;
  p.model = kDemoRandomModel;
  return p;
}

}  // namespace dype::test
