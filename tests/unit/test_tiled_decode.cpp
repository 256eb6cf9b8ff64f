// test-deps: io vae
// Tiled VAE decode: tile planning, blend weights, exactness of the untiled fallback, progress / cancellation, and
// how close a tiled decode is to the untiled one (with a seam detector), on a random-weight autoencoder of the
// golden tiny-dev shape (ch 32, ch_mult [1,1,1,1], 1 res block, z 16).
#include <c10/core/InferenceMode.h>

#include <QtTest>

#include "core/common/error.h"
#include "core/vae/autoencoder_loader.h"
#include "core/vae/tiled_decode.h"
#include "tests/support/seam_detector.h"

using namespace dype;
using test::seam_ratio;
using vae::TileSpan;

namespace {

// Several full decodes per test function: on a loaded CI machine one can exceed Qt's 5-minute watchdog.
const bool kLongerWatchdog = qputenv("QTEST_FUNCTION_TIMEOUT", "1500000");

vae::AutoEncoderConfig tiny_config() {
  vae::AutoEncoderConfig c;
  c.ch = 32;
  c.ch_mult = {1, 1, 1, 1};
  c.num_res_blocks = 1;
  c.z_channels = 16;
  return c;
}

struct TileStats {
  double max_all = 0, mean_all = 0, max_away = 0, mean_away = 0, seam_cols = 1, seam_rows = 1;
  double max_abs = 1, mean_abs = 1;  // of the untiled image
};

TileStats compare_tiled(vae::AutoEncoder& ae, const at::Tensor& z, const vae::TiledDecodeOptions& o,
                        const char* label) {
  const int f = ae->config().spatial_factor();
  at::Tensor full = ae->decode(z);
  at::Tensor tiled = vae::tiled_decode(ae, z, o);
  const auto plan = vae::plan_tiled_decode(z.size(2), z.size(3), o);
  auto single = [f](const std::vector<TileSpan>& spans, std::int64_t n) {
    at::Tensor c = at::zeros({n}, at::kInt);
    for (const auto& s : spans) c.narrow(0, s.begin * f, s.size() * f).add_(1);
    return c.eq(1);
  };
  at::Tensor away_mask =
      (single(plan.rows, full.size(2)).view({1, 1, -1, 1}) & single(plan.cols, full.size(3)).view({1, 1, 1, -1}))
          .expand_as(full);
  at::Tensor diff = (tiled - full).abs().to(at::kDouble);
  TileStats s;
  s.max_abs = full.abs().max().item<double>();
  s.mean_abs = full.abs().mean().item<double>();
  s.max_all = diff.max().item<double>();
  s.mean_all = diff.mean().item<double>();
  at::Tensor away = diff.masked_select(away_mask);
  if (away.numel()) {
    s.max_away = away.max().item<double>();
    s.mean_away = away.mean().item<double>();
  }
  // Normalised by the untiled image's own ratio at the same places: the image's column-to-column variation
  // (+-10% here) is then factored out and 1 means "the tiling left no trace".
  s.seam_cols = seam_ratio(tiled, plan.cols, f) / seam_ratio(full, plan.cols, f);
  s.seam_rows = seam_ratio(tiled.transpose(2, 3), plan.rows, f) / seam_ratio(full.transpose(2, 3), plan.rows, f);
  qInfo(
      "  %s: tile %d overlap %d, %d tiles, %s blend, %s GroupNorm: |tiled - untiled| max %.3g mean %.3g; away "
      "from blend zones max %.3g mean %.3g (untiled image: max|x| %.3g, mean|x| %.3g); seam ratio "
      "(tiled / untiled) cols %.3f rows %.3f (untiled image's own ratio: %.3f, %.3f)",
      label, o.tile, o.overlap, plan.count(), o.blend == vae::BlendMask::cosine ? "cosine" : "linear",
      o.shared_norm ? "image-wide" : "per-tile", s.max_all, s.mean_all, s.max_away, s.mean_away, s.max_abs, s.mean_abs,
      s.seam_cols, s.seam_rows, seam_ratio(full, plan.cols, f), seam_ratio(full.transpose(2, 3), plan.rows, f));
  return s;
}

}  // namespace

class TestTiledDecode : public QObject {
  Q_OBJECT
  vae::AutoEncoder ae_{nullptr};

 private slots:
  void initTestCase() {
    at::set_num_threads(2);
    ae_ = vae::make_random_autoencoder(tiny_config(), 7);
  }

