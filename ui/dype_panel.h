#pragma once
// DypePanel: how RoPE is extrapolated beyond the model's training grid (method, DyPE on/off, YaRN form, λs, λt,
// base resolution) and the FLUX time shift (policy, resulting μ). A control the chosen method does not use is
// disabled and its tooltip says why.
#include <QWidget>
#include <cstdint>

#include "core/pipeline/generation_request.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSlider;
class QSpinBox;

namespace dype::ui {

class DypePanel : public QWidget {
  Q_OBJECT

 public:
  explicit DypePanel(QWidget* parent = nullptr);

  dype::DypeConfig config() const;
  void setConfig(const dype::DypeConfig& config);

  // Inputs of the μ readout: image token count of the chosen size and whether the loaded model is schnell.
  void setImageTokens(std::int64_t tokens);
  void setSchnell(bool schnell);
  QString muText() const;

  void apply(dype::GenerationRequest& request) const;
  void load(const dype::GenerationRequest& request);

 public slots:
  void resetToPaperDefaults();

 signals:
  void changed();

 private:
  struct LambdaControl {
    QSlider* slider = nullptr;
    QDoubleSpinBox* spin = nullptr;
  };
  LambdaControl makeLambda(const QString& name);
  void connectLambda(const LambdaControl& c);
  void setLambda(const LambdaControl& c, double value);
  void setLambdaEnabled(const LambdaControl& c, bool enabled, const QString& why);
  void updateEnabled();
  void updateMu();
  void emitChanged();

  QComboBox* m_method;
  QCheckBox* m_dynamic;
  QComboBox* m_yarnForm;
  LambdaControl m_lambdaS;
  LambdaControl m_lambdaT;
  QSpinBox* m_baseResolution;
  QCheckBox* m_isotropic;
  QComboBox* m_shift;
  QDoubleSpinBox* m_fixedMu;
  QDoubleSpinBox* m_baseShift;
  QDoubleSpinBox* m_maxShift;
  QLabel* m_muLabel;
  QPushButton* m_reset;
  std::int64_t m_tokens = 4096;
  bool m_schnell = false;
  bool m_loading = false;
};

}  // namespace dype::ui
