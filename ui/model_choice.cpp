#include "ui/model_choice.h"

#include <algorithm>
#include <cstdint>

#include "core/pipeline/demo_model.h"

namespace dype::ui {

dype::ModelPaths ModelChoice::paths() const {
  dype::ModelPaths p;
  switch (source) {
    case Source::Demo: p.model = dype::kDemoModel; break;
    case Source::DemoRandom: p.model = dype::kDemoRandomModel; break;
    case Source::Diffusers: p.model = diffusersFolder.toStdString(); break;
    case Source::SingleFiles:
      p.model = transformerFile.toStdString();
      p.vae = vaeFile.toStdString();
      p.clip = clipFile.toStdString();
      p.t5 = t5File.toStdString();
      p.tokenizers = tokenizerFolder.toStdString();
      break;
  }
  return p;
}

dype::LoadOptions ModelChoice::loadOptions() const {
  dype::LoadOptions o;
  o.target.device = device.toStdString();
  o.target.dtype = dtype.toStdString();
  o.max_memory_bytes = std::uint64_t(std::max(0, maxMemoryMiB)) << 20;
  return o;
}

QString ModelChoice::sourceName(Source s) {
  switch (s) {
    case Source::Demo: return QStringLiteral("demo");
    case Source::DemoRandom: return QStringLiteral("demo-random");
    case Source::Diffusers: return QStringLiteral("diffusers");
    case Source::SingleFiles: return QStringLiteral("files");
  }
  return QStringLiteral("demo");
}

ModelChoice::Source ModelChoice::parseSource(const QString& name) {
  if (name == QLatin1String("diffusers")) return Source::Diffusers;
  if (name == QLatin1String("files")) return Source::SingleFiles;
  if (name == QLatin1String("demo-random")) return Source::DemoRandom;
  return dype::has_trained_demo() ? Source::Demo : Source::DemoRandom;
}

ModelDefaults defaultsOf(const ModelChoice& choice) {
  // The trained demo at 4× its base per side (demo_model.h says why), as `dype generate` does.
  if (choice.source == ModelChoice::Source::Demo)
    return {dype::kTrainedDemoBase, dype::kTrainedDemoSteps, dype::kTrainedDemoSizeOverBase * dype::kTrainedDemoBase};
  return {};
}

bool samePaths(const dype::ModelPaths& a, const dype::ModelPaths& b) {
  return a.model == b.model && a.demo_weights == b.demo_weights && a.vae == b.vae && a.clip == b.clip && a.t5 == b.t5 &&
         a.tokenizers == b.tokenizers;
}

bool sameOptions(const dype::LoadOptions& a, const dype::LoadOptions& b) {
  return a.target == b.target && a.text_encoders_on_cpu == b.text_encoders_on_cpu &&
         a.text_encoders == b.text_encoders && a.max_memory_bytes == b.max_memory_bytes;
}

}  // namespace dype::ui
