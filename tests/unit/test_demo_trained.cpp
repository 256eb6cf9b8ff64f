// test-deps: pipeline shapes train
// The trainable demo model (issue 12): a `dype train-demo` run of a few steps writes a file that loads back through
// --demo-weights with the conventions it was trained with (base resolution and T5 length from its metadata, 20
// steps, schnell-style), the frozen text encoders tell captions apart, and broken weights files are refused with
// messages that name the file and the fix. (No trained weights are committed yet: see the README.)
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "core/pipeline/demo_model.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/model_footprint.h"
#include "core/train/demo_trainer.h"
#include "tests/support/error_of.h"

using namespace dype;

class TestDemoTrained : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  train::TrainingReport report_;
  ModelPaths paths_;  // the trained demo from report_.weights_path
  std::unique_ptr<FluxPipeline> pipe_;

 private slots:
  void initTestCase() {
    // A few steps at 64 px: this checks the file, its loading and its conventions, not picture quality.
    train::DemoTrainingOptions o;
    o.output_dir = dir_.filePath(QStringLiteral("run")).toStdString();
    o.resolution = 64;
    o.vae_steps = 2;
    o.vae_batch = 2;
    o.vae_sizes = {32, 64};
    o.pictures = 4;
    o.flux_steps = 2;
    o.flux_batch = 2;
    o.log_every = 1;
    report_ = train::train_demo(o, [](const std::string&) {});
    paths_.model = kDemoModel;
    paths_.demo_weights = report_.weights_path;
    pipe_ = FluxPipeline::load(paths_, LoadOptions{});
  }

  void trainerWritesWeightsAndLosses() {
    QVERIFY(std::filesystem::exists(report_.weights_path));
    QVERIFY(std::filesystem::exists(report_.plot_path));
    QVERIFY(report_.vae_scale > 0);
    std::ifstream csv(report_.loss_path);
    std::string header, line;
    std::getline(csv, header);
    QCOMPARE(QString::fromStdString(header), QString("phase,step,loss,lr,seconds"));
    int rows = 0;
    while (std::getline(csv, line)) ++rows;
    QCOMPARE(rows, 4);  // 2 autoencoder + 2 transformer steps, logged every step
  }

  void conventionsComeFromTheModel() {
    QCOMPARE(QString::fromStdString(pipe_->label()), QString(kDemoLabel));
    QVERIFY(pipe_->is_demo());
    QVERIFY(pipe_->is_schnell());            // no guidance embedding
    QCOMPARE(pipe_->base_resolution(), 64);  // from the file's metadata: what it was trained at
    QCOMPARE(pipe_->default_steps(), kTrainedDemoSteps);
    const ModelFootprint fp = model_footprint(paths_, LoadOptions{});
    QCOMPARE(fp.t5_length, kTrainedDemoT5Length);
    QCOMPARE(fp.base_resolution, 64);
    const flux::FluxConfig c = trained_demo_flux_config();
    QCOMPARE(int(c.depth), 2);
    QCOMPARE(int(c.depth_single_blocks), 4);
    GenerationRequest r;
    r.prompt = "a red star on a blue background, top left";
    r.width = r.height = 64;
    r.steps = 2;
    r.preview_every = 0;
    const GenerationResult res = pipe_->generate(r);
    QCOMPARE(res.image.width, 64);
    QCOMPARE(QString::fromStdString(res.model_label), QString(kDemoLabel));
  }

  // The frozen text encoders tell captions apart: different captions give different T5 states and CLIP pooled
  // vectors (the transformer can only follow a caption the encoders distinguish).
  void captionEmbeddingsDiffer() {
    PipelineComponents c;
    make_demo_text(c, at::kFloat, at::kCPU);
    auto embed = [&](const std::string& caption) {
      const at::Tensor y = c.clip->forward(c.clip_tokenizer->encode_tensor(caption, 77)).pooled;           // [1, 64]
      const at::Tensor txt = c.t5->forward(c.t5_tokenizer->encode_tensor(caption, kTrainedDemoT5Length));  // [1, L, 32]
      return std::make_pair(y, txt);
    };
    const auto [y1, t1] = embed("a red star on a blue background, top left");
    const auto [y2, t2] = embed("a yellow circle on a black background, center");
    const double dy = (y1 - y2).abs().max().item<double>(), dt = (t1 - t2).abs().max().item<double>();
    qInfo("pooled max |Δ| %.4g (max |y| %.4g), T5 max |Δ| %.4g (max |txt| %.4g)", dy, y1.abs().max().item<double>(), dt,
          t1.abs().max().item<double>());
    QVERIFY(dy > 1e-2);
    QVERIFY(dt > 1e-2);
  }

  void brokenWeightsAreRefusedWithTheirName() {
    const std::string junk = dir_.filePath(QStringLiteral("junk.safetensors")).toStdString();
    std::ofstream(junk) << "not a safetensors file";
    ModelPaths paths;
    paths.model = kDemoModel;
    paths.demo_weights = junk;
    const std::string e1 = test::error_of([&] { FluxPipeline::load(paths, LoadOptions{}); });
    QVERIFY2(e1.find("junk.safetensors") != std::string::npos, e1.c_str());

    // A valid safetensors file that is not a demo model: the message says how to make one.
    const std::string other = dir_.filePath(QStringLiteral("other.safetensors")).toStdString();
    io::save_safetensors(other, {{"x", at::zeros({2})}});
    paths.demo_weights = other;
    const std::string e2 = test::error_of([&] { FluxPipeline::load(paths, LoadOptions{}); });
    QVERIFY2(e2.find("dype train-demo") != std::string::npos, e2.c_str());

    paths.model = kDemoRandomModel;  // --demo-weights only applies to the trained demo
    const std::string e3 = test::error_of([&] { FluxPipeline::load(paths, LoadOptions{}); });
    QVERIFY2(e3.find("--demo-weights") != std::string::npos, e3.c_str());
  }
};

QTEST_GUILESS_MAIN(TestDemoTrained)
#include "test_demo_trained.moc"
