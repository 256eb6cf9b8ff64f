#pragma once
// GenerationWorker: the one long-lived QObject that runs FluxPipeline on its own QThread (DESIGN.md §5).
// Requests come in by queued signal (generate / estimate slots); everything goes out by queued signals carrying
// values. The GUI thread never waits on it: cancel() only sets an atomic flag that the pipeline checks after every
// transformer block, T5 layer and VAE tile (a real-size CPU step takes minutes; a cancel does not wait for it).
// The loaded pipeline is cached and reloaded only when the paths or load options change.
#include <QImage>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/generation_request.h"
#include "core/pipeline/model_footprint.h"

namespace dype::ui {

// One run: which model, how to load it, what to generate.
struct GenerationJob {
  dype::ModelPaths paths;
  dype::LoadOptions options;
  dype::GenerationRequest request;
};

// The pipeline's memory plan and speed estimate for a request, before it runs.
struct EstimateInfo {
  dype::MemoryEstimate memory;
  int steps = 0;
  int width = 0;
  int height = 0;
  QString details;  // the whole plan for people: what was counted per component and phase (describe_plan)
};

// Least time between two blockProgress signals (at most 20 a second: a label, not an animation).
inline constexpr int kBlockProgressIntervalMs = 50;

// A finished run. The result is shared, not copied: a 16 MP result holds ~150 MB of pixels (8 + 16 bit).
inline constexpr int kThumbnailSize = 96;

struct GenerationOutput {
  std::shared_ptr<const dype::GenerationResult> result;
  QImage image;                 // the result as Format_RGB32, ready to paint
  QImage thumbnail;             // for the history strip (scaling 16 MP is not a job for the GUI thread)
  std::vector<QImage> pyramid;  // half-size levels of `image` for the zoomed-out view
  double seconds = 0;
};

class GenerationWorker : public QObject {
  Q_OBJECT

 public:
  explicit GenerationWorker(QObject* parent = nullptr);
  ~GenerationWorker() override;

  // Thread-safe: called directly from the GUI thread. The run stops after the current transformer block, T5 layer
  // or VAE tile.
  void cancel();
  // Called by the GUI thread before it queues a new request (never while one runs).
  void resetCancel();
  bool isCancelRequested() const;

  static void registerMetaTypes();

 public Q_SLOTS:
  void generate(const dype::ui::GenerationJob& job);
  void estimate(const dype::ui::GenerationJob& job);
  void releaseModel();

 Q_SIGNALS:
  void modelLoaded(const QString& label, bool isDemo, bool isSchnell);
  // "loading model", "reading image", "encoding", "upscaling", "encoding image", "denoising", "decoding"
  void stageChanged(const QString& stage);
  void progress(int step, int total, double sigma, double elapsedSeconds, double etaSeconds);
  // Inside step `step` (1-based, in progress): `block` of `totalBlocks` transformer blocks done. Throttled to at
  // most kBlockProgressIntervalMs apart (57 blocks per step can come fast), so not every block is reported.
  void blockProgress(int step, int totalSteps, int block, int totalBlocks);
  void decodeProgress(int tilesDone, int tilesTotal);
  void encodeProgress(int tilesDone, int tilesTotal);  // the VAE encode of a start image / refine picture
  // A pass begins (a refine run has 2): its size and the steps it runs of its schedule.
  void passStarted(int pass, int passes, int width, int height, int stepsRun, int steps);
  void note(const QString& text);  // how the start image was fitted or converted: for the status line
  void preview(int step, const QImage& image);
  void estimated(const dype::ui::EstimateInfo& info);
  void estimateFailed(const QString& message);
  void finished(const dype::ui::GenerationOutput& output);
  void failed(const QString& message);
  void cancelled();

 private:
  enum class Outcome { Done, Cancelled, Failed };
  // The one try/catch: runs `body` under c10::InferenceMode and turns what core throws into a message.
  Outcome guarded(const std::function<void()>& body, QString* message);
  void ensureLoaded(const GenerationJob& job);

  // The plan of `job` without loading anything: the loaded pipeline's when it is the one asked for, else from the
  // file headers (the footprint is kept per model). Measures this device's speed once (cached on disk).
  dype::MemoryEstimate planFor(const GenerationJob& job);
  // planFor's result with its description, for the estimated() signal.
  EstimateInfo estimateFor(const GenerationJob& job);
  // `options` with the measured speed of its device filled in (the time estimate needs it).
  static dype::LoadOptions withSpeed(dype::LoadOptions options);

  std::unique_ptr<dype::ModelFootprint> m_footprint;
  dype::ModelPaths m_footprintPaths;
  dype::LoadOptions m_footprintOptions;
  std::unique_ptr<dype::FluxPipeline> m_pipeline;
  dype::ModelPaths m_loadedPaths;
  dype::LoadOptions m_loadedOptions;
  std::atomic<bool> m_cancel{false};
  bool m_loading = false;  // guarded() tells load failures apart from run failures
};

// A message for people: what went wrong and what to do, from a core exception (used by the worker's catch).
QString describeFailure(const std::exception& error, bool whileLoading);

}  // namespace dype::ui

Q_DECLARE_METATYPE(dype::ui::GenerationJob)
Q_DECLARE_METATYPE(dype::ui::EstimateInfo)
Q_DECLARE_METATYPE(dype::ui::GenerationOutput)
