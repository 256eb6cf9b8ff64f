// test-deps: sampling
// Noise shape/convention, 2×2 packing and ids, and the Euler loop (step rule, progress order, cancellation).
// The bitwise match of the noise with the reference generator is checked by tests/golden/test_golden_pipeline.
#include <QtTest>
#include <atomic>
#include <vector>

#include "core/common/error.h"
#include "core/sampling/denoise.h"
#include "core/sampling/noise.h"
#include "core/sampling/pack.h"

using namespace dype;
using namespace dype::sampling;

class TestPackNoise : public QObject {
  Q_OBJECT
 private slots:
  void noise_shape_rounds_up_to_whole_patches() {
    QCOMPARE(latent_noise_shape(64, 64), (std::vector<std::int64_t>{1, 16, 8, 8}));
    QCOMPARE(latent_noise_shape(320, 128), (std::vector<std::int64_t>{1, 16, 16, 40}));
    // BFL/ComfyUI convention: 2·ceil(H/16) (not floor as diffusers does).
    QCOMPARE(latent_noise_shape(40, 72), (std::vector<std::int64_t>{1, 16, 10, 6}));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, latent_noise_shape(0, 64));
  }

  void noise_is_deterministic_per_seed() {
    const at::Tensor a = make_noise(42, 64, 96, NoiseConvention::Comfy);
    const at::Tensor b = make_noise(42, 64, 96, NoiseConvention::Comfy);
    const at::Tensor c = make_noise(43, 64, 96, NoiseConvention::Comfy);
    QCOMPARE(a.scalar_type(), at::kFloat);
    QCOMPARE(a.sizes(), (at::IntArrayRef{1, 16, 12, 8}));
    QVERIFY(at::equal(a, b));
    QVERIFY(!at::equal(a, c));
    // A standard normal: 1536 samples, mean within 5 standard errors of 0, std within 10 %.
    QVERIFY(std::abs(a.mean().item<double>()) < 5.0 / std::sqrt(1536.0));
    QVERIFY(std::abs(a.std().item<double>() - 1.0) < 0.1);
  }

  void bfl_noise_is_bf16_valued_and_differs_from_comfy() {
    const at::Tensor bfl = make_noise(7, 128, 128, NoiseConvention::Bfl);
    const at::Tensor comfy = make_noise(7, 128, 128, NoiseConvention::Comfy);
    QCOMPARE(bfl.scalar_type(), at::kFloat);
    QVERIFY(at::equal(bfl, bfl.to(at::kBFloat16).to(at::kFloat)));  // every value representable in bf16
    QVERIFY(!at::equal(bfl, comfy));
    QVERIFY(std::abs(bfl.std().item<double>() - 1.0) < 0.1);
  }

  void pack_places_features_as_c_py_px() {
    // latent[ch, y, x] = 10000·ch + 100·y + x: every value names its own position.
    const std::int64_t C = 16, h = 6, w = 10;
    at::Tensor lat = at::empty({1, C, h, w}, at::kFloat);
    auto acc = lat.accessor<float, 4>();
    for (int ch = 0; ch < C; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) acc[0][ch][y][x] = static_cast<float>(10000 * ch + 100 * y + x);
    const at::Tensor tok = pack_latent(lat);
    QCOMPARE(tok.sizes(), (at::IntArrayRef{1, (h / 2) * (w / 2), C * 4}));
    auto t = tok.accessor<float, 3>();
    for (int r = 0; r < h / 2; ++r)
      for (int c = 0; c < w / 2; ++c)
        for (int ch = 0; ch < C; ++ch)
          for (int py = 0; py < 2; ++py)
            for (int px = 0; px < 2; ++px) {
              const float expect = static_cast<float>(10000 * ch + 100 * (2 * r + py) + (2 * c + px));
              QCOMPARE(t[0][r * (w / 2) + c][ch * 4 + py * 2 + px], expect);
            }
    QVERIFY(at::equal(unpack_latent(tok, h, w), lat));
  }

  void pack_rejects_odd_sizes() {
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pack_latent(at::zeros({1, 16, 5, 4})));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, unpack_latent(at::zeros({1, 6, 64}), 4, 4));
  }

  void ids_are_row_then_column() {
    const at::Tensor ids = image_ids(1, 6, 10);  // 3 x 5 patches
    QCOMPARE(ids.sizes(), (at::IntArrayRef{1, 15, 3}));
    auto a = ids.accessor<float, 3>();
    for (int n = 0; n < 15; ++n) {
      QCOMPARE(a[0][n][0], 0.0f);
      QCOMPARE(a[0][n][1], static_cast<float>(n / 5));
      QCOMPARE(a[0][n][2], static_cast<float>(n % 5));
    }
    QVERIFY(at::equal(text_ids(1, 4), at::zeros({1, 4, 3})));
  }

  void euler_follows_the_float32_step_rule() {
    // A constant velocity v: x_N = x_0 + Σ float32(σ_{k+1} − σ_k)·v, accumulated step by step in float32.
    const std::vector<double> sigmas = {1.0, 0.75, 0.3333333432674408, 0.125, 0.0};
    const at::Tensor x0 = at::linspace(-1, 1, 64).reshape({1, 1, 64});
    const at::Tensor v = at::full({1, 1, 64}, 0.37f);
    at::Tensor x = x0.clone();
    int calls = 0;
    std::vector<double> seen;
    const auto status = euler_denoise(x, sigmas, [&](const at::Tensor& xin, double s) {
      ++calls;
      seen.push_back(s);
      return v.expand_as(xin).clone();
    });
    QCOMPARE(static_cast<int>(status), static_cast<int>(DenoiseStatus::Completed));
    QCOMPARE(calls, 4);
    QCOMPARE(seen, (std::vector<double>{1.0, 0.75, 0.3333333432674408, 0.125}));
    std::vector<float> expect(64);
    for (int i = 0; i < 64; ++i) {
      float e = x0[0][0][i].item<float>();
      for (int k = 0; k < 4; ++k) {
        const float dt = static_cast<float>(sigmas[k + 1] - sigmas[k]);
        const float step = dt * 0.37f;
        e = e + step;
      }
      QCOMPARE(x[0][0][i].item<float>(), e);
    }
  }

  void euler_reports_steps_in_order_with_x0_estimate() {
    const std::vector<double> sigmas = {1.0, 0.5, 0.0};
    at::Tensor x = at::ones({1, 2, 4});
    std::vector<int> order;
    euler_denoise(
        x, sigmas, [](const at::Tensor& xin, double) { return xin * 2.0f; },
        [&](const EulerStep& s) {
          order.push_back(s.index);
          // x0 = x_in − σ·pred; here pred = 2·x_in.
          const at::Tensor expect = *s.x_in - (*s.x_in * 2.0f) * static_cast<float>(s.sigma);
          return at::equal(s.x0_estimate(), expect) && s.total == 2;
        });
    QCOMPARE(order, (std::vector<int>{0, 1}));  // a false return would have stopped after step 0
  }

  void cancel_flag_stops_within_one_step() {
    const std::vector<double> sigmas = {1.0, 0.8, 0.6, 0.4, 0.2, 0.0};
    std::atomic<bool> cancel{false};
    at::Tensor x = at::zeros({1, 1, 8});
    int calls = 0;
    const auto status = euler_denoise(
        x, sigmas,
        [&](const at::Tensor& xin, double) {
          if (++calls == 2) cancel.store(true);  // set while step 2 runs
          return at::ones_like(xin);
        },
        nullptr, &cancel);
    QCOMPARE(static_cast<int>(status), static_cast<int>(DenoiseStatus::Cancelled));
    QCOMPARE(calls, 2);  // step 2 finished, step 3 never started
    // x holds the state after two completed steps: 0 + (−0.2) + (−0.2).
    QVERIFY(at::allclose(x, at::full({1, 1, 8}, -0.4f), 0, 1e-6));
  }

  void observer_false_stops_after_that_step() {
    const std::vector<double> sigmas = {1.0, 0.5, 0.25, 0.0};
    at::Tensor x = at::zeros({1, 1, 4});
    int calls = 0;
    const auto status = euler_denoise(
        x, sigmas,
        [&](const at::Tensor& xin, double) {
          ++calls;
          return at::ones_like(xin);
        },
        [](const EulerStep& s) { return s.index < 0; });
    QCOMPARE(static_cast<int>(status), static_cast<int>(DenoiseStatus::Cancelled));
    QCOMPARE(calls, 1);
  }

  void euler_rejects_bad_model_output() {
    at::Tensor x = at::zeros({1, 4, 64});
    QVERIFY_THROWS_EXCEPTION(ModelError, euler_denoise(x, {1.0, 0.0}, [](const at::Tensor&, double) {
                               return at::zeros({1, 3, 64});
                             }));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, euler_denoise(x, {1.0}, [](const at::Tensor& t, double) { return t; }));
  }
};

QTEST_APPLESS_MAIN(TestPackNoise)
#include "test_pack_noise.moc"
