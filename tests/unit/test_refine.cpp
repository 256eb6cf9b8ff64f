// test-deps: pipeline
// Two-pass hi-res refine and image-to-image on the built-in demo model: the passes' sizes and schedule slices,
// one progress count over both passes, previews from both, cancellation inside pass 2, the metadata that restores
// both passes, the notes about a converted start image, and the refusals of impossible settings.
#include <c10/core/InferenceMode.h>
#include <png.h>

#include <QtTest>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/image/png_export.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/passes.h"
#include "core/pipeline/request_metadata.h"
#include "tests/support/error_of.h"
#include "tests/support/small_request.h"

using namespace dype;
namespace fs = std::filesystem;

namespace {

GenerationRequest refine_request() {
  GenerationRequest r;
  r.prompt = "a lighthouse at dusk";
  r.width = 256;
  r.height = 192;
  r.steps = 4;
  r.seed = 11;
  r.preview_every = 1;
  r.dype.base_resolution = 64;
  r.refine.enabled = true;
  r.refine.base_width = 128;
  r.refine.base_height = 96;
  r.refine.steps = 6;
  r.refine.strength = 0.5;  // 6 · 0.5 = 3 steps of pass 2
  return r;
}

class Recorder : public StepObserver {
 public:
  std::vector<StepProgress> steps;
  std::vector<std::pair<int, RgbImage>> previews;
  std::vector<std::string> stages, notes;
  std::vector<std::vector<int>> passes;
  int encode_tiles = 0;
  int stop_at_step = -1;
  void on_stage(const std::string& s) override { stages.push_back(s); }
  void on_note(const std::string& n) override { notes.push_back(n); }
  void on_pass(int pass, int passes_, int w, int h, int run, int steps_) override {
    passes.push_back({pass, passes_, w, h, run, steps_});
  }
  bool on_encode_tile(int, int) override {
    ++encode_tiles;
    return true;
  }
  bool on_step(const StepProgress& p) override {
    steps.push_back(p);
    return p.step != stop_at_step;
  }
  void on_preview(int step, const RgbImage& im) override { previews.emplace_back(step, im); }
};

// A 16-bit grey + alpha PNG written with libpng (the form the project's own writer does not produce).
void write_grey_alpha_16(const std::string& path, int w, int h) {
  FILE* f = std::fopen(path.c_str(), "wb");
  QVERIFY(f);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, w, h, 16, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<unsigned char> row(static_cast<std::size_t>(w) * 4);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const unsigned v = 65535u * static_cast<unsigned>(x) / static_cast<unsigned>(w - 1);
      const unsigned a = y < h / 2 ? 65535u : 30000u;
      row[x * 4 + 0] = static_cast<unsigned char>(v >> 8);
      row[x * 4 + 1] = static_cast<unsigned char>(v & 0xff);
      row[x * 4 + 2] = static_cast<unsigned char>(a >> 8);
      row[x * 4 + 3] = static_cast<unsigned char>(a & 0xff);
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

}  // namespace

class TestRefine : public QObject {
  Q_OBJECT
  std::unique_ptr<FluxPipeline> pipe_;
  std::string dir_;

