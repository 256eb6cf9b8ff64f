#pragma once
// ResolutionPanel: output size. Presets in four megapixel classes (1024², 2048², 3072², 4096²) with common aspect
// ratios near each class, or a custom width × height in multiples of 16; shows megapixels and image tokens and
// says why a size is refused (dype::validate_size).
#include <QSize>
#include <QString>
#include <QVector>
#include <QWidget>

#include "core/pipeline/generation_request.h"

class QComboBox;
class QLabel;
class QSpinBox;
class QToolButton;

namespace dype::ui {

struct ResolutionPreset {
  QString label;  // "4 MP · 16:9 · 2736×1536"
  int width = 0;
  int height = 0;
};

// All presets, grouped by class (1, 4, 9, 16 MP); each size a multiple of 16 and at most 4096² pixels.
QVector<ResolutionPreset> resolutionPresets();

class ResolutionPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ResolutionPanel(QWidget* parent = nullptr);

  QSize size() const;
  void setSize(int width, int height);
  bool isValid() const;     // a size the pipeline accepts
  QString problem() const;  // why not, empty when valid

  void apply(dype::GenerationRequest& request) const;
  void load(const dype::GenerationRequest& request);

 Q_SIGNALS:
  void sizeChanged(int width, int height);

 private:
  void presetChosen(int index);
  void spinChanged();
  void snapToMultipleOf16();
  void swapOrientation();
  void updateInfo();

  QComboBox* m_presets;
  QSpinBox* m_width;
  QSpinBox* m_height;
  QToolButton* m_swap;
  QLabel* m_info;
  QString m_problem;
  bool m_updating = false;
};

}  // namespace dype::ui
