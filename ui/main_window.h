#pragma once
// MainWindow: wires the panels, the image view, the frequency plot and the history strip to the one
// GenerationWorker on its own QThread (DESIGN.md §5). The GUI thread never waits on the pipeline.
#include <QImage>
#include <QMainWindow>
#include <QThread>
#include <QTimer>
#include <functional>
#include <memory>

#include "ui/generation_worker.h"
#include "ui/model_choice.h"

class QAction;
class QLabel;
class QSplitter;

namespace dype::ui {

class DypePanel;
class FluxPanel;
class FrequencyPlot;
class HistoryStrip;
class ImageToImagePanel;
class LoraPanel;
class ImageView;
class ModelPanel;
class PromptPanel;
class ResolutionPanel;
class RunPanel;
class Settings;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(Settings& settings, QWidget* parent = nullptr);
  ~MainWindow() override;

  // The request the controls describe now (the seed as shown; "random" draws a new one only on Generate).
  dype::GenerationRequest currentRequest() const;
  GenerationJob currentJob() const;
  void restoreRequest(const dype::GenerationRequest& request);
  bool restoreFromPng(const QString& path);  // false (and a status message) when the file has no settings

  bool isRunning() const { return m_running; }
  std::shared_ptr<const dype::GenerationResult> currentResult() const { return m_result; }
  bool saveImage(const QString& path, int bitDepth);  // runs in the background; saved()/saveFailed() follow
  void copyImage();

  PromptPanel* promptPanel() const { return m_prompt; }
  ResolutionPanel* resolutionPanel() const { return m_resolution; }
  FluxPanel* fluxPanel() const { return m_flux; }
  DypePanel* dypePanel() const { return m_dype; }
  LoraPanel* loraPanel() const { return m_lora; }
  ImageToImagePanel* imageToImagePanel() const { return m_img2img; }
  ModelPanel* modelPanel() const { return m_model; }
  RunPanel* runPanel() const { return m_run; }
  ImageView* imageView() const { return m_view; }
  FrequencyPlot* frequencyPlot() const { return m_plot; }
  HistoryStrip* historyStrip() const { return m_history; }
  GenerationWorker* worker() const { return m_worker; }

  // Save asks for a file name through this function (QFileDialog::getSaveFileName's signature); null = that
  // dialog. A hook so that tests can drive Ctrl+S without a modal dialog blocking them.
  using SaveFileFunction = std::function<QString(QWidget* parent, const QString& caption, const QString& start,
                                                 const QString& filters, QString* selectedFilter)>;
  void setSaveFileFunction(SaveFileFunction function) { m_saveFileFunction = std::move(function); }

 public Q_SLOTS:
  void startGeneration();
  void cancelGeneration();

 Q_SIGNALS:
  // To the worker (queued: it lives on m_workerThread).
  void generationRequested(const dype::ui::GenerationJob& job);
  void estimateRequested(const dype::ui::GenerationJob& job);
  // For observers (tests, --screenshot).
  void runStarted();
  void stepShown(int step, int total);
  void previewShown(int step);
  void runFinished();
  void runFailed(const QString& message);
  void runCancelled();
  void saved(const QString& path);
  void saveFailed(const QString& message);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void buildActions();
  void buildLayout();
  void connectWorker();
  void loadSettings();
  void saveSettings();

  void settingsChanged();
  // The DyPE base resolution and step count follow a change of model, unless the user changed them.
  void followModelDefaults();
  void updatePlot();
  void scheduleEstimate();
  void requestEstimate();

  void onModelLoaded(const QString& label, bool isDemo, bool isSchnell);
  void onStage(const QString& stage);
  void onProgress(int step, int total, double sigma, double elapsed, double eta);
  void onPreview(int step, const QImage& image);
  void showPendingPreview();
  void onEstimated(const dype::ui::EstimateInfo& info);
  void onEstimateFailed(const QString& message);
  void onFinished(const dype::ui::GenerationOutput& output);
  void onFailed(const QString& message);
  void onCancelled();
  void runEnded();
  void showHistoryEntry(int index);
  void saveDialog();
  void openPngDialog();
  void showError(const QString& title, const QString& message);

  Settings& m_settings;
  QThread m_workerThread;
  GenerationWorker* m_worker = nullptr;

  PromptPanel* m_prompt = nullptr;
  ResolutionPanel* m_resolution = nullptr;
  FluxPanel* m_flux = nullptr;
  DypePanel* m_dype = nullptr;
  LoraPanel* m_lora = nullptr;
  ImageToImagePanel* m_img2img = nullptr;
  ModelPanel* m_model = nullptr;
  RunPanel* m_run = nullptr;
  ImageView* m_view = nullptr;
  FrequencyPlot* m_plot = nullptr;
  HistoryStrip* m_history = nullptr;
  QSplitter* m_mainSplitter = nullptr;
  QSplitter* m_viewSplitter = nullptr;
  QLabel* m_modelStatus = nullptr;

  QAction* m_generateAction = nullptr;
  QAction* m_cancelAction = nullptr;
  QAction* m_saveAction = nullptr;
  QAction* m_copyAction = nullptr;

  bool m_running = false;
  bool m_isSchnell = false;
  ModelDefaults m_modelDefaults;  // of the model whose defaults the panels show (followModelDefaults)
  dype::GenerationRequest m_runRequest;
  QString m_passText;  // "pass 2/2 (4096×4096, 17 of 28 steps)" during a refine run, else empty
  std::shared_ptr<const dype::GenerationResult> m_result;
  QImage m_resultImage;

  QImage m_pendingPreview;  // latest preview not yet shown: previews are coalesced, only the newest is drawn
  int m_pendingPreviewStep = 0;
  bool m_previewScheduled = false;

  QTimer m_estimateTimer;
  bool m_estimatePending = false;
  bool m_estimateDirty = false;
  int m_savesInFlight = 0;
  SaveFileFunction m_saveFileFunction;
};

}  // namespace dype::ui