 private slots:
  void initTestCase() {
    dir_ = (fs::temp_directory_path() / ("dype_refine_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    LoadOptions o;
    o.max_pixels = 512 * 512;  // so that the "huge picture" case needs only a small file (the limit is 4x this)
    pipe_ = FluxPipeline::load(test::demo_random_paths(), o);
  }
  void cleanupTestCase() { fs::remove_all(dir_); }

  void auto_base_size_keeps_the_aspect() {
    QCOMPARE(refine_base_size(4096, 4096, 1024), std::make_pair(1024, 1024));
    QCOMPARE(refine_base_size(4096, 2304, 1024), std::make_pair(1360, 768));  // 16:9 at ~1 MP
    QCOMPARE(refine_base_size(512, 512, 1024), std::make_pair(512, 512));     // never above the target
    const auto [w, h] = refine_base_size(3000, 1008, 1024);
    QVERIFY(w % 16 == 0 && h % 16 == 0);
    QVERIFY(std::abs(double(w) / h - 3000.0 / 1008) < 0.05);
  }

  void two_passes_with_one_progress_count() {
    c10::InferenceMode guard;
    Recorder rec;
    const GenerationResult res = pipe_->generate(refine_request(), &rec);
    QVERIFY(!res.cancelled);
    QCOMPARE(int(res.passes.size()), 2);
    QCOMPARE(res.passes[0].width, 128);
    QCOMPARE(res.passes[0].height, 96);
    QCOMPARE(res.passes[0].start_index, 0);
    QCOMPARE(res.passes[0].steps_run(), 4);
    QCOMPARE(res.passes[1].width, 256);
    QCOMPARE(res.passes[1].start_index, 3);  // int(6 − 3) = 3
    QCOMPARE(res.passes[1].steps_run(), 3);
    QCOMPARE(res.image.width, 256);
    QCOMPARE(res.image.height, 192);
    QCOMPARE(res.latent.size(2), 24);
    // Steps 1..7 over both passes, each report naming its pass.
    QCOMPARE(int(rec.steps.size()), 7);
    for (int i = 0; i < 7; ++i) {
      QCOMPARE(rec.steps[std::size_t(i)].step, i + 1);
      QCOMPARE(rec.steps[std::size_t(i)].total, 7);
      QCOMPARE(rec.steps[std::size_t(i)].pass, i < 4 ? 1 : 2);
      QCOMPARE(rec.steps[std::size_t(i)].passes, 2);
    }
    QCOMPARE(rec.steps[4].sigma, res.passes[1].sigmas.front());
    QCOMPARE(rec.passes.size(), std::size_t(2));
    QCOMPARE(rec.passes[1], (std::vector<int>{2, 2, 256, 192, 3, 6}));
    // Previews from both passes, at each pass's latent size.
    QCOMPARE(int(rec.previews.size()), 7);
    QCOMPARE(rec.previews.front().second.width, 128 / 8);
    QCOMPARE(rec.previews.back().second.width, 256 / 8);
    QVERIFY(std::find(rec.stages.begin(), rec.stages.end(), "upscaling") != rec.stages.end());
    QVERIFY(rec.encode_tiles >= 1);
    // Same seed, same settings: the same image (the refine path is deterministic).
    const GenerationResult again = pipe_->generate(refine_request());
    QVERIFY(again.image.rgb8 == res.image.rgb8);
  }

  void refine_differs_from_single_pass() {
    c10::InferenceMode guard;
    GenerationRequest single = refine_request();
    single.refine.enabled = false;
    const GenerationResult a = pipe_->generate(single);
    const GenerationResult b = pipe_->generate(refine_request());
    QCOMPARE(int(a.passes.size()), 1);
    QVERIFY(!at::equal(a.latent, b.latent));
  }

  void metadata_restores_both_passes() {
    c10::InferenceMode guard;
    GenerationRequest r = refine_request();
    r.refine.upscale = "bicubic";
    const GenerationResult res = pipe_->generate(r);
    std::map<std::string, std::string> text;
    for (const auto& t : png_metadata(res, "test")) text[t.key] = t.value;
    const GenerationRequest back = request_from_png_text(text);
    QVERIFY(back.refine == r.refine);
    QCOMPARE(back.width, 256);
    const auto j = nlohmann::json::parse(text.at(kPngJsonKey));
    QCOMPARE(int(j.at("passes").size()), 2);
    QCOMPARE(j.at("passes")[1].at("start_index").get<int>(), 3);
    QVERIFY(text.at("parameters").find("Hires denoising strength: 0.5") != std::string::npos);
  }

  void cancel_inside_pass_two() {
    c10::InferenceMode guard;
    Recorder rec;
    rec.stop_at_step = 5;  // the first step of pass 2
    const GenerationResult res = pipe_->generate(refine_request(), &rec);
    QVERIFY(res.cancelled);
    QVERIFY(res.image.empty());
    QCOMPARE(int(rec.steps.size()), 5);
  }

  void converted_start_image_is_reported() {
    c10::InferenceMode guard;
    const std::string path = dir_ + "/grey16.png";
    write_grey_alpha_16(path, 200, 120);
    GenerationRequest r = refine_request();
    r.refine.enabled = false;
    r.init_image = path;
    r.strength = 0.75;
    Recorder rec;
    const GenerationResult res = pipe_->generate(r, &rec);
    QVERIFY(!res.cancelled);
    QCOMPARE(rec.notes, res.notes);
    std::string all;
    for (const auto& n : res.notes) all += n + "\n";
    qInfo("%s", all.c_str());
    QVERIFY2(all.find("200x120") != std::string::npos, all.c_str());  // the fit: from its size…
    QVERIFY2(all.find("256x192") != std::string::npos, all.c_str());  // …to the output's
    QVERIFY2(all.find("16-bit") != std::string::npos, all.c_str());
    QVERIFY2(all.find("alpha") != std::string::npos, all.c_str());
    QVERIFY2(all.find("grey") != std::string::npos || all.find("gray") != std::string::npos, all.c_str());
    QCOMPARE(res.passes.front().start_index, 1);  // int(4 − 3) = 1
  }

  void impossible_settings_are_refused() {
    c10::InferenceMode guard;
    auto refused = [&](const GenerationRequest& r, const std::string& needle) {
      const std::string msg = test::error_of([&] { pipe_->generate(r); });
      QVERIFY2(msg.find(needle) != std::string::npos, msg.c_str());
    };
    GenerationRequest r = refine_request();
    r.refine.base_width = 512;
    r.refine.base_height = 384;
    refused(r, "larger than the output");
    r = refine_request();
    r.refine.base_width = 100;
    r.refine.base_height = 96;
    refused(r, "multiples of 16");
    r = refine_request();
    r.refine.strength = 0;
    refused(r, "strength");
    r = refine_request();
    r.refine.upscale = "nearest";
    refused(r, "nearest");
    r = refine_request();
    r.refine.enabled = false;
    r.init_image = dir_ + "/none.png";
    refused(r, "none.png");
    r.init_fit = "zoom";
    refused(r, "zoom");
  }

  void huge_start_image_is_refused() {
    c10::InferenceMode guard;
    // Above 4x the pipeline's pixel limit (512² here): refused from the header, before decoding.
    RgbImage big;
    big.width = 1100;
    big.height = 1000;
    big.rgb8.assign(std::size_t(1100) * 1000 * 3, 90);
    const std::string path = dir_ + "/big.png";
    image::write_png(path, big, 8);
    GenerationRequest r = refine_request();
    r.refine.enabled = false;
    r.init_image = path;
    const std::string msg = test::error_of([&] { pipe_->generate(r); });
    qInfo("  %s", msg.c_str());
    QVERIFY2(msg.find("1100") != std::string::npos, msg.c_str());
  }
};

QTEST_APPLESS_MAIN(TestRefine)
#include "test_refine.moc"
