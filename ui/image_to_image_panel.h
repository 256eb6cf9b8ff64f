#pragma once
// ImageToImagePanel: where a run starts from and how many passes it takes.
//   Start image — empty (text-to-image), or a PNG/JPEG picked with "Open…" or dropped on the panel; its strength
//   (share of the schedule re-run: 1 = text-to-image) and how it is fitted to the output size (crop / stretch).
//   The label under it says what the fit will do ("1536×1024 → … 256 px cropped left and right → 1024×1024"),
//   computed from the file's header with the same plan the pipeline applies (image::plan_fit).
//   Hi-res refine — pass 1 at a base size (auto: the DyPE base area with the output's aspect), upscaled, then
//   re-denoised at the output size from part-way down the schedule (img2img with DyPE).
// Both go into GenerationRequest (init_image, strength, init_fit; refine) and come back from a dropped PNG.
#include <QSize>
#include <QString>
#include <QWidget>

#include "core/pipeline/generation_request.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace dype::ui {

class ImageToImagePanel : public QWidget {
  Q_OBJECT

 public:
  explicit ImageToImagePanel(QWidget* parent = nullptr);

  QString initImage() const { return m_path; }
  // Sets (or with an empty path clears) the start image. A file that cannot be read as an image is refused with
  // the reason in the panel's label, and the previous choice stays.
  bool setInitImage(const QString& path);
  double strength() const;
  void setStrength(double s);
  bool refineEnabled() const;
  void setRefineEnabled(bool on);
  // The output size the fit and the auto base size are computed for (the Size panel's).
  void setOutputSize(int width, int height, int baseResolution);
  void setSteps(int steps);    // the Sampling panel's steps (pass 2 defaults to them)
  QString fitText() const;     // what the fit will do, as shown
  QString refineText() const;  // "pass 1 at 1024×1024, then 17 of 28 steps at 4096×4096"

  void apply(dype::GenerationRequest& request) const;
  void load(const dype::GenerationRequest& request);

 Q_SIGNALS:
  void changed();

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void openDialog();
  void updateTexts();

  QString m_path;
  QSize m_imageSize;  // of the start image, from its header
  QSize m_output{1024, 1024};
  int m_baseResolution = 1024;
  int m_steps = 28;  // the Sampling panel's, for the refine text (load/apply keep it in step)

  QLabel* m_file;
  QPushButton* m_open;
  QPushButton* m_clear;
  QDoubleSpinBox* m_strength;
  QComboBox* m_fit;
  QLabel* m_fitInfo;
  QGroupBox* m_refine;
  QCheckBox* m_autoBase;
  QSpinBox* m_baseWidth;
  QSpinBox* m_baseHeight;
  QDoubleSpinBox* m_refineStrength;
  QSpinBox* m_refineSteps;
  QComboBox* m_upscale;
  QLabel* m_refineInfo;
};

}  // namespace dype::ui
