#pragma once
// ModelPanel: which weights to run (the built-in demo, a diffusers folder, or BFL/ComfyUI single files), on which
// device and in which precision. The demo is the out-of-the-box default and is labelled as random weights.
#include <QWidget>

#include "ui/model_choice.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QStackedWidget;

namespace dype::ui {

class ModelPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ModelPanel(QWidget* parent = nullptr);

  ModelChoice choice() const;
  void setChoice(const ModelChoice& choice);
  bool isDemo() const;

  // What the worker reports after loading ("FLUX.1-dev (diffusers)", "demo (random weights)").
  void setLoadedLabel(const QString& label);

 Q_SIGNALS:
  void changed();

 private:
  QWidget* pathRow(QLineEdit* edit, bool folder, const QString& filter);
  void sourceChanged();
  void showPage(int index);
  void showCurrentPage();  // the page of the chosen source (both demos share page 0)

  QComboBox* m_source;
  QStackedWidget* m_pages;
  QLabel* m_demoLabel;
  QLineEdit* m_diffusers;
  QLineEdit* m_transformer;
  QLineEdit* m_vae;
  QLineEdit* m_clip;
  QLineEdit* m_t5;
  QLineEdit* m_tokenizers;
  QComboBox* m_device;
  QComboBox* m_dtype;
  QDoubleSpinBox* m_memory;
  QLabel* m_loaded;
};

}  // namespace dype::ui
