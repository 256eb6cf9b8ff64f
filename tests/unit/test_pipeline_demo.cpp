// test-deps: pipeline
// FluxPipeline on the built-in demo model: progress order, preview cadence, cancellation (flag and observer,
// during denoising and between VAE tiles), size validation, the memory plan and determinism.
#include <QtTest>
#include <atomic>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/pipeline/demo_model.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/memory_plan.h"
#include "tests/support/small_request.h"

using namespace dype;

namespace {

using test::small_request;  // tests/support/small_request.h

// Records everything the pipeline reports, and can stop it at a given step or tile.
class Recorder : public StepObserver {
 public:
  std::vector<std::string> events;
  std::vector<StepProgress> steps;
  std::vector<std::pair<int, RgbImage>> previews;
  std::vector<std::pair<int, int>> tiles;
  int stop_at_step = -1;    // on_step returns false at this step
  int cancel_at_step = -1;  // sets *flag at this step (and returns true)
  int cancel_at_tile = -1;  // sets *flag at this tile
  std::atomic<bool>* flag = nullptr;

  void on_stage(const std::string& s) override { events.push_back("stage:" + s); }
  bool on_step(const StepProgress& p) override {
    events.push_back("step:" + std::to_string(p.step));
    steps.push_back(p);
    if (p.step == cancel_at_step && flag) flag->store(true);
    return p.step != stop_at_step;
  }
  void on_preview(int step, const RgbImage& im) override {
    events.push_back("preview:" + std::to_string(step));
    previews.emplace_back(step, im);
  }
  bool on_decode_tile(int done, int total) override {
    events.push_back("tile:" + std::to_string(done));
    tiles.emplace_back(done, total);
    if (done == cancel_at_tile && flag) flag->store(true);
    return true;
  }
};

}  // namespace

class TestPipelineDemo : public QObject {
  Q_OBJECT
  std::unique_ptr<FluxPipeline> pipe_;

 private slots:
  void initTestCase() {
    ModelPaths paths;
    paths.model = kDemoRandomModel;  // the cheapest full pipeline; the trained demo: test_demo_trained
    pipe_ = FluxPipeline::load(paths, LoadOptions{});
    QVERIFY(pipe_);
  }

  void demo_is_labelled_as_such() {
    QVERIFY(pipe_->is_demo());
    QVERIFY(!pipe_->is_schnell());
    QCOMPARE(QString::fromStdString(pipe_->label()), QString(kDemoRandomLabel));
  }

  void progress_is_reported_in_order() {
    Recorder rec;
    const GenerationRequest req = small_request(4);
    const GenerationResult res = pipe_->generate(req, &rec);
    QVERIFY(!res.cancelled);
    QCOMPARE(QString::fromStdString(res.model_label), QString(kDemoRandomLabel));
    QCOMPARE(QString::fromStdString(res.target.device), QString("cpu"));  // as loaded, resolved
    QCOMPARE(QString::fromStdString(res.target.dtype), QString("float32"));
    // Stages, then the steps 1..N in order, then the decode.
    QStringList ev;
    for (const auto& e : rec.events) ev << QString::fromStdString(e);
    QCOMPARE(ev.mid(0, 6), (QStringList{"stage:encoding", "stage:denoising", "step:1", "step:2", "step:3", "step:4"}));
    QCOMPARE(ev.at(6), QString("stage:decoding"));
    QVERIFY(ev.last().startsWith("tile:"));
    QCOMPARE(static_cast<int>(rec.steps.size()), 4);
    for (int k = 0; k < 4; ++k) {
      const StepProgress& p = rec.steps[k];
      QCOMPARE(p.step, k + 1);
      QCOMPARE(p.total, 4);
      QCOMPARE(p.sigma, res.sigmas[k]);  // the σ the model (and DyPE) saw
      QVERIFY(p.eta_s >= 0);
      if (k > 0) QVERIFY(p.elapsed_s >= rec.steps[k - 1].elapsed_s);
    }
    QCOMPARE(rec.steps.back().eta_s, 0.0);
    QCOMPARE(res.sigmas.front(), 1.0);
    QCOMPARE(res.sigmas.back(), 0.0);
    // The result: latent at 1/8, an image of the requested size that is coloured noise (finite, not flat).
    QCOMPARE(res.latent.sizes(), (at::IntArrayRef{1, 16, 12, 16}));
    QVERIFY(at::isfinite(res.latent).all().item<bool>());
    QCOMPARE(res.image.width, 128);
    QCOMPARE(res.image.height, 96);
    QCOMPARE(res.image.rgb8.size(), std::size_t(128 * 96 * 3));
    QVERIFY(res.image.rgb16.empty());
    const at::Tensor px =
        at::from_blob(const_cast<std::uint8_t*>(res.image.rgb8.data()), {96 * 128, 3}, at::kByte).to(at::kFloat);
    QVERIFY(px.std(0).min().item<float>() > 10.0f);                                  // every channel varies
    QVERIFY((px.select(1, 0) - px.select(1, 1)).abs().mean().item<float>() > 5.0f);  // not grey
  }

