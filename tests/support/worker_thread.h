#pragma once
// A GenerationWorker on its own QThread, the way MainWindow runs it, and the demo-model job the worker tests send.
#include <QThread>

#include "ui/generation_worker.h"

namespace dype::test {

// The worker's signals are emitted on its own thread. QSignalSpy::wait() can miss such a signal when it arrives
// between the spy's count check and entering its event loop (a full-timeout stall, seen on CI), so worker tests
// poll with QTRY_* instead, which also keeps the test thread's event loop turning. Generous: the shared CI machine
// can be slow; a pass usually takes a second or two.
inline constexpr int kWorkerTimeoutMs = 300000;

inline ui::GenerationJob demoJob(int size, int steps, int previewEvery = 0) {
  ui::GenerationJob job;
  job.paths.model = "demo-random";  // block counts and timings of tests/gui assume its shape
  job.request.prompt = "a lighthouse on a cliff";
  job.request.width = size;
  job.request.height = size;
  job.request.steps = steps;
  job.request.seed = 7;
  job.request.preview_every = previewEvery;
  return job;
}

class WorkerThread {
 public:
  WorkerThread() {
    ui::GenerationWorker::registerMetaTypes();
    worker_ = new ui::GenerationWorker;
    worker_->moveToThread(&thread_);
    thread_.start();
  }
  ~WorkerThread() {
    worker_->cancel();  // a run still going stops after its current block
    thread_.quit();
    thread_.wait();
    delete worker_;
  }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  ui::GenerationWorker* worker() const { return worker_; }
  QThread* thread() { return &thread_; }

 private:
  QThread thread_;
  ui::GenerationWorker* worker_ = nullptr;
};

}  // namespace dype::test