  void plan_tiles_by_hand() {
    auto spans = [](std::int64_t n, int t, int o) {
      std::vector<std::pair<std::int64_t, std::int64_t>> v;
      for (const auto& s : vae::plan_tiles(n, t, o)) v.emplace_back(s.begin, s.end);
      return v;
    };
    using V = std::vector<std::pair<std::int64_t, std::int64_t>>;
    QCOMPARE(spans(8, 64, 16), (V{{0, 8}}));  // fits: one span
    QCOMPARE(spans(64, 64, 16), (V{{0, 64}}));
    QCOMPARE(spans(64, 32, 16), (V{{0, 32}, {16, 48}, {32, 64}}));    // stride 16 exactly
    QCOMPARE(spans(64, 32, 8), (V{{0, 32}, {16, 48}, {32, 64}}));     // 2 tiles would overlap 0 < 8: 3, evenly
    QCOMPARE(spans(100, 64, 16), (V{{0, 64}, {36, 100}}));            // overlap 28 >= 16
    QCOMPARE(spans(113, 64, 16), (V{{0, 64}, {25, 89}, {49, 113}}));  // (113-64)/2 = 24.5 rounds to 25
    QCOMPARE(spans(64, 32, 0), (V{{0, 32}, {32, 64}}));               // abutting
    QCOMPARE(spans(20, 0, 0), (V{{0, 20}}));                          // tile 0: never tiled
  }

