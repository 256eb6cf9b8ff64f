#pragma once
// FluxPipeline: a loaded FLUX.1 model set (text encoders, transformer, VAE) that runs one GenerationRequest at a
// time. Used by the CLI and by the GUI's GenerationWorker (on its own thread). Everything it throws is a
// dype::Error (see core/common/error.h).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/pipeline/generation_request.h"
#include "core/pipeline/pipeline_types.h"

namespace dype {

struct ModelFootprint;  // core/pipeline/model_footprint.h

class FluxPipeline {
 public:
  virtual ~FluxPipeline() = default;
  static std::unique_ptr<FluxPipeline> load(const ModelPaths& paths, const LoadOptions& options,
                                            StepObserver* observer = nullptr);

  // Runs one request. Stops within a piece of a transformer block (projection, attention, MLP), a T5 layer or a
  // VAE tile when `cancel` becomes true, or after the block / step / tile where the observer returns false; the
  // result is then marked cancelled (no exception). Invalid requests throw InvalidArgument; a request that the
  // memory plan says cannot fit throws ResourceError before any work.
  virtual GenerationResult generate(const GenerationRequest& request, StepObserver* observer = nullptr,
                                    const std::atomic<bool>* cancel = nullptr) = 0;
  virtual MemoryEstimate estimate(const GenerationRequest& request) const = 0;
  virtual std::string label() const = 0;  // "demo (random weights)", "FLUX.1-dev (diffusers)", ...
  virtual bool is_demo() const = 0;
  // The model's training resolution (DyPE's base) and default step count (components.h: base_resolution_of...).
  virtual int base_resolution() const = 0;
  virtual int default_steps() const = 0;
  virtual bool is_schnell() const = 0;
  // Whether the text encoders are loaded now (false after the plan released them; the next new prompt maps them
  // again).
  virtual bool text_encoders_loaded() const = 0;
  // What the model set holds in memory, as planned from its file headers (the demo: from its parameters).
  virtual const ModelFootprint& footprint() const = 0;
};

}  // namespace dype
