#pragma once
// What the user chose in the model panel, remembered as a whole: the source kind plus every path typed so far
// (switching to the demo model and back must not forget the diffusers folder), device and precision.
#include <QString>

#include "core/pipeline/flux_pipeline.h"

namespace dype::ui {

struct ModelChoice {
  enum class Source { Demo, Diffusers, SingleFiles };

  Source source = Source::Demo;
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

  static QString sourceName(Source s);             // "demo", "diffusers", "files"
  static Source parseSource(const QString& name);  // unknown names give Demo
};

bool samePaths(const dype::ModelPaths& a, const dype::ModelPaths& b);
bool sameOptions(const dype::LoadOptions& a, const dype::LoadOptions& b);

}  // namespace dype::ui
