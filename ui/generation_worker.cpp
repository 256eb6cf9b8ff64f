#include "ui/generation_worker.h"

#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <QElapsedTimer>
#include <new>

#include "core/common/error.h"
#include "core/pipeline/components.h"
#include "core/pipeline/memory_plan.h"
#include "core/pipeline/throughput.h"
#include "ui/image_convert.h"
#include "ui/model_choice.h"

namespace dype::ui {
namespace {

// Forwards the pipeline's callbacks (on the worker thread) as queued signals and answers "stop?" from the flag.
class SignalObserver final : public dype::StepObserver {
 public:
  SignalObserver(GenerationWorker* worker, const std::atomic<bool>* cancel) : m_worker(worker), m_cancel(cancel) {}

  void on_stage(const std::string& stage) override {
    Q_EMIT m_worker->stageChanged(stage == "loading" ? QStringLiteral("loading model") : QString::fromStdString(stage));
  }
  bool on_block(int step, int totalSteps, int block, int totalBlocks) override {
    // Coalesced at the source: a queued signal per block could flood the GUI thread's queue on a fast device.
    if (!m_sinceBlock.isValid() || m_sinceBlock.elapsed() >= kBlockProgressIntervalMs) {
      m_sinceBlock.start();
      Q_EMIT m_worker->blockProgress(step, totalSteps, block, totalBlocks);
    }
    return !m_cancel->load();
  }
  bool on_step(const dype::StepProgress& p) override {
    Q_EMIT m_worker->progress(p.step, p.total, p.sigma, p.elapsed_s, p.eta_s);
    return !m_cancel->load();
  }
  void on_preview(int step, const dype::RgbImage& preview) override {
    QImage image = toDisplayImage(preview);  // converted here, off the GUI thread
    if (!image.isNull()) Q_EMIT m_worker->preview(step, image);
  }
  bool on_decode_tile(int done, int total) override {
    Q_EMIT m_worker->decodeProgress(done, total);
    return !m_cancel->load();
  }
  bool on_encode_tile(int done, int total) override {
    Q_EMIT m_worker->encodeProgress(done, total);
    return !m_cancel->load();
  }
  void on_note(const std::string& note) override { Q_EMIT m_worker->note(QString::fromStdString(note)); }
  void on_pass(int pass, int passes, int width, int height, int stepsRun, int steps) override {
    Q_EMIT m_worker->passStarted(pass, passes, width, height, stepsRun, steps);
  }

 private:
  GenerationWorker* m_worker;
  const std::atomic<bool>* m_cancel;
  QElapsedTimer m_sinceBlock;  // since the last blockProgress signal
};

QString firstLine(const char* text) {
  const QString s = QString::fromUtf8(text).trimmed();
  const qsizetype nl = s.indexOf(QLatin1Char('\n'));
  return nl < 0 ? s : s.left(nl);
}

}  // namespace

QString describeFailure(const std::exception& error, bool whileLoading) {
  const QString what = QString::fromUtf8(error.what());
  const QString modelAdvice =
      QStringLiteral("\n\nChoose a diffusers folder or the single files in the Model panel, or select the demo model.");
  if (dynamic_cast<const dype::ResourceError*>(&error))
    return QStringLiteral("Not enough memory: %1\n\nChoose a smaller size, another device or precision.").arg(what);
  if (dynamic_cast<const dype::InvalidArgument*>(&error)) return QStringLiteral("Invalid setting: %1").arg(what);
  if (dynamic_cast<const dype::IoError*>(&error))
    return whileLoading ? QStringLiteral("Could not read the model: %1").arg(what) + modelAdvice
                        : QStringLiteral("File error: %1").arg(what);
  if (dynamic_cast<const dype::FormatError*>(&error))
    return QStringLiteral("The model file is damaged or not a safetensors checkpoint: %1").arg(what) + modelAdvice;
  if (dynamic_cast<const dype::ModelError*>(&error))
    return QStringLiteral("The model does not look like FLUX.1: %1").arg(what) + modelAdvice;
  if (dynamic_cast<const dype::Error*>(&error))
    return whileLoading ? QStringLiteral("Could not load the model: %1").arg(what) + modelAdvice : what;
  if (dynamic_cast<const std::bad_alloc*>(&error))
    return QStringLiteral("Out of memory. Choose a smaller size or close other programs.");
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&error)) {
    const QString msg = firstLine(c10->what_without_backtrace());
    if (msg.contains(QLatin1String("out of memory"), Qt::CaseInsensitive))
      return QStringLiteral("The device ran out of memory: %1\n\nChoose a smaller size or another precision.").arg(msg);
    return QStringLiteral("LibTorch error: %1").arg(msg);
  }
  return QStringLiteral("Unexpected error: %1").arg(firstLine(error.what()));
}

GenerationWorker::GenerationWorker(QObject* parent) : QObject(parent) {
  registerMetaTypes();
  // Large activations reused between steps instead of re-faulted (3× faster steps on the CPU, bench/NOTES.md).
  // Process-wide and idempotent: every window's worker, the app and the GUI tests alike.
  dype::tune_allocator_for_large_tensors();
}

GenerationWorker::~GenerationWorker() = default;

void GenerationWorker::registerMetaTypes() {
  qRegisterMetaType<dype::ui::GenerationJob>();
  qRegisterMetaType<dype::ui::EstimateInfo>();
  qRegisterMetaType<dype::ui::GenerationOutput>();
}

