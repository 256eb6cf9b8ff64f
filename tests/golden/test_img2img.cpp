// test-deps: pipeline
// Image-to-image on the golden tiny-dev model, checked against this test's own computation of what diffusers'
// FluxImg2ImgPipeline does: the start index of the schedule (get_timesteps), the sigmas visited, and the start
// latent σ·noise + (1 − σ)·encode(picture) (scale_noise), built here from the golden VAE, the reference noise
// generator and a schedule written out in this file; strength 1 is text-to-image exactly; unusable files are refused
// before any work, naming the file.
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/common/error.h"
#include "core/image/png_export.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/sampling/img2img.h"
#include "core/sampling/pack.h"
#include "core/vae/autoencoder_loader.h"
#include "tests/support/error_of.h"
#include "tests/support/golden.h"

using namespace dype;
namespace fs = std::filesystem;

namespace {

const bool kLongerWatchdog = qputenv("QTEST_FUNCTION_TIMEOUT", "1500000");

std::string model_root() { return test::golden_root() + "/models/tiny-dev"; }

// A structured 8-bit picture (gradients and a disc), so that the encoded latent is not noise-like.
RgbImage test_picture(int w, int h) {
  RgbImage im;
  im.width = w;
  im.height = h;
  im.rgb8.resize(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool disc = (x - w / 3) * (x - w / 3) + (y - h / 2) * (y - h / 2) < (h / 4) * (h / 4);
      std::uint8_t* p = &im.rgb8[(static_cast<std::size_t>(y) * w + x) * 3];
      p[0] = disc ? 220 : static_cast<std::uint8_t>(255 * x / (w - 1));
      p[1] = disc ? 40 : static_cast<std::uint8_t>(255 * y / (h - 1));
      p[2] = static_cast<std::uint8_t>(disc ? 30 : 128);
    }
  return im;
}

// The picture as the VAE sees it: v / 255 · 2 − 1, [1, 3, H, W] (computed here, not by the loader under test).
at::Tensor as_vae_input(const RgbImage& im) {
  at::Tensor t = at::empty({1, 3, im.height, im.width}, at::kFloat);
  auto a = t.accessor<float, 4>();
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      for (int c = 0; c < 3; ++c)
        a[0][c][y][x] =
            static_cast<float>(im.rgb8[(static_cast<std::size_t>(y) * im.width + x) * 3 + c]) / 255.0f * 2.0f - 1.0f;
  return t;
}

// FLUX's schedule for `n` steps with the line's μ at `tokens` image tokens, in double (diffusers: linspace, then
// the exponential time shift e^μ / (e^μ + (1/σ − 1))).
std::vector<double> expected_sigmas(int n, std::int64_t tokens) {
  const double mu = 0.5 + (1.15 - 0.5) / (4096.0 - 256.0) * (static_cast<double>(tokens) - 256.0);
  std::vector<double> s;
  for (int i = 0; i <= n; ++i) {
    const double t = 1.0 - static_cast<double>(i) / n;
    s.push_back(t <= 0 ? 0.0 : std::exp(mu) / (std::exp(mu) + (1.0 / t - 1.0)));
  }
  return s;
}

class Recorder : public StepObserver {
 public:
  std::map<int, at::Tensor> x;
  std::vector<double> sigmas;
  std::vector<std::string> stages;
  void on_stage(const std::string& s) override { stages.push_back(s); }
  void on_step_tensors(int index, const at::Tensor& xi, const at::Tensor&) override {
    x[index] = xi.to(at::kCPU).clone();
  }
  bool on_step(const StepProgress& p) override {
    sigmas.push_back(p.sigma);
    return true;
  }
};

}  // namespace

class TestImg2Img : public QObject {
  Q_OBJECT
  std::unique_ptr<FluxPipeline> pipe_;
  std::string dir_;
  std::string picture_;

  GenerationRequest request() const {
    GenerationRequest r;
    r.prompt = "a red disc on a gradient";
    r.width = 128;
    r.height = 96;
    r.steps = 10;
    r.seed = 7;
    r.dype.method = DypeMethod::YaRN;
    r.dype.base_resolution = 64;  // the tiny model runs DyPE above 64 px
    r.shift = ShiftPolicy::Flux;
    r.preview_every = 0;
    return r;
  }

