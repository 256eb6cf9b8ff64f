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

// Published DyPE settings by resolution (DYPE.md §2.13 and §4). Custom = whatever the controls hold.
enum class DypePreset { Custom, Auto, Paper, ComfyUI };
const char* dypePresetName(DypePreset preset);    // "custom", "auto", "paper", "comfyui" (settings)
DypePreset parseDypePreset(const QString& name);  // Custom for an unknown name
// The preset's DyPE values and time shift for an output of width×height. Paper and ComfyUI set the base
// resolution (1024 px); Auto keeps the one in `request` and measures s against it. Custom changes nothing.
void applyDypePreset(DypePreset preset, int width, int height, dype::GenerationRequest& request);

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

  // The preset combo. Choosing one writes its values; editing a value it sets turns it to Custom. Auto follows
  // the output size given by setOutputSize.
  DypePreset preset() const;
  void setPreset(DypePreset preset);
  void setOutputSize(int width, int height);
  QString lambdaSNote() const;  // the small note under λs ("" when hidden)

 public Q_SLOTS:
  void resetToPaperDefaults();

 Q_SIGNALS:
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
  void presetChosen();
  bool matchesPreset(DypePreset preset) const;

  QComboBox* m_preset;
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
  QLabel* m_lambdaSLabel;
  QLabel* m_lambdaSNote;
  QPushButton* m_reset;
  std::int64_t m_tokens = 4096;
  int m_width = 1024;
  int m_height = 1024;
  bool m_schnell = false;
  bool m_loading = false;
};

}  // namespace dype::ui
