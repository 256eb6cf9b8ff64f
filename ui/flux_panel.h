#pragma once
// FluxPanel: the sampler settings of FLUX itself: steps, guidance, seed (fixed, random per run, or the last one
// used) and how often a live preview is drawn.
#include <QWidget>
#include <cstdint>
#include <optional>

#include "core/pipeline/generation_request.h"

class QCheckBox;
class QDoubleSpinBox;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace dype::ui {

class FluxPanel : public QWidget {
  Q_OBJECT

 public:
  explicit FluxPanel(QWidget* parent = nullptr);

  // Called once per Generate: with "random" on, draws a fresh seed into the seed field.
  void prepareSeed();
  std::uint64_t seed() const;
  void setSeed(std::uint64_t seed);
  bool randomSeed() const;
  void setRandomSeed(bool on);
  // The seed of the run that just started; "Reuse last" puts it back (and turns "random" off).
  void setLastSeed(std::uint64_t seed);
  std::optional<std::uint64_t> lastSeed() const { return m_lastSeed; }

  int previewEvery() const;
  void setPreviewEvery(int steps);
  void setSchnell(bool schnell);  // schnell has no guidance embedding

  void apply(dype::GenerationRequest& request) const;
  void load(const dype::GenerationRequest& request);
  void setSteps(int steps);

 Q_SIGNALS:
  void changed();

 private:
  void reuseLastSeed();

  QSpinBox* m_steps;
  QDoubleSpinBox* m_guidance;
  QLineEdit* m_seed;
  QCheckBox* m_random;
  QPushButton* m_reuse;
  QSpinBox* m_previewEvery;
  std::optional<std::uint64_t> m_lastSeed;
};

}  // namespace dype::ui