  void previews_follow_the_interval() {
    Recorder rec;
    GenerationRequest req = small_request(5);
    req.preview_every = 2;
    pipe_->generate(req, &rec);
    QCOMPARE(static_cast<int>(rec.previews.size()), 2);
    QCOMPARE(rec.previews[0].first, 2);
    QCOMPARE(rec.previews[1].first, 4);
    // Each preview directly follows its step and is the latent-resolution projection (1/8 of the image).
    for (const auto& [step, im] : rec.previews) {
      QCOMPARE(im.width, 16);
      QCOMPARE(im.height, 12);
      QCOMPARE(im.rgb8.size(), std::size_t(16 * 12 * 3));
      const auto it = std::find(rec.events.begin(), rec.events.end(), "preview:" + std::to_string(step));
      QVERIFY(it != rec.events.begin() && *(it - 1) == "step:" + std::to_string(step));
    }
    Recorder none;
    req.preview_every = 0;
    pipe_->generate(req, &none);
    QVERIFY(none.previews.empty());
  }

  void observer_stop_ends_within_one_step() {
    Recorder rec;
    rec.stop_at_step = 2;
    const GenerationResult res = pipe_->generate(small_request(6), &rec);
    QVERIFY(res.cancelled);
    QCOMPARE(static_cast<int>(rec.steps.size()), 2);
    QVERIFY(rec.tiles.empty());
    QVERIFY(res.image.empty());
  }

  void cancel_flag_ends_within_one_step() {
    std::atomic<bool> cancel{false};
    Recorder rec;
    rec.flag = &cancel;
    rec.cancel_at_step = 1;  // the flag is raised while step 1 reports: step 2 never runs
    const GenerationResult res = pipe_->generate(small_request(6), &rec, &cancel);
    QVERIFY(res.cancelled);
    QCOMPARE(static_cast<int>(rec.steps.size()), 1);
    QVERIFY(res.image.empty());

    std::atomic<bool> already{true};
    Recorder rec2;
    QVERIFY(pipe_->generate(small_request(6), &rec2, &already).cancelled);
    QVERIFY(rec2.steps.empty());
  }

  void cancel_flag_is_checked_between_vae_tiles() {
    std::atomic<bool> cancel{false};
    Recorder rec;
    rec.flag = &cancel;
    rec.cancel_at_tile = 2;
    GenerationRequest req = small_request(2);
    req.width = req.height = 512;  // latent 64²: 3 × 3 tiles of 32 with overlap 16
    req.vae_tile = 32;
    req.vae_tile_overlap = 16;
    const GenerationResult res = pipe_->generate(req, &rec, &cancel);
    QVERIFY(res.cancelled);
    QCOMPARE(static_cast<int>(rec.steps.size()), 2);
    QCOMPARE(static_cast<int>(rec.tiles.size()), 2);
    QVERIFY(rec.tiles.back().second > 2);
    QVERIFY(res.image.empty());
  }

