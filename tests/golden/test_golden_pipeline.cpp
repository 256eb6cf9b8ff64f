// test-deps: pipeline
// End-to-end golden cases G_pipeline_* through FluxPipeline::load / generate, from both layouts of
// models/tiny-dev (diffusers folder; ComfyUI single files with siblings discovered beside flux.safetensors):
// noise bitwise, ids and schedule, every step's model input and prediction, the final latent and the 8-bit image.
#include <QtTest>
#include <cstdio>
#include <map>
#include <vector>

#include "core/common/error.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/sampling/noise.h"
#include "core/sampling/pack.h"
#include "tests/support/golden.h"

using namespace dype;

namespace {

const char* kCases[] = {"G_pipeline_64x64_nodype", "G_pipeline_128x320_ntk_dype", "G_pipeline_256x256_yarn_dype",
                        "G_pipeline_512x768_yarn_paper_dype"};

std::string model_path(const std::string& layout) {
  const std::string root = test::golden_root() + "/models/tiny-dev";
  return layout == "diffusers" ? root + "/diffusers" : root + "/comfy/flux.safetensors";
}

GenerationRequest request_for(const test::GoldenCase& c) {
  const auto& p = c.json.at("params");
  GenerationRequest r;
  r.prompt = c.json.at("prompt").get<std::string>();
  r.width = p.at("width").get<int>();
  r.height = p.at("height").get<int>();
  r.steps = p.at("num_steps").get<int>();
  r.seed = p.at("seed").get<std::uint64_t>();
  r.guidance = p.at("guidance").get<double>();
  const std::string method = p.at("method").get<std::string>();
  r.dype.method = method == "base" ? DypeMethod::None : parse_method(method);
  r.dype.dynamic = p.at("dype").get<bool>();
  if (p.contains("yarn_form") && p.at("yarn_form") != "static") r.dype.yarn_form = parse_yarn_form(p.at("yarn_form"));
  r.dype.lambda_s = p.at("lambda_s").get<double>();
  r.dype.lambda_t = p.at("lambda_t").get<double>();
  r.dype.base_resolution = p.at("base_resolution_px").get<int>();
  r.shift = p.at("schedule_shift").get<bool>() ? ShiftPolicy::Flux : ShiftPolicy::None;
  r.noise = sampling::NoiseConvention::Comfy;
  r.preview_every = 0;
  return r;
}

class Recorder : public StepObserver {
 public:
  std::map<int, at::Tensor> x, pred;
  void on_step_tensors(int index, const at::Tensor& xi, const at::Tensor& p) override {
    x[index] = xi.to(at::kCPU).clone();
    pred[index] = p.to(at::kCPU).clone();
  }
};

}  // namespace

class TestGoldenPipeline : public QObject {
  Q_OBJECT
  std::map<std::string, std::unique_ptr<FluxPipeline>> pipes_;

  FluxPipeline& pipeline(const std::string& layout) {
    auto& p = pipes_[layout];
    if (!p) {
      ModelPaths paths;
      paths.model = model_path(layout);
      p = FluxPipeline::load(paths, LoadOptions{});
    }
    return *p;
  }

 private slots:
  void noise_matches_the_reference_generator_bitwise_data() {
    QTest::addColumn<QString>("name");
    for (const char* c : kCases) QTest::newRow(c) << QString(c);
  }
  void noise_matches_the_reference_generator_bitwise() {
    QFETCH(QString, name);
    const auto c = test::load_case(name.toStdString());
    const auto& p = c.json.at("params");
    const at::Tensor noise = sampling::make_noise(p.at("seed").get<std::uint64_t>(), p.at("width").get<int>(),
                                                  p.at("height").get<int>(), sampling::NoiseConvention::Comfy);
    QVERIFY(at::equal(noise, c.input("noise")));
    QVERIFY(at::equal(sampling::image_ids(1, noise.size(2), noise.size(3)), c.expect("img_ids")));
    if (c.expected->contains("img_packed0")) QVERIFY(at::equal(sampling::pack_latent(noise), c.expect("img_packed0")));
  }

  void generate_matches_data() {
    QTest::addColumn<QString>("layout");
    QTest::addColumn<QString>("name");
    for (const char* layout : {"diffusers", "comfy"})
      for (const char* c : kCases)
        QTest::newRow((std::string(layout) + ":" + c).c_str()) << QString(layout) << QString(c);
  }
  void generate_matches() {
    QFETCH(QString, layout);
    QFETCH(QString, name);
    const auto c = test::load_case(name.toStdString());
    FluxPipeline& pipe = pipeline(layout.toStdString());
    QVERIFY(!pipe.is_demo());
    QVERIFY(!pipe.is_schnell());
    Recorder rec;
    const GenerationRequest req = request_for(c);
    const GenerationResult res = pipe.generate(req, &rec);
    QVERIFY(!res.cancelled);

    // Schedule.
    const at::Tensor ts = c.expect("timesteps");
    QCOMPARE(static_cast<std::int64_t>(res.sigmas.size()), ts.numel());
    const double sched = test::max_abs_diff(at::tensor(res.sigmas, at::kDouble), ts);
    QVERIFY2(sched <= 1e-6, qPrintable(QString("timesteps max abs %1").arg(sched)));

    // Every step: model input and prediction.
    const double step_tol = c.json.at("tolerance").at("stepK").at("rel_l2").get<double>();
    double worst_x = -1, worst_pred = 0;  // -1: the case stores no stepK.x (512x768: x_K follows from pred)
    for (int k = 0; k < req.steps; ++k) {
      const std::string key = "step" + std::to_string(k);
      QVERIFY2(rec.pred.count(k), key.c_str());
      worst_pred = std::max(worst_pred, test::rel_l2(rec.pred[k], c.expect(key + ".pred")));
      if (c.expected->contains(key + ".x")) worst_x = std::max(worst_x, test::rel_l2(rec.x[k], c.expect(key + ".x")));
    }
    QVERIFY2(worst_pred <= step_tol, qPrintable(QString("stepK.pred rel_l2 %1").arg(worst_pred)));
    QVERIFY2(worst_x <= step_tol, qPrintable(QString("stepK.x rel_l2 %1").arg(worst_x)));

    // Final latent and image.
    const double lat = test::rel_l2(res.latent, c.expect("latent"));
    QVERIFY2(lat <= c.json.at("tolerance").at("latent").at("rel_l2").get<double>(),
             qPrintable(QString("latent rel_l2 %1").arg(lat)));
    const at::Tensor u8 = c.expect("image_u8");  // [H, W, 3]
    QCOMPARE(res.image.width, static_cast<int>(u8.size(1)));
    QCOMPARE(res.image.height, static_cast<int>(u8.size(0)));
    const at::Tensor got = at::from_blob(const_cast<std::uint8_t*>(res.image.rgb8.data()), u8.sizes(), at::kByte);
    const int du8 = (got.to(at::kInt) - u8.to(at::kInt)).abs().max().item<int>();
    QVERIFY2(du8 <= 1, qPrintable(QString("image_u8 max diff %1").arg(du8)));
    std::printf("  %s %s: latent rel_l2 %.2e, stepK.pred %.2e, stepK.x %s, image_u8 max diff %d, timesteps %.1e\n",
                qPrintable(layout), qPrintable(name), lat, worst_pred,
                worst_x < 0 ? "not stored" : qPrintable(QString::number(worst_x, 'e', 2)), du8, sched);
  }
};

QTEST_APPLESS_MAIN(TestGoldenPipeline)
#include "test_golden_pipeline.moc"
