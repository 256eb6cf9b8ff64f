// test-deps: io vae
// Tiled VAE encode: exactness of the untiled fallback, progress / cancellation, shape errors, how close a tiled
// encode is to the untiled one on a structured image (with and without image-wide GroupNorm statistics), that the
// image-wide statistics machinery works on the encoder's layers, and that memory is bounded by the tile, on a
// random-weight autoencoder of the golden tiny-dev shape (ch 32, ch_mult [1,1,1,1], 1 res block, z 16).

// shared_norm.h before Qt: it declares a member named slots(), which Qt's `slots` macro would rewrite.
#include "core/vae/shared_norm.h"
// Qt and the rest after it (this comment also keeps clang-format from merging the two blocks).
#include <c10/core/InferenceMode.h>

#include <QtTest>

#include "core/common/cpu_allocator.h"
#include "core/common/error.h"
#include "core/vae/autoencoder_loader.h"
#include "core/vae/tiled_encode.h"
#include "tests/support/tiled_encode_compare.h"

using namespace dype;
using test::EncodeTileStats;
using test::structured_image;

namespace {

// Several full encodes per test function: on a loaded CI machine one can exceed Qt's 5-minute watchdog.
const bool kLongerWatchdog = qputenv("QTEST_FUNCTION_TIMEOUT", "1500000");

// test_tiled_decode's model: same configuration, same seed.
vae::AutoEncoderConfig tiny_config() {
  vae::AutoEncoderConfig c;
  c.ch = 32;
  c.ch_mult = {1, 1, 1, 1};
  c.num_res_blocks = 1;
  c.z_channels = 16;
  return c;
}

EncodeTileStats compare(vae::AutoEncoder& ae, const at::Tensor& image, const vae::TileOptions& o, const char* label) {
  const EncodeTileStats s = test::compare_tiled_encode(ae, image, o);
  qInfo("  %s: %s", label, s.describe(o).c_str());
  return s;
}

// One pass of a tiled encode driven by hand with `stats` current (what for_each_tile does, but with statistics
// chosen by the test): every tile normalises with the frozen statistics (`use_shared`) or its own, and adds its
// owned-region sums when `collect`. Returns the blended latent [B, z, h, w].
at::Tensor encode_pass(vae::AutoEncoder& ae, const at::Tensor& img, const vae::TilePlan& plan,
                       vae::SharedNormStats& stats, bool use_shared, bool collect) {
  const int f = ae->config().spatial_factor();
  const auto wy = vae::blend_weights(plan.rows, 1, vae::BlendMask::cosine);
  const auto wx = vae::blend_weights(plan.cols, 1, vae::BlendMask::cosine);
  at::Tensor out = at::zeros({img.size(0), ae->config().z_channels, img.size(2) / f, img.size(3) / f});
  vae::SharedNormScope scope(&stats);
  for (std::size_t r = 0; r < plan.rows.size(); ++r) {
    for (std::size_t c = 0; c < plan.cols.size(); ++c) {
      const vae::TileSpan ry = plan.rows[r], rx = plan.cols[c];
      const vae::TileSpan oy = vae::owned_span(plan.rows, r), ox = vae::owned_span(plan.cols, c);
      stats.begin_tile(
          use_shared, collect,
          {oy.begin - ry.begin, oy.end - ry.begin, ox.begin - rx.begin, ox.end - rx.begin, ry.size(), rx.size()});
      at::Tensor zt = ae->encode(img.narrow(2, ry.begin * f, ry.size() * f).narrow(3, rx.begin * f, rx.size() * f));
      out.narrow(2, ry.begin, ry.size())
          .narrow(3, rx.begin, rx.size())
          .add_(zt * vae::weight_tensor(wy[r]).view({1, 1, -1, 1}) * vae::weight_tensor(wx[c]).view({1, 1, 1, -1}));
    }
  }
  return out;
}

// The untiled encode with `stats` applied (use_shared over the whole image as one region).
at::Tensor encode_untiled_with(vae::AutoEncoder& ae, const at::Tensor& img, vae::SharedNormStats& stats) {
  const int f = ae->config().spatial_factor();
  const std::int64_t h = img.size(2) / f, w = img.size(3) / f;
  vae::SharedNormScope scope(&stats);
  stats.begin_tile(/*use_shared=*/true, /*collect=*/false, {0, h, 0, w, h, w});
  return ae->encode(img);
}

}  // namespace