 private slots:
  void initTestCase() {
    dir_ = (fs::temp_directory_path() / ("dype_img2img_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    picture_ = dir_ + "/picture.png";
    image::write_png(picture_, test_picture(128, 96), 8);
    ModelPaths paths;
    paths.model = model_root() + "/comfy/flux.safetensors";
    pipe_ = FluxPipeline::load(paths, LoadOptions{});
  }
  void cleanupTestCase() { fs::remove_all(dir_); }

  void start_index_is_diffusers_get_timesteps() {
    // (N, S) -> t_start as diffusers computes it: int(max(N - min(N*S, N), 0)); values from Python.
    const struct {
      int n;
      double s;
      int t;
    } table[] = {{28, 0.6, 11},  {10, 0.7, 3}, {4, 0.5, 2},   {1, 0.01, 0},  {28, 1.0, 0},
                 {20, 0.35, 13}, {3, 0.1, 2},  {50, 0.99, 0}, {10, 0.55, 4}, {100, 0.07, 93}};
    for (const auto& e : table) QCOMPARE(sampling::img2img_start_index(e.n, e.s), e.t);
    for (double bad : {0.0, -0.1, 1.5, std::nan("")}) {
      const std::string msg = test::error_of([&] { sampling::img2img_start_index(10, bad); });
      QVERIFY2(msg.find("strength") != std::string::npos, msg.c_str());
    }
  }

  void img2img_starts_from_the_noised_picture() {
    c10::InferenceMode guard;
    GenerationRequest r = request();
    r.init_image = picture_;
    r.strength = 0.55;  // N·S = 5.5: t_start = int(4.5) = 4, six steps
    Recorder rec;
    const GenerationResult res = pipe_->generate(r, &rec);
    QVERIFY(!res.cancelled);
    QCOMPARE(int(res.passes.size()), 1);
    const PassResult& p = res.passes.front();
    QCOMPARE(p.start_index, 4);
    QCOMPARE(p.steps_run(), 6);
    QCOMPARE(int(rec.x.size()), 6);

    // The sigmas visited: the 10-step schedule from index 4 (float32 values of our double computation).
    const std::vector<double> full = expected_sigmas(10, (96 / 16) * (128 / 16));
    QCOMPARE(int(p.sigmas.size()), 7);
    for (int k = 0; k <= 6; ++k) QVERIFY2(std::abs(p.sigmas[k] - full[4 + k]) < 1e-6, std::to_string(k).c_str());
    QCOMPARE(p.sigmas.back(), 0.0);
    for (int k = 0; k < 6; ++k) QCOMPARE(rec.sigmas[std::size_t(k)], p.sigmas[std::size_t(k)]);  // DyPE's t = σ

    // The first model input: pack(σ·noise + (1 − σ)·x0), x0 = the golden VAE's encoding of the picture.
    auto ae = vae::load_autoencoder(model_root() + "/comfy/ae.safetensors");
    const at::Tensor x0 = ae->encode(as_vae_input(test_picture(128, 96)));  // [1, 16, 12, 16]
    at::Generator gen = at::detail::createCPUGenerator(r.seed);
    const at::Tensor noise = at::randn({1, 16, 12, 16}, gen, at::TensorOptions().dtype(at::kFloat));
    const float sigma = static_cast<float>(p.sigmas.front());
    const at::Tensor start = sampling::pack_latent(noise * sigma + x0 * (1.0f - sigma));  // [1, 48, 64]
    const double diff = test::max_abs_diff(rec.x.at(0), start);
    qInfo("  start latent: max |pipeline - own| = %.3g (sigma %.6f, |x0| mean %.3f)", diff, sigma,
          x0.abs().mean().item<double>());
    QVERIFY(diff < 1e-5);
    // The picture really contributes: the start is far from pure noise.
    QVERIFY(test::max_abs_diff(rec.x.at(0), sampling::pack_latent(noise)) > 0.05);
    QCOMPARE(res.request.init_image_sha256.size(), std::size_t(64));
  }

  void strength_one_is_text_to_image_exactly() {
    c10::InferenceMode guard;
    const GenerationResult t2i = pipe_->generate(request());
    GenerationRequest r = request();
    r.init_image = picture_;
    r.strength = 1.0;
    const GenerationResult i2i = pipe_->generate(r);
    QCOMPARE(i2i.passes.front().start_index, 0);
    QVERIFY(at::equal(i2i.latent, t2i.latent));
    QVERIFY(i2i.image.rgb8 == t2i.image.rgb8);
  }

  void unusable_pictures_are_refused_before_any_work() {
    c10::InferenceMode guard;
    const std::string missing = dir_ + "/nowhere.png";
    const std::string garbage = dir_ + "/garbage.png";
    std::ofstream(garbage) << "this is not a picture";
    for (const std::string& path : {missing, garbage}) {
      GenerationRequest r = request();
      r.init_image = path;
      Recorder rec;
      const std::string msg = test::error_of([&] { pipe_->generate(r, &rec); });
      qInfo("  %s: %s", fs::path(path).filename().c_str(), msg.c_str());
      QVERIFY2(msg.find(fs::path(path).filename().string()) != std::string::npos, msg.c_str());
      QVERIFY(std::find(rec.stages.begin(), rec.stages.end(), "encoding") == rec.stages.end());
    }
  }
};

QTEST_APPLESS_MAIN(TestImg2Img)
#include "test_img2img.moc"