void GenerationWorker::cancel() { m_cancel.store(true); }
void GenerationWorker::resetCancel() { m_cancel.store(false); }
bool GenerationWorker::isCancelRequested() const { return m_cancel.load(); }

GenerationWorker::Outcome GenerationWorker::guarded(const std::function<void()>& body, QString* message) {
  c10::InferenceMode inference;  // thread-local, so it is opened here, in the worker thread
  m_loading = false;
  try {
    body();
    return Outcome::Done;
  } catch (const dype::Cancelled&) {
    return Outcome::Cancelled;
  } catch (const std::exception& e) {
    *message = describeFailure(e, m_loading);
  } catch (...) {
    *message = QStringLiteral("Unexpected error of unknown type.");
  }
  return Outcome::Failed;
}

void GenerationWorker::ensureLoaded(const GenerationJob& job) {
  if (m_pipeline && samePaths(m_loadedPaths, job.paths) && sameOptions(m_loadedOptions, job.options)) return;
  m_pipeline.reset();  // free the old weights before the new ones arrive
  m_loading = true;
  Q_EMIT stageChanged(QStringLiteral("loading model"));
  SignalObserver observer(this, &m_cancel);
  m_pipeline = dype::FluxPipeline::load(job.paths, withSpeed(job.options), &observer);
  m_loadedPaths = job.paths;
  m_loadedOptions = job.options;
  m_loading = false;
  Q_EMIT modelLoaded(QString::fromStdString(m_pipeline->label()), m_pipeline->is_demo(), m_pipeline->is_schnell());
}

void GenerationWorker::generate(const GenerationJob& job) {
  QElapsedTimer clock;
  clock.start();
  QString message;
  bool wasCancelled = false;
  const Outcome outcome = guarded(
      [&] {
        // Planned from the file headers first: a request that cannot fit is refused before any weight is read,
        // with the plan's own advice. Once loaded, FluxPipeline::generate makes the same refusal itself.
        EstimateInfo info = estimateFor(job);
        const bool fitsBeforeLoading = info.memory.fits;
        if (fitsBeforeLoading) {
          ensureLoaded(job);
          info.memory = m_pipeline->estimate(job.request);
        }
        Q_EMIT estimated(info);
        if (!fitsBeforeLoading) throw dype::ResourceError(info.memory.advice);
        if (m_cancel.load()) throw dype::Cancelled();
        SignalObserver observer(this, &m_cancel);
        auto result = std::make_shared<dype::GenerationResult>(m_pipeline->generate(job.request, &observer, &m_cancel));
        if (result->cancelled) {
          wasCancelled = true;
          return;
        }
        GenerationOutput output;
        output.image = toDisplayImage(result->image);
        output.pyramid = halfSizePyramid(output.image);
        output.thumbnail =
            output.image.scaled(kThumbnailSize, kThumbnailSize, Qt::KeepAspectRatio, Qt::SmoothTransformation);
        output.result = std::move(result);
        output.seconds = double(clock.elapsed()) / 1000.0;
        Q_EMIT finished(output);
      },
      &message);
  if (outcome == Outcome::Cancelled || wasCancelled) {
    Q_EMIT cancelled();
  } else if (outcome == Outcome::Failed) {
    Q_EMIT failed(message);
  }
}

void GenerationWorker::estimate(const GenerationJob& job) {
  QString message;
  const Outcome outcome = guarded([&] { Q_EMIT estimated(estimateFor(job)); }, &message);
  if (outcome == Outcome::Failed) Q_EMIT estimateFailed(message);
}

void GenerationWorker::releaseModel() { m_pipeline.reset(); }

dype::LoadOptions GenerationWorker::withSpeed(dype::LoadOptions options) {
  const at::Device device = dype::parse_device(options.target.device);
  const dype::Throughput speed =
      dype::cached_throughput(device, dype::parse_compute_dtype(options.target.dtype, device));
  options.flops_per_second = speed.flops_per_second;
  options.convert_elements_per_second = speed.convert_elements_per_second;
  return options;
}

EstimateInfo GenerationWorker::estimateFor(const GenerationJob& job) {
  EstimateInfo info{planFor(job), job.request.steps, job.request.width, job.request.height, QString()};
  const bool loaded = m_pipeline && samePaths(m_loadedPaths, job.paths) && sameOptions(m_loadedOptions, job.options);
  const dype::ModelFootprint* fp = loaded ? &m_pipeline->footprint() : m_footprint.get();
  if (fp) info.details = QString::fromStdString(dype::describe_plan(*fp, info.memory));
  return info;
}

dype::MemoryEstimate GenerationWorker::planFor(const GenerationJob& job) {
  const dype::LoadOptions options = withSpeed(job.options);
  if (m_pipeline && samePaths(m_loadedPaths, job.paths) && sameOptions(m_loadedOptions, job.options))
    return m_pipeline->estimate(job.request);
  if (!m_footprint || !samePaths(m_footprintPaths, job.paths) || !sameOptions(m_footprintOptions, job.options)) {
    m_loading = true;  // reading the model's headers: a failure here is a model-path problem, like a load failure
    m_footprint = std::make_unique<dype::ModelFootprint>(dype::model_footprint(job.paths, options));
    m_loading = false;
    m_footprintPaths = job.paths;
    m_footprintOptions = job.options;
  }
  const at::Device device = dype::parse_device(options.target.device);
  return dype::plan_generation(*m_footprint, job.request, options, dype::available_memory_bytes(device),
                               dype::Throughput{options.flops_per_second, options.convert_elements_per_second});
}

}  // namespace dype::ui