class TestTiledEncode : public QObject {
  Q_OBJECT
  vae::AutoEncoder ae_{nullptr};

 private slots:
  void initTestCase() {
    at::set_num_threads(2);
    ae_ = vae::make_random_autoencoder(tiny_config(), 7);
  }

  void fits_in_one_tile_is_exactly_untiled() {
    c10::InferenceMode guard;
    at::Tensor img = structured_image(96, 160, 2);  // latent 12 x 20
    at::Tensor ref = ae_->encode(img);
    QVERIFY(at::equal(vae::tiled_encode(ae_, img, {64, 16}), ref));
    QVERIFY(at::equal(vae::tiled_encode(ae_, img, {0, 0}), ref));
    QVERIFY(at::equal(vae::tiled_encode(ae_, img, {20, 4}), ref));  // tile == the latent's longer side
    vae::TileOptions local{64, 16};
    local.shared_norm = false;
    QVERIFY(at::equal(vae::tiled_encode(ae_, img, local), ref));
    // Another input dtype is converted like ae->encode converts it.
    QVERIFY(at::equal(vae::tiled_encode(ae_, img.to(at::kDouble), {64, 16}), ae_->encode(img.to(at::kDouble))));
    const at::Tensor out = vae::tiled_encode(ae_, img.to(at::kDouble), {0, 0});
    QCOMPARE(out.scalar_type(), at::kFloat);
    QVERIFY(out.device().is_cpu());
  }

  void output_shape_when_tiled() {
    c10::InferenceMode guard;
    at::Tensor img = structured_image(192, 320, 2);  // latent 24 x 40
    vae::TileOptions o{16, 4};
    o.shared_norm = false;
    at::Tensor z = vae::tiled_encode(ae_, img, o);
    QCOMPARE(z.sizes().vec(), (std::vector<std::int64_t>{2, 16, 24, 40}));
    QCOMPARE(z.scalar_type(), at::kFloat);
    // Each batch element is encoded on its own: image 1 (the mirror of image 0) is not mixed into image 0.
    at::Tensor z0 = vae::tiled_encode(ae_, img.narrow(0, 0, 1), o);
    QVERIFY(at::allclose(z.narrow(0, 0, 1), z0, 1e-4, 1e-5));
  }

