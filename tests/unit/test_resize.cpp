// test-deps: common image
// Resampling for img2img and hi-res refine: identity and constants are exact, the pixel-centre convention (i + 0.5)
// reproduces linear ramps, a 2x up/down round trip returns the original, overshoot is clamped, shrinking is
// antialiased, fit plans (crop / stretch) say what they do, and fit_image's cropped resampling equals
// resize-then-crop. Timings are printed, never asserted.
#include <QtTest>
#include <chrono>
#include <cmath>
#include <string>

#include "core/common/error.h"
#include "core/image/resize.h"
#include "tests/support/error_of.h"

using namespace dype;
using image::FitMode;
using image::ResizeFilter;

namespace {

const ResizeFilter kFilters[] = {ResizeFilter::Lanczos3, ResizeFilter::Bicubic};

// Smooth content in [-0.6, 0.6]: low-frequency sines, different per channel.
at::Tensor smooth(int w, int h, int c = 3) {
  at::Tensor y = at::arange(h, at::kFloat).view({1, 1, h, 1}) / h;  // [1, 1, H, 1]
  at::Tensor x = at::arange(w, at::kFloat).view({1, 1, 1, w}) / w;  // [1, 1, 1, W]
  at::Tensor k = at::arange(1, c + 1, at::kFloat).view({1, c, 1, 1});
  return 0.3 * at::sin(2.0 * M_PI * (x * k + 0.5 * y)) +
         0.3 * at::cos(2.0 * M_PI * y * (k * 0.5 + 0.5));  // [1, C, H, W]
}

float max_abs(const at::Tensor& t) { return t.abs().max().item<float>(); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

class TestResize : public QObject {
  Q_OBJECT

 private slots:
  void identity_is_an_exact_copy() {
    at::Tensor img = at::randn({1, 3, 17, 29}) * 2;  // values beyond [-1, 1] are copied, not clamped
    for (ResizeFilter f : kFilters) {
      at::Tensor out = image::resize(img, 29, 17, f);
      QVERIFY(at::equal(out, img));
      QVERIFY(out.data_ptr() != img.data_ptr());
    }
    image::FitPlan plan;
    QVERIFY(at::equal(image::fit_image(img, 29, 17, FitMode::Crop, ResizeFilter::Lanczos3, &plan), img));
    QCOMPARE(plan.describe(), std::string("29x17: used as is"));
  }

  void constant_stays_constant() {
    at::Tensor img = at::full({1, 3, 23, 37}, 0.3f);
    const int sizes[][2] = {{100, 61}, {10, 7}, {37, 90}, {5, 23}, {1, 1}, {300, 2}};
    for (ResizeFilter f : kFilters)
      for (const auto& s : sizes) {
        at::Tensor out = image::resize(img, s[0], s[1], f);  // [1, 3, h, w]
        QCOMPARE(out.sizes().vec(), (std::vector<std::int64_t>{1, 3, s[1], s[0]}));
        QVERIFY2(max_abs(out - 0.3f) < 1e-6f, image::resize_filter_name(f));
      }
  }

  void pixel_centres_reproduce_a_ramp() {
    // f(x) = (x + 0.5) / 40 − 0.5 at source pixel x. With centres at i + 0.5, output j samples the source at
    // (j + 0.5)·in/out, and a symmetric normalised kernel reproduces a linear function there, away from the edges:
    // exactly for Keys' cubic when enlarging, within 0.02 px for Lanczos3 (its own error, at phase 1/4: Σ L(k + ¼)
    // (k + ¼) / Σ L(k + ¼) = 0.0198). Any off-by-half convention would be off by 0.25 px or more.
    const int in = 40;
    at::Tensor ramp = ((at::arange(in, at::kFloat) + 0.5) / in - 0.5).view({1, 1, 1, in}).expand({1, 1, 4, in});
    for (ResizeFilter f : kFilters)
      for (int out : {16, 25, 80, 131}) {
        at::Tensor r = image::resize(ramp, out, 4, f)[0][0][2];  // [out]
        const double scale = double(in) / out, margin = 3.0 * std::max(scale, 1.0) + 1;
        double err_px = 0;  // in source pixels
        for (int j = 0; j < out; ++j) {
          const double c = (j + 0.5) * scale;
          if (c < margin || c > in - margin) continue;
          err_px = std::max(err_px, std::abs(r[j].item<float>() - (c / in - 0.5)) * in);
        }
        qInfo("%s ramp 40 -> %d: max position error %.2g px", image::resize_filter_name(f), out, err_px);
        QVERIFY(err_px < 0.03);
      }
  }

  void upscale_then_downscale_returns_the_original() {
    at::Tensor img = smooth(64, 48);
    for (ResizeFilter f : kFilters) {
      at::Tensor back = image::resize(image::resize(img, 128, 96, f), 64, 48, f);
      const float all = max_abs(back - img);
      const float inner = max_abs((back - img).narrow(2, 4, 40).narrow(3, 4, 56));
      qInfo("%s 64x48 -> 128x96 -> 64x48: max error %.5f (interior %.5f)", image::resize_filter_name(f), all, inner);
      QVERIFY(all < 0.02f);
      QVERIFY(inner < 0.01f);
    }
  }

  void step_edge_stays_in_range() {
    at::Tensor step = at::ones({1, 3, 8, 16});
    step.narrow(3, 0, 8).fill_(-1.0f);
    for (ResizeFilter f : kFilters) {
      at::Tensor up = image::resize(step, 67, 30, f);
      QVERIFY(up.min().item<float>() >= -1.0f);
      QVERIFY(up.max().item<float>() <= 1.0f);
      // The overshoot happened and was clamped: both rails are reached next to the edge.
      QCOMPARE(up.min().item<float>(), -1.0f);
      QCOMPARE(up.max().item<float>(), 1.0f);
    }
  }

  void shrinking_a_checkerboard_averages_it() {
    // ±1 checkerboard (2-px period): any antialiased filter turns it into ~0; a resampler that only reads the
    // source pixels nearest each output centre would return values near ±1 (aliasing).
    at::Tensor yy = at::arange(256).view({256, 1}), xx = at::arange(256).view({1, 256});
    at::Tensor board = (((yy + xx) % 2) * 2 - 1).to(at::kFloat).view({1, 1, 256, 256}).expand({1, 3, 256, 256});
    for (ResizeFilter f : kFilters) {
      at::Tensor small = image::resize(board, 37, 29, f);  // non-integer ratio, ~6.9x
      const float peak = max_abs(small);
      const float mean = small.mean().item<float>();
      qInfo("%s checkerboard 256x256 -> 37x29: max |v| %.4f, mean %.5f", image::resize_filter_name(f), peak, mean);
      QVERIFY(peak < 0.05f);
      QVERIFY(std::abs(mean) < 0.01f);
    }
  }

  void fit_plans() {
    auto plan = [](int sw, int sh, int dw, int dh, FitMode m) { return image::plan_fit(sw, sh, dw, dh, m); };
    image::FitPlan p = plan(1536, 1024, 1024, 1024, FitMode::Crop);  // wide
    QCOMPARE(p.scaled_w, 1536);
    QCOMPARE(p.scaled_h, 1024);
    QCOMPARE(p.crop_x, 256);
    QCOMPARE(p.crop_y, 0);
    QCOMPARE(p.describe(), std::string("1536x1024 → scaled to 1536x1024, 256 px cropped left and right → 1024x1024"));
    p = plan(800, 1200, 1024, 1024, FitMode::Crop);  // tall, upscaled
    QCOMPARE(p.scaled_w, 1024);
    QCOMPARE(p.scaled_h, 1536);
    QCOMPARE(p.crop_y, 256);
    QCOMPARE(p.describe(), std::string("800x1200 → scaled to 1024x1536, 256 px cropped top and bottom → 1024x1024"));
    p = plan(512, 512, 1024, 1024, FitMode::Crop);  // equal aspect
    QCOMPARE(p.crop_x + p.crop_y, 0);
    QCOMPARE(p.describe(), std::string("512x512 → scaled to 1024x1024"));
    p = plan(1001, 500, 512, 512, FitMode::Crop);  // odd: 1001·512/500 = 1025.02 → 1025, 513 px to crop
    QCOMPARE(p.scaled_w, 1025);
    QCOMPARE(p.crop_x, 256);
    QCOMPARE(p.describe(), std::string("1001x500 → scaled to 1025x512, 256 px cropped left, 257 right → 512x512"));
    p = plan(333, 1000, 100, 100, FitMode::Crop);  // 1000·100/333 = 300.3 → 300
    QCOMPARE(p.scaled_h, 300);
    QCOMPARE(p.crop_y, 100);
    p = plan(1536, 1024, 1024, 1024, FitMode::Stretch);
    QCOMPARE(p.scaled_w, 1024);
    QCOMPARE(p.crop_x, 0);
    QCOMPARE(p.describe(), std::string("1536x1024 → stretched to 1024x1024 (aspect 1.50 → 1.00)"));
    QCOMPARE(plan(2048, 1024, 1024, 512, FitMode::Stretch).describe(), std::string("2048x1024 → scaled to 1024x512"));
    QCOMPARE(plan(640, 480, 640, 480, FitMode::Stretch).describe(), std::string("640x480: used as is"));
  }

  void names_and_bad_input() {
    QCOMPARE(image::parse_resize_filter("lanczos"), ResizeFilter::Lanczos3);
    QCOMPARE(image::parse_resize_filter("Bicubic"), ResizeFilter::Bicubic);
    QCOMPARE(std::string(image::resize_filter_name(ResizeFilter::Lanczos3)), std::string("lanczos"));
    QCOMPARE(image::parse_fit_mode("stretch"), FitMode::Stretch);
    QCOMPARE(std::string(image::fit_mode_name(FitMode::Crop)), std::string("crop"));
    std::string m = test::error_of([] { image::parse_resize_filter("nearest"); });
    QVERIFY2(m.find("'nearest'") != std::string::npos && m.find("lanczos, bicubic") != std::string::npos, m.c_str());
    m = test::error_of([] { image::parse_fit_mode("pad"); });
    QVERIFY2(m.find("crop, stretch") != std::string::npos, m.c_str());
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, image::resize(at::zeros({3, 8, 8}), 4, 4));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, image::resize(at::zeros({1, 3, 8, 8}, at::kInt), 4, 4));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, image::resize(at::zeros({1, 3, 8, 8}), 0, 4));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, image::plan_fit(0, 8, 8, 8, FitMode::Crop));
    // Other float dtypes are accepted and come back as float32.
    QCOMPARE(image::resize(at::zeros({1, 3, 8, 8}, at::kDouble), 4, 4).scalar_type(), at::kFloat);
  }

  void fit_crop_equals_resize_then_crop() {
    struct Case {
      int sw, sh, dw, dh;
    } cases[] = {{300, 200, 128, 128}, {60, 90, 256, 128}, {1001, 500, 512, 512}, {150, 100, 100, 100}};
    for (const Case& c : cases)
      for (ResizeFilter f : kFilters) {
        at::Tensor img = smooth(c.sw, c.sh) + 0.05 * at::randn({1, 3, c.sh, c.sw});
        image::FitPlan p;
        at::Tensor fit = image::fit_image(img, c.dw, c.dh, FitMode::Crop, f, &p);  // [1, 3, dh, dw]
        at::Tensor ref =
            image::resize(img, p.scaled_w, p.scaled_h, f).narrow(3, p.crop_x, c.dw).narrow(2, p.crop_y, c.dh);
        QCOMPARE(fit.sizes().vec(), (std::vector<std::int64_t>{1, 3, c.dh, c.dw}));
        const float err = max_abs(fit - ref);
        QVERIFY2(err < 1e-5f, qPrintable(QString::fromStdString(p.describe()) + QString(" err %1").arg(err)));
      }
    // Stretch is a plain resize.
    at::Tensor img = smooth(90, 60);
    QVERIFY(at::equal(image::fit_image(img, 64, 64, FitMode::Stretch), image::resize(img, 64, 64)));
    // A crop without scaling (90x60 → 60x60) is an exact slice.
    at::Tensor sliced = image::fit_image(img, 60, 60, FitMode::Crop);
    QVERIFY(at::equal(sliced, img.narrow(3, 15, 60)));
  }

  void timings() {
    at::Tensor img = smooth(1024, 1024);
    // LibTorch starts with one thread per physical core (1 on this 2-vCPU VM); the other tests ask for 2 as well.
    const int default_threads = at::get_num_threads();
    for (int threads : {1, 2}) {
      for (ResizeFilter f : kFilters) {
        at::set_num_threads(threads);
        image::resize(img, 64, 64);  // warm-up (thread pool)
        auto t0 = std::chrono::steady_clock::now();
        at::Tensor big = image::resize(img, 4096, 4096, f);
        const double up = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        at::Tensor down = image::resize(big, 1024, 1024, f);
        const double dn = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        at::Tensor fit = image::fit_image(big, 1024, 768, FitMode::Crop, f);
        const double ft = seconds_since(t0);
        qInfo("%s, 3 ch, %d threads: 1024² -> 4096² %.3f s; 4096² -> 1024² %.3f s; fit 4096² -> 1024x768 crop %.3f s",
              image::resize_filter_name(f), at::get_num_threads(), up, dn, ft);
        QCOMPARE(big.size(3), 4096);
        QCOMPARE(fit.size(2), 768);
        QVERIFY(max_abs(down - img) < 0.02f);
      }
    }
    at::set_num_threads(default_threads);
  }
};

QTEST_APPLESS_MAIN(TestResize)
#include "test_resize.moc"
