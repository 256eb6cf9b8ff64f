#pragma once
// What the user chose in the model panel, remembered as a whole: the source kind plus every path typed so far
// (switching to the demo model and back must not forget the diffusers folder), device and precision.
#include <QString>

#include "core/pipeline/demo_model.h"
#include "core/pipeline/flux_pipeline.h"

namespace dype::ui {

struct ModelChoice {
  // Demo: the built-in model trained on procedural shapes; DemoRandom: the built-in random-weight model.
  enum class Source { Demo, Diffusers, SingleFiles, DemoRandom };
  bool isDemo() const { return source == Source::Demo || source == Source::DemoRandom; }

  // The trained demo when this build has its weights, else the random one.
  Source source = dype::has_trained_demo() ? Source::Demo : Source::DemoRandom;
  QString diffusersFolder;
  QString transformerFile;  // flux1-dev.safetensors (BFL / ComfyUI layout)
  QString vaeFile;          // ae.safetensors
  QString clipFile;         // clip_l.safetensors
  QString t5File;           // t5xxl_*.safetensors
  QString tokenizerFolder;  // holds tokenizer/ and tokenizer_2/
  QString device = QStringLiteral("cpu");
  QString dtype = QStringLiteral("float32");
  int maxMemoryMiB = 0;  // memory budget on the compute device (the CLI's --max-memory); 0 = what it has free

  // The pipeline's view: only the paths of the chosen source.
  dype::ModelPaths paths() const;
  dype::LoadOptions loadOptions() const;

  static QString sourceName(Source s);             // "demo", "demo-random", "diffusers", "files"
  static Source parseSource(const QString& name);  // unknown names give Demo
};

// What a model is sampled with by default, known from the choice before loading: the trained demo was trained at
// dype::kTrainedDemoBase px and samples in 20 steps at 4× that per side; FLUX.1 (and the random demo, dev-shaped)
// at 1024 px in 28 steps.
struct ModelDefaults {
  int baseResolution = 1024;
  int steps = 28;
  int size = 1024;  // square output side a first picture gets
  bool operator==(const ModelDefaults& o) const {
    return baseResolution == o.baseResolution && steps == o.steps && size == o.size;
  }
  bool operator!=(const ModelDefaults& o) const { return !(*this == o); }
};
ModelDefaults defaultsOf(const ModelChoice& choice);

bool samePaths(const dype::ModelPaths& a, const dype::ModelPaths& b);
bool sameOptions(const dype::LoadOptions& a, const dype::LoadOptions& b);

}  // namespace dype::ui