  void invalid_options_throw() {
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, vae::plan_tiled_decode(64, 64, {32, 17}));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, vae::plan_tiled_decode(64, 64, {-1, 0}));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, vae::plan_tiled_decode(64, 64, {32, -2}));
    c10::InferenceMode guard;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, vae::tiled_decode(ae_, at::zeros({1, 4, 8, 8})));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, vae::tiled_decode(ae_, at::zeros({16, 8, 8})));
    at::Tensor wrong = at::zeros({1, 3, 64, 60});
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, vae::tiled_decode_into(ae_, at::zeros({1, 16, 8, 8}), wrong));
  }

  void blend_weights_partition_of_unity_data() {
    QTest::addColumn<int>("blend");
    QTest::newRow("cosine") << static_cast<int>(vae::BlendMask::cosine);
    QTest::newRow("linear") << static_cast<int>(vae::BlendMask::linear);
  }
  void blend_weights_partition_of_unity() {
    QFETCH(int, blend);
    for (const auto& [n, t, o] : {std::tuple<int, int, int>{64, 32, 16}, {113, 64, 16}, {100, 64, 16}, {70, 32, 8}}) {
      const auto spans = vae::plan_tiles(n, t, o);
      const auto w = vae::blend_weights(spans, 8, static_cast<vae::BlendMask>(blend));
      std::vector<double> sum(n * 8, 0.0);
      std::vector<int> cover(n * 8, 0);
      for (std::size_t i = 0; i < spans.size(); ++i) {
        QCOMPARE(static_cast<std::int64_t>(w[i].size()), spans[i].size() * 8);
        for (std::size_t k = 0; k < w[i].size(); ++k) {
          QVERIFY(w[i][k] > 0 && w[i][k] <= 1);
          sum[spans[i].begin * 8 + k] += w[i][k];
          cover[spans[i].begin * 8 + k] += 1;
        }
      }
      for (int p = 0; p < n * 8; ++p) {
        QVERIFY(std::abs(sum[p] - 1) < 1e-12);
        if (cover[p] == 1) QCOMPARE(sum[p], 1.0);  // exactly: single-tile pixels are copied unchanged
      }
      // Feathering: a tile's weight at its own shared edge is small (< 1 / zone), in its middle 1.
      if (spans.size() > 1) {
        QVERIFY(w[0].back() < 0.05);
        QVERIFY(w[1].front() < 0.05);
      }
    }
  }

  void fits_in_one_tile_is_exactly_untiled() {
    c10::InferenceMode guard;
    at::Tensor z = at::randn({1, 16, 12, 20}, at::detail::createCPUGenerator(3));
    at::Tensor ref = ae_->decode(z);
    QVERIFY(at::equal(vae::tiled_decode(ae_, z, {64, 16}), ref));
    QVERIFY(at::equal(vae::tiled_decode(ae_, z, {0, 0}), ref));
    QVERIFY(at::equal(vae::tiled_decode(ae_, z, {20, 4}), ref));
  }

  void progress_reports_every_tile_in_order() {
    c10::InferenceMode guard;
    at::Tensor z = at::randn({1, 16, 24, 40}, at::detail::createCPUGenerator(4));
    // rows: 24 with 16/4 -> 2 tiles; cols: 40 -> 1 + ceil(24 / 12) = 3 tiles; 6 tiles per pass.
    for (bool shared : {false, true}) {
      std::vector<std::pair<int, int>> calls;
      vae::TiledDecodeOptions o{16, 4};
      o.shared_norm = shared;
      vae::tiled_decode(ae_, z, o, [&](int done, int total) {
        calls.emplace_back(done, total);
        return true;
      });
      const int total = shared ? 12 : 6;  // the statistics pass visits every tile too
      QCOMPARE(static_cast<int>(calls.size()), total);
      for (int i = 0; i < total; ++i) QCOMPARE(calls[i], std::make_pair(i + 1, total));
    }
    // Untiled: a single (1, 1).
    std::vector<std::pair<int, int>> calls;
    vae::tiled_decode(ae_, z, {64, 16}, [&](int done, int total) {
      calls.emplace_back(done, total);
      return true;
    });
    QCOMPARE(calls, (std::vector<std::pair<int, int>>{{1, 1}}));
  }

  void cancel_between_tiles() {
    c10::InferenceMode guard;
    at::Tensor z = at::randn({1, 16, 24, 40}, at::detail::createCPUGenerator(5));
    for (int stop_after : {2, 8}) {  // in the statistics pass, and in the pass that writes the image
      int calls = 0;
      QVERIFY_THROWS_EXCEPTION(Cancelled, vae::tiled_decode(ae_, z, {16, 4}, [&](int done, int) {
                                 ++calls;
                                 return done < stop_after;
                               }));
      QCOMPARE(calls, stop_after);  // no tile decoded after the refusal
    }
    int calls = 0;
    QVERIFY_THROWS_EXCEPTION(Cancelled, vae::tiled_decode(ae_, z, {0, 0}, [&](int, int) { return ++calls, false; }));
    QCOMPARE(calls, 1);
  }

  void tiled_close_to_untiled_and_seamless() {
    c10::InferenceMode guard;
    const int n = 48;
    at::Tensor noise = at::randn({1, 16, n, n}, at::detail::createCPUGenerator(11));
    const vae::TiledDecodeOptions configs[] = {{32, 16, vae::BlendMask::cosine},  // 2x2 tiles, 16 px shared
                                               {24, 8, vae::BlendMask::linear}};  // 3x3 tiles, 12 px shared
    for (const auto& o : configs) {
      const TileStats s = compare_tiled(ae_, noise, o, "white-noise latent");
      // Bounds relative to the untiled image (measured on this model: mean 3.8% / 5.8% of mean|x|, max 4.3% /
      // 5.8% of max|x|). With tiles only ~2x the decoder's receptive field (13.5 latent px) the tile-local mid
      // attention and the residual GroupNorm statistics reach every pixel, so "away from the blend zones" is no
      // better than overall; larger tiles do better (48-px tiles: ~1.5% of mean|x|).
      QVERIFY(s.mean_away < 0.08 * s.mean_abs);
      QVERIFY(s.mean_all < 0.08 * s.mean_abs);
      QVERIFY(s.max_all < 0.1 * s.max_abs);
      // No seam: the gradient energy across tile borders is the untiled image's (measured within 0.3%).
      QVERIFY(std::abs(s.seam_cols - 1) < 0.05);
      QVERIFY(std::abs(s.seam_rows - 1) < 0.05);
    }
  }

  void structured_latent_and_shared_statistics() {
    // A latent with large smooth patterns, so that tiles differ in mean and contrast as regions of a real image
    // do. Per-tile GroupNorm statistics then shift every tile's tone; the image-wide statistics must reduce the
    // difference to the untiled decode clearly (measured 0.145 -> 0.095 mean abs, i.e. 36% of mean|x| -> 23%).
    // What remains comes from statistics measured on per-tile-normalised activations, the tile-local attention
    // and, for this random-weight decoder, a strong sensitivity of deep layers to both: the bound below only
    // guards against gross errors; the white-noise bounds above are the accuracy statement.
    c10::InferenceMode guard;
    const int n = 48;
    at::Tensor noise = at::randn({1, 16, n, n}, at::detail::createCPUGenerator(11));
    at::Tensor yy = at::linspace(0, 1, n).view({1, 1, n, 1}), xx = at::linspace(0, 1, n).view({1, 1, 1, n});
    at::Tensor ch = at::linspace(-1, 1, 16).view({1, 16, 1, 1});
    at::Tensor z = 0.5 * noise + 1.5 * ch * at::sin(6.0 * yy + 3.0 * xx) + (yy - 0.5);
    vae::TiledDecodeOptions local{32, 16};
    local.shared_norm = false;
    const TileStats a = compare_tiled(ae_, z, local, "structured latent");
    const TileStats b = compare_tiled(ae_, z, {32, 16}, "structured latent");
    QVERIFY(b.mean_all < 0.8 * a.mean_all);
    QVERIFY(b.mean_all < 0.3 * b.mean_abs);
    for (const auto& s : {a, b}) {  // blending hides the tiles' differences: no seam either way
      QVERIFY(std::abs(s.seam_cols - 1) < 0.05);
      QVERIFY(std::abs(s.seam_rows - 1) < 0.05);
    }
  }

  void seam_detector_sees_hard_seams() {
    // The detector must flag an un-blended tiling (abutting tiles, per-tile statistics), otherwise the ~1 ratios
    // above would prove nothing.
    c10::InferenceMode guard;
    at::Tensor z = at::randn({1, 16, 48, 48}, at::detail::createCPUGenerator(11));
    vae::TiledDecodeOptions hard{16, 0};
    hard.shared_norm = false;
    const TileStats s = compare_tiled(ae_, z, hard, "abutting tiles, no blending");
    QVERIFY(std::min(s.seam_cols, s.seam_rows) > 1.1);  // measured 1.17 and 1.39
  }
};

QTEST_APPLESS_MAIN(TestTiledDecode)
#include "test_tiled_decode.moc"