  void bad_shapes_throw() {
    c10::InferenceMode guard;
    auto message = [&](const at::Tensor& img, const vae::TileOptions& o = {}) -> std::string {
      try {
        vae::tiled_encode(ae_, img, o);
      } catch (const InvalidArgument& e) {
        return e.what();
      }
      return "(no InvalidArgument)";
    };
    for (const auto& [img, needle] : {std::pair<at::Tensor, std::string>{at::zeros({1, 3, 100, 64}), "100"},
                                      {at::zeros({1, 3, 64, 60}), "60"},
                                      {at::zeros({1, 4, 64, 64}), "[1, 4, 64, 64]"},
                                      {at::zeros({3, 64, 64}), "[3, 64, 64]"},
                                      {at::zeros({1, 3, 4, 64}), "[1, 3, 4, 64]"},  // smaller than one latent px
                                      {at::zeros({1, 3, 64, 64}, at::kByte), "Byte"}}) {
      const std::string m = message(img);
      QVERIFY2(m.find(needle) != std::string::npos, m.c_str());
      QVERIFY2(m.find("multiples of 8") != std::string::npos, m.c_str());
    }
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, vae::tiled_encode(ae_, at::Tensor()));
    const std::string m = message(at::zeros({1, 3, 256, 256}), {32, 17});
    QVERIFY2(m.find("overlap 17") != std::string::npos, m.c_str());
  }

  void progress_reports_every_tile_in_order() {
    c10::InferenceMode guard;
    at::Tensor img = structured_image(192, 320);
    // Latent 24 x 40; rows: 24 with 16/4 -> 2 tiles; cols: 40 -> 1 + ceil(24 / 12) = 3 tiles; 6 tiles per pass.
    for (bool shared : {false, true}) {
      std::vector<std::pair<int, int>> calls;
      vae::TileOptions o{16, 4};
      o.shared_norm = shared;
      vae::tiled_encode(ae_, img, o, [&](int done, int total) {
        calls.emplace_back(done, total);
        return true;
      });
      const int total = shared ? 12 : 6;  // the statistics pass visits every tile too
      QCOMPARE(static_cast<int>(calls.size()), total);
      for (int i = 0; i < total; ++i) QCOMPARE(calls[i], std::make_pair(i + 1, total));
    }
    std::vector<std::pair<int, int>> calls;
    vae::tiled_encode(ae_, img, {64, 16}, [&](int done, int total) {
      calls.emplace_back(done, total);
      return true;
    });
    QCOMPARE(calls, (std::vector<std::pair<int, int>>{{1, 1}}));
  }

  void cancel_between_tiles() {
    c10::InferenceMode guard;
    at::Tensor img = structured_image(192, 320);
    for (int stop_after : {2, 8}) {  // in the statistics pass, and in the pass that writes the latent
      int calls = 0;
      at::Tensor result;
      QVERIFY_THROWS_EXCEPTION(Cancelled, result = vae::tiled_encode(ae_, img, {16, 4}, [&](int done, int) {
                                            ++calls;
                                            return done < stop_after;
                                          }));
      QCOMPARE(calls, stop_after);  // no tile encoded after the refusal
      QVERIFY(!result.defined());   // nothing partial handed back
    }
    int calls = 0;
    QVERIFY_THROWS_EXCEPTION(Cancelled, vae::tiled_encode(ae_, img, {0, 0}, [&](int, int) { return ++calls, false; }));
    QCOMPARE(calls, 1);
  }

  void tiled_close_to_untiled_and_seamless() {
    c10::InferenceMode guard;
    at::Tensor img = structured_image(384, 384);                     // latent 48 x 48
    vae::TileOptions configs[] = {{32, 16, vae::BlendMask::cosine},  // 2x2 tiles, 16 px shared
                                  {24, 8, vae::BlendMask::linear}};  // 3x3 tiles, 12 px shared
    for (auto& o : configs) {
      o.shared_norm = false;  // the better mode on this model (see shared_statistics_on_vs_off)
      const EncodeTileStats s = compare(ae_, img, o, "structured image");
      // Measured on this model: rel_l2 0.52 / 0.78, mean error 57% / 82% of mean|z|, away from the blend zones
      // 64% / 117%, max 43% / 78% of max|z|, seam ratio <= 1.09. That is large: per-tile GroupNorm statistics
      // differ between regions of a structured image and this random-weight encoder amplifies them (with the
      // untiled statistics the tiled error halves: shared_statistics_machinery_on_encoder_layers). The bounds
      // below are a tripwire for broken tiling, checked by breaking it: unnormalised blend weights give rel_l2
      // 1.4 / 1.7 and max 3.4x / 2.5x max|z|; tiles placed one latent px off give seam ratio 1.25 / 1.26; blend
      // ramps reversed give seam ratios 1.8 to 2.2.
      QVERIFY(s.rel_l2 < 1.0);
      QVERIFY(s.mean_all < 1.0 * s.mean_abs);
      QVERIFY(s.mean_away < 1.5 * s.mean_abs);
      QVERIFY(s.max_all < 1.0 * s.max_abs);
      QVERIFY(s.seam_cols < 1.15);  // a seam raises the ratio; blending may lower it (0.79 for 24/8)
      QVERIFY(s.seam_rows < 1.15);
    }
  }

  void per_tile_statistics_beat_image_wide_ones_for_the_encode() {
    // Per-tile GroupNorm statistics differ where the picture does (disc, rectangle, gradients). The two-pass
    // image-wide statistics were meant to bring the tiles closer to the untiled encode, as they do for the decode.
    c10::InferenceMode guard;
    at::Tensor img = structured_image(384, 384);
    vae::TileOptions local{32, 16};
    local.shared_norm = false;
    const EncodeTileStats a = compare(ae_, img, local, "structured image");
    const EncodeTileStats b = compare(ae_, img, {32, 16}, "structured image");
    qInfo("  image-wide / per-tile statistics: mean error x%.2f, rel_l2 x%.2f", b.mean_all / a.mean_all,
          b.rel_l2 / a.rel_l2);
    // Measured: the opposite, on this model and on the golden tiny-dev weights alike (rel_l2 0.52 -> 6.1 here).
    // The statistics pass normalises every tile with its own statistics, which removes the between-tile variation,
    // so the statistics it collects for the layers below the first are too narrow (std ~0.8x, means off by ~0.3
    // std); applied, each layer then over-amplifies and the error compounds over the encoder's 14 GroupNorms.
    // The machinery itself is right (next test). This is why the pipeline encodes with per-tile statistics
    // (flux_pipeline.cpp): asserted here, so that an improved estimator shows up as a failure that asks for the
    // default to be reconsidered.
    QVERIFY(a.rel_l2 < b.rel_l2);
  }

  void shared_statistics_machinery_on_encoder_layers() {
    // The encoder's GroupNorms run at f*tile down to tile pixels per tile side, and SharedNormStats scales each
    // tile's owned region (latent px) by layer size / tile latent size. Checked apart from the estimator's error:
    c10::InferenceMode guard;
    at::Tensor img = structured_image(384, 384);
    at::Tensor full = ae_->encode(img);
    const vae::TilePlan plan = vae::plan_tiling(48, 48, {32, 16});
    // (1) Statistics collected untiled (the whole image as one region) and applied untiled reproduce the encode.
    vae::SharedNormStats exact;
    {
      vae::SharedNormScope scope(&exact);
      exact.begin_tile(/*use_shared=*/false, /*collect=*/true, {0, 48, 0, 48, 48, 48});
      ae_->encode(img);
      exact.freeze();
    }
    const double r_untiled = test::rel_l2(encode_untiled_with(ae_, img, exact), full);
    // (2) Applied tile by tile, those exact statistics beat per-tile ones: what remains is the tile-local mid
    //     attention and the tiles' zero-padding borders.
    vae::SharedNormStats own;
    const double r_own = test::rel_l2(encode_pass(ae_, img, plan, own, false, false), full);
    const double r_exact = test::rel_l2(encode_pass(ae_, img, plan, exact, true, /*collect=*/true), full);
    // (3) Collected over the tiles' owned regions while the exact statistics are applied, the sums give back
    //     statistics close to exact: the owned regions are scaled right at every level of the encoder. (The
    //     estimator of the real two-pass mode collects while every tile normalises with its own statistics.)
    exact.freeze();
    const double r_recollected = test::rel_l2(encode_untiled_with(ae_, img, exact), full);
    vae::SharedNormStats two_pass;
    encode_pass(ae_, img, plan, two_pass, false, true);
    two_pass.freeze();
    const double r_two_pass = test::rel_l2(encode_untiled_with(ae_, img, two_pass), full);
    qInfo(
        "  rel_l2 to the untiled encode: untiled with untiled statistics %.3g; tiled with per-tile statistics "
        "%.3g, with the untiled (exact) statistics %.3g; untiled with statistics re-collected over the tiles' owned "
        "regions (exact applied) %.3g, collected by the two-pass mode's statistics pass %.3g",
        r_untiled, r_own, r_exact, r_recollected, r_two_pass);
    QVERIFY(r_untiled < 1e-4);       // measured 1.3e-6
    QVERIFY(r_exact < 0.6 * r_own);  // measured 0.24 vs 0.52
    QVERIFY(r_recollected < 0.3);    // measured 0.16; whole tiles instead of owned regions: 0.90
  }

  void seam_detector_sees_hard_seams() {
    // Abutting tiles with per-tile statistics must be flagged, otherwise the ~1 ratios above would prove nothing.
    c10::InferenceMode guard;
    at::Tensor img = structured_image(384, 384);
    vae::TileOptions hard{16, 0};
    hard.shared_norm = false;
    const EncodeTileStats s = compare(ae_, img, hard, "abutting tiles, no blending");
    QVERIFY(std::min(s.seam_cols, s.seam_rows) > 1.3);
  }

  void memory_bounded_by_the_tile() {
    // A 2048 x 2048 image (latent 256 x 256) with 32-px tiles: one full-resolution activation of this encoder
    // alone is 2048^2 * 32 channels * 4 B = 512 MiB. The peak of LibTorch's large CPU blocks (>= 1 MiB, counted by
    // the project's caching allocator, installed here with a 16 MiB cache cap so that its peak is the live peak
    // give or take 16 MiB) must stay near estimate_encode_bytes and far below that. The image is made before the
    // allocator is installed (its temporaries would count otherwise). Runs last: the allocator stays installed.
    if (cpu_caching_allocator_installed()) QSKIP("the CPU allocator was installed earlier: its peak is not ours");
    c10::InferenceMode guard;
    at::Tensor img = structured_image(2048, 2048);  // 48 MiB, not counted
    install_cpu_caching_allocator(std::int64_t(16) << 20);
    // Abutting tiles, one pass: the working set of a tile does not depend on the overlap, and the statistics pass
    // has the same one; this keeps the test to the cost of one untiled encode (64 tiles).
    vae::TileOptions o{32, 0};
    o.shared_norm = false;
    int tiles = 0;
    at::Tensor z = vae::tiled_encode(ae_, img, o, [&](int done, int) { return tiles = done, true; });
    const std::int64_t peak = cpu_allocator_stats().peak_bytes;
    const std::uint64_t estimate = vae::estimate_encode_bytes(ae_->config(), 256, 256, o);
    const std::uint64_t untiled = vae::estimate_encode_bytes(ae_->config(), 256, 256, {0, 0});
    const std::int64_t full_activation = std::int64_t(2048) * 2048 * 32 * 4;
    const std::int64_t latent_bytes = z.numel() * 4;
    const double MiB = 1 << 20;
    qInfo(
        "  2048x2048 image, tile 32 overlap 0 (%d tiles): peak of large CPU blocks %.1f MiB (including the output "
        "latent, %.1f MiB); estimate_encode_bytes %.1f MiB tiled, %.1f MiB untiled; one full-resolution activation "
        "%.0f MiB; input image %.0f MiB",
        tiles, peak / MiB, latent_bytes / MiB, estimate / MiB, untiled / MiB, full_activation / MiB,
        img.numel() * 4 / MiB);
    const vae::AutoEncoderConfig flux;  // defaults: FLUX.1's VAE
    qInfo(
        "  FLUX VAE, 4096x4096 image (latent 512x512), float32: estimate_encode_bytes %.2f GiB with tile 128 "
        "overlap 16, %.2f GiB with tile 64 overlap 16, %.2f GiB untiled; bf16 tile 128: %.2f GiB",
        vae::estimate_encode_bytes(flux, 512, 512, {128, 16}) / MiB / 1024,
        vae::estimate_encode_bytes(flux, 512, 512, {64, 16}) / MiB / 1024,
        vae::estimate_encode_bytes(flux, 512, 512, {0, 0}) / MiB / 1024,
        vae::estimate_encode_bytes(flux, 512, 512, {128, 16}, at::kBFloat16) / MiB / 1024);
    QCOMPARE(z.sizes().vec(), (std::vector<std::int64_t>{1, 16, 256, 256}));
    QCOMPARE(tiles, 64);
    QVERIFY(peak > 0);
    QVERIFY(peak < full_activation / 4);
    QVERIFY(static_cast<double>(peak) < 1.5 * static_cast<double>(estimate + latent_bytes) + 16 * MiB);
    release_cpu_cache();
  }
};

QTEST_APPLESS_MAIN(TestTiledEncode)
#include "test_tiled_encode.moc"
