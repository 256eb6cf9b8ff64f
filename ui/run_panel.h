#pragma once
// RunPanel: Generate / Cancel, the progress bar with step, σ, speed and ETA during a run, and before a run the
// estimated time and peak memory of the chosen request.
#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace dype::ui {

class RunPanel : public QWidget {
  Q_OBJECT

 public:
  explicit RunPanel(QWidget* parent = nullptr);

  void setRunning(bool running);
  bool isRunning() const { return m_running; }
  void setStage(const QString& stage);
  // Every step count shown is the number of steps *done* ("5 / 12 steps done"), in the bar and the label alike;
  // block progress adds the step in progress after it ("… · step 6: block 3/57"), so the two never disagree.
  void setProgress(int step, int total, double sigma, double elapsedSeconds, double etaSeconds);
  void setBlockProgress(int step, int totalSteps, int block, int blocks);  // `step`: in progress, 1-based
  void setDecodeProgress(int done, int total);
  void setEncodeProgress(int done, int total);  // img2img / refine: the VAE encode of the picture
  // `details`: the whole plan, shown as the label's tooltip.
  void setEstimate(const QString& text, bool fits, const QString& details = QString());
  void setGenerateEnabled(bool enabled, const QString& why = {});

  QString progressText() const;
  QString estimateText() const;
  QProgressBar* progressBar() const { return m_bar; }
  QPushButton* generateButton() const { return m_generate; }
  QPushButton* cancelButton() const { return m_cancel; }

  static QString formatDuration(double seconds);
  static QString formatRate(double stepsPerSecond);
  static QString stepsDoneText(int done, int total);  // "5 / 12 steps done"

 Q_SIGNALS:
  void generateClicked();
  void cancelClicked();

 private:
  QPushButton* m_generate;
  QPushButton* m_cancel;
  QProgressBar* m_bar;
  QLabel* m_status;
  QLabel* m_estimate;
  bool m_running = false;
  bool m_generateAllowed = true;
  int m_firstStep = 0;
  double m_firstElapsed = 0;
};

}  // namespace dype::ui