  void impossible_sizes_are_refused_with_clear_messages() {
    auto message = [](int w, int h, std::uint64_t max_px) -> QString {
      try {
        validate_size(w, h, max_px);
      } catch (const InvalidArgument& e) {
        return QString::fromStdString(e.what());
      }
      return {};
    };
    QVERIFY(message(1024, 1024, 4096ull * 4096).isEmpty());
    QVERIFY(message(4096, 4096, 4096ull * 4096).isEmpty());
    QVERIFY(message(0, 64, 1 << 30).contains("positive"));
    QVERIFY(message(64, -16, 1 << 30).contains("positive"));
    QVERIFY(message(1000, 1024, 1 << 30).contains("multiples of 16"));
    QVERIFY(message(1000, 1024, 1 << 30).contains("1008x1024"));  // the nearest valid size
    QVERIFY(message(4112, 4096, 4096ull * 4096).contains("limit"));
    GenerationRequest req = small_request();
    req.width = 100;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pipe_->generate(req));
    req.width = 0;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pipe_->generate(req));
    // The limit is configurable per pipeline.
    LoadOptions small;
    small.max_pixels = 64 * 64;
    auto limited = FluxPipeline::load(test::demo_random_paths(), small);
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, limited->generate(small_request()));
    // Other impossible requests.
    req = small_request();
    req.steps = 0;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pipe_->generate(req));
  }

  void memory_plan_says_what_to_change() {
    const MemoryEstimate ok = pipe_->estimate(small_request());
    QVERIFY(ok.weights_bytes > 0 && ok.activations_bytes > 0 && ok.decode_bytes > 0);
    QVERIFY(ok.peak_bytes >= ok.weights_bytes + ok.activations_bytes);
    QVERIFY(ok.fits);
    // FLUX.1-dev widths at 4096² against an 8 GiB device: refused, with a smaller size suggested.
    MemoryPlanInput in;
    in.device = at::Device(at::kCUDA, 0);
    in.width = in.height = 4096;
    in.compute_element_size = 2;
    in.attention_materialises_scores = false;
    in.weight_bytes = 12ull << 30;
    in.decode_bytes = 2ull << 30;
    const MemoryEstimate no = plan_memory(in, 8ull << 30);
    QVERIFY(!no.fits);
    QVERIFY2(QString::fromStdString(no.advice).contains("smaller size"), no.advice.c_str());
    // Activations grow with the token count: 4096² needs more than 1024².
    const std::uint64_t big = no.activations_bytes;
    in.width = in.height = 1024;
    QVERIFY(plan_memory(in, 8ull << 30).activations_bytes * 8 < big);
    QVERIFY(plan_memory(in, 8ull << 30).fits);
    // Unknown free memory: no refusal, but the need is stated.
    QVERIFY(plan_memory(in, 0).fits);
  }

  void same_request_same_image() {
    const GenerationResult a = pipe_->generate(small_request(2));
    const GenerationResult b = pipe_->generate(small_request(2));
    QVERIFY(at::equal(a.latent, b.latent));
    QVERIFY(a.image.rgb8 == b.image.rgb8);
    GenerationRequest other = small_request(2);
    other.seed = 8;
    QVERIFY(!at::equal(pipe_->generate(other).latent, a.latent));
    other = small_request(2);
    other.noise = sampling::NoiseConvention::Bfl;
    QVERIFY(!at::equal(pipe_->generate(other).latent, a.latent));
  }

  void sixteen_bit_output_when_asked() {
    GenerationRequest req = small_request(1);
    req.bit_depth = 16;
    const GenerationResult res = pipe_->generate(req);
    QCOMPARE(res.image.rgb16.size(), res.image.rgb8.size());
    // Both depths come from the same float image: the 8-bit value is the 16-bit one rounded to 8 bits (±1 for
    // the two roundings).
    for (std::size_t i = 0; i < res.image.rgb8.size(); i += 97)
      QVERIFY(std::abs(static_cast<int>(res.image.rgb8[i]) - static_cast<int>(res.image.rgb16[i] / 257.0 + 0.5)) <= 1);
  }
};

QTEST_APPLESS_MAIN(TestPipelineDemo)
#include "test_pipeline_demo.moc"
