// test-deps: io vae
// Golden cases C_vae_decode_8x8, C_vae_decode_12x20, C_vae_encode_64x96 from both checkpoint layouts of
// models/tiny-dev (comfy/ae.safetensors with BFL keys, diffusers/vae with diffusers keys), the key mapping, strict
// load errors, and tiled-vs-untiled figures (decode and encode) with the golden weights.
#include <c10/core/InferenceMode.h>

#include <QtTest>
#include <cstdio>
#include <filesystem>

#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "core/vae/autoencoder_loader.h"
#include "core/vae/tiled_decode.h"
#include "core/vae/tiled_encode.h"
#include "tests/support/golden.h"
#include "tests/support/seam_detector.h"
#include "tests/support/tiled_encode_compare.h"

using namespace dype;
using test::seam_ratio;
using vae::TileSpan;
namespace fs = std::filesystem;

namespace {

// Several full decodes per test function: on a loaded CI machine one can exceed Qt's 5-minute watchdog.
const bool kLongerWatchdog = qputenv("QTEST_FUNCTION_TIMEOUT", "1500000");

std::string model_dir() { return test::golden_root() + "/models/tiny-dev"; }
std::string bfl_path() { return model_dir() + "/comfy/ae.safetensors"; }
std::string diffusers_path() { return model_dir() + "/diffusers/vae"; }

double tol(const test::GoldenCase& c, const std::string& what) {
  return c.json.at("tolerance").at(what).at("rel_l2").get<double>();
}

struct TileStats {
  double max_all = 0, mean_all = 0, max_away = 0, mean_away = 0, rel_l2 = 0, seam_cols = 1, seam_rows = 1;
  double max_abs = 1, mean_abs = 1;  // of the untiled image
};

// Compares a tiled decode with the untiled one; "away" = pixels covered by a single tile (outside blend zones).
TileStats compare_tiled(vae::AutoEncoder& ae, const at::Tensor& z, const vae::TiledDecodeOptions& o) {
  const int f = ae->config().spatial_factor();
  at::Tensor full = ae->decode(z).to(at::kFloat);
  at::Tensor tiled = vae::tiled_decode(ae, z, o);
  const auto plan = vae::plan_tiled_decode(z.size(2), z.size(3), o);
  auto coverage = [f](const std::vector<vae::TileSpan>& spans, std::int64_t n) {
    at::Tensor c = at::zeros({n}, at::kInt);
    for (const auto& s : spans) c.narrow(0, s.begin * f, s.size() * f).add_(1);
    return c;
  };
  at::Tensor single = coverage(plan.rows, full.size(2)).eq(1).view({1, 1, -1, 1}) &
                      coverage(plan.cols, full.size(3)).eq(1).view({1, 1, 1, -1});
  single = single.expand_as(full);
  at::Tensor diff = (tiled - full).abs().to(at::kDouble);
  TileStats s;
  s.max_abs = full.abs().max().item<double>();
  s.mean_abs = full.abs().mean().item<double>();
  s.max_all = diff.max().item<double>();
  s.mean_all = diff.mean().item<double>();
  at::Tensor away = diff.masked_select(single);
  if (away.numel()) {
    s.max_away = away.max().item<double>();
    s.mean_away = away.mean().item<double>();
  }
  s.rel_l2 = test::rel_l2(tiled, full);
  // Normalised by the untiled image's own ratio at the same places: the image's column-to-column variation
  // (+-10% here) is then factored out and 1 means "the tiling left no trace".
  s.seam_cols = seam_ratio(tiled, plan.cols, f) / seam_ratio(full, plan.cols, f);
  s.seam_rows = seam_ratio(tiled.transpose(2, 3), plan.rows, f) / seam_ratio(full.transpose(2, 3), plan.rows, f);
  qInfo(
      "  tile %d overlap %d on %lldx%lld latent (%d tiles, %s GroupNorm): |tiled - untiled| max %.3g mean %.3g; "
      "away from blend zones max %.3g mean %.3g (untiled image max|x| %.3g mean|x| %.3g); rel_l2 %.3g; seam ratio "
      "(tiled / untiled) cols %.3f rows %.3f (untiled image's own ratio: %.3f, %.3f)",
      o.tile, o.overlap, (long long)z.size(2), (long long)z.size(3), plan.count(),
      o.shared_norm ? "image-wide" : "per-tile", s.max_all, s.mean_all, s.max_away, s.mean_away, s.max_abs, s.mean_abs,
      s.rel_l2, s.seam_cols, s.seam_rows, seam_ratio(full, plan.cols, f),
      seam_ratio(full.transpose(2, 3), plan.rows, f));
  return s;
}

void write_modified(const std::string& src, const std::string& dst, const std::string& drop,
                    const std::string& rename_from = "", const std::string& rename_to = "",
                    const std::string& reshape = "") {
  auto f = io::SafetensorsFile::open(src);
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& t : f->tensors()) {
    if (t.name == drop) continue;
    at::Tensor v = f->tensor(t.name);
    if (t.name == reshape) v = v.reshape({-1}).narrow(0, 0, v.numel() / 2).clone();
    out.emplace_back(t.name == rename_from ? rename_to : t.name, v);
  }
  io::save_safetensors(dst, out);
}

}  // namespace

class TestGoldenVae : public QObject {
  Q_OBJECT

 private:
  vae::AutoEncoder load(const QString& layout) {
    return vae::load_autoencoder(layout == "bfl" ? bfl_path() : diffusers_path());
  }

 private slots:
  void initTestCase() { at::set_num_threads(2); }

  void config_inferred_and_from_json() {
    // tiny-dev README: ch=32, ch_mult=[1, 1, 1, 1], num_res_blocks=1, z_channels=16, scale 0.3611, shift 0.1159.
    for (const QString layout : {"bfl", "diffusers"}) {
      auto ae = load(layout);
      const auto& c = ae->config();
      QCOMPARE(c.ch, 32);
      QCOMPARE(c.ch_mult, (std::vector<int>{1, 1, 1, 1}));
      QCOMPARE(c.num_res_blocks, 1);
      QCOMPARE(c.z_channels, 16);
      QCOMPARE(c.in_channels, 3);
      QCOMPARE(c.out_ch, 3);
      QCOMPARE(c.scale_factor, 0.3611);
      QCOMPARE(c.shift_factor, 0.1159);
    }
  }

  void module_names_are_bfl_keys_and_layouts_identical() {
    c10::InferenceMode guard;
    auto bfl = load("bfl");
    auto dif = load("diffusers");
    auto file = io::SafetensorsFile::open(bfl_path());
    auto pb = bfl->named_parameters();
    auto pd = dif->named_parameters();
    QCOMPARE(static_cast<std::size_t>(pb.size()), file->tensors().size());
    for (const auto& t : file->tensors()) {
      QVERIFY2(pb.contains(t.name), t.name.c_str());
      QVERIFY2(pd.contains(t.name), t.name.c_str());
      at::Tensor stored = file->tensor(t.name, at::kFloat);
      QVERIFY2(at::equal(pb[t.name], stored), t.name.c_str());
      QVERIFY2(at::equal(pd[t.name].reshape(stored.sizes()), stored), t.name.c_str());
    }
  }

  void diffusers_name_mapping() {
    // Pairs read off the tiny-dev README tables (4 levels).
    const std::pair<const char*, const char*> pairs[] = {
        {"decoder.up.3.block.0.conv1.weight", "decoder.up_blocks.0.resnets.0.conv1.weight"},
        {"decoder.up.0.block.1.norm2.bias", "decoder.up_blocks.3.resnets.1.norm2.bias"},
        {"decoder.up.1.upsample.conv.weight", "decoder.up_blocks.2.upsamplers.0.conv.weight"},
        {"decoder.mid.attn_1.proj_out.weight", "decoder.mid_block.attentions.0.to_out.0.weight"},
        {"decoder.mid.attn_1.norm.bias", "decoder.mid_block.attentions.0.group_norm.bias"},
        {"encoder.mid.block_2.conv1.weight", "encoder.mid_block.resnets.1.conv1.weight"},
        {"encoder.down.2.downsample.conv.bias", "encoder.down_blocks.2.downsamplers.0.conv.bias"},
        {"encoder.norm_out.weight", "encoder.conv_norm_out.weight"},
        {"decoder.up.2.block.0.nin_shortcut.weight", "decoder.up_blocks.1.resnets.0.conv_shortcut.weight"},
    };
    for (const auto& [bfl, dif] : pairs) QCOMPARE(vae::diffusers_vae_name(bfl, 4), std::string(dif));
    QCOMPARE(vae::diffusers_vae_name("double_blocks.0.img_attn.qkv.weight", 4), std::string());
  }

  void decode_data() {
    QTest::addColumn<QString>("case_name");
    QTest::addColumn<QString>("layout");
    for (const char* c : {"C_vae_decode_8x8", "C_vae_decode_12x20"})
      for (const char* l : {"bfl", "diffusers"}) QTest::newRow((std::string(c) + "/" + l).c_str()) << c << l;
  }
  void decode() {
    QFETCH(QString, case_name);
    QFETCH(QString, layout);
    c10::InferenceMode guard;
    auto c = test::load_case(case_name.toStdString());
    auto ae = load(layout);
    vae::Trace trace;
    at::Tensor img = ae->decode(c.input("latent"), &trace);
    const double r = test::rel_l2(img, c.expect("image"));
    qInfo("  image rel_l2 %.3g (max abs %.3g)", r, test::max_abs_diff(img, c.expect("image")));
    QVERIFY2(r <= tol(c, "image"), std::to_string(r).c_str());
    int checked = 0;
    for (const auto& t : c.expected->tensors()) {
      const std::string pre = "intermediate.";
      if (t.name.rfind(pre, 0) != 0) continue;
      const std::string key = t.name.substr(pre.size());
      QVERIFY2(trace.count(key), key.c_str());
      const double ri = test::rel_l2(trace[key], c.expect(t.name));
      qInfo("  %s rel_l2 %.3g", t.name.c_str(), ri);
      QVERIFY2(ri <= tol(c, "intermediate"), (t.name + " " + std::to_string(ri)).c_str());
      ++checked;
    }
    if (case_name == "C_vae_decode_8x8") QCOMPARE(checked, 7);
  }

  void encode_data() {
    QTest::addColumn<QString>("layout");
    QTest::newRow("bfl") << "bfl";
    QTest::newRow("diffusers") << "diffusers";
  }
  void encode() {
    QFETCH(QString, layout);
    c10::InferenceMode guard;
    auto c = test::load_case("C_vae_encode_64x96");
    auto ae = load(layout);
    at::Tensor moments, mean;
    at::Tensor latent = ae->encode(c.input("image"), &moments, &mean);
    for (const auto& [name, t] :
         {std::pair<std::string, at::Tensor>{"latent", latent}, {"mean", mean}, {"moments", moments}}) {
      const double r = test::rel_l2(t, c.expect(name));
      qInfo("  %s rel_l2 %.3g", name.c_str(), r);
      QVERIFY2(r <= tol(c, name), (name + " " + std::to_string(r)).c_str());
    }
  }

  void tiled_matches_untiled_on_golden_latents() {
    c10::InferenceMode guard;
    auto ae = load("bfl");
    // A latent that fits in one tile is decoded untiled: bit-identical.
    auto c8 = test::load_case("C_vae_decode_8x8");
    at::Tensor z8 = c8.input("latent");
    QVERIFY(at::equal(vae::tiled_decode(ae, z8, {64, 16}), ae->decode(z8)));
    // 12x20 with 8-px tiles (2x3 tiles, overlap 4): tiles smaller than the decoder's receptive field (13.5 latent
    // px for this architecture), so most pixels see the tile's zero padding; this is a worst case, reported, with
    // a bound that only rules out gross errors (misplaced tiles, wrong weights would give rel_l2 ~1).
    auto c12 = test::load_case("C_vae_decode_12x20");
    at::Tensor z12 = c12.input("latent");
    const TileStats s = compare_tiled(ae, z12, {8, 4});
    QVERIFY(s.rel_l2 < 0.3);
    at::Tensor tiled = vae::tiled_decode(ae, z12, {8, 4});
    qInfo("  tiled 8/4 vs the golden image: rel_l2 %.3g", test::rel_l2(tiled, c12.expect("image")));
    QVERIFY(test::rel_l2(tiled, c12.expect("image")) < 0.3);
  }

  void tiled_matches_untiled_on_random_latent() {
    // 64x64 latent (512x512 image) with the golden weights, 32-px tiles; overlap 8 and 16 give the same plan on
    // 64 px (3 tiles at 0/16/32 per axis: 16 px shared), so one run covers both. Bounds as in test_tiled_decode.
    c10::InferenceMode guard;
    auto ae = load("bfl");
    at::Tensor z = at::randn({1, 16, 64, 64}, at::detail::createCPUGenerator(1234));
    QCOMPARE(vae::plan_tiles(64, 32, 8).size(), vae::plan_tiles(64, 32, 16).size());
    const TileStats s = compare_tiled(ae, z, {32, 16});
    QVERIFY(s.mean_away < 0.08 * s.mean_abs);
    QVERIFY(s.mean_all < 0.08 * s.mean_abs);
    QVERIFY(s.max_all < 0.1 * s.max_abs);
    QVERIFY(std::abs(s.seam_cols - 1) < 0.05);
    QVERIFY(std::abs(s.seam_rows - 1) < 0.05);
  }

  void tiled_encode_matches_untiled_on_golden_image() {
    // Each bound below was checked by breaking the blend in tiled_encode.cpp: unnormalised weights, tiles placed
    // one latent px off, blend ramps reversed. Golden image: rel_l2 0.58 / 0.89 / 0.45; texture: mean error
    // 1.2x / 0.82x / 0.52x mean|z|; structured: rel_l2 1.7, max 1.02x max|z| with seam ratio 1.22, seam 2.2.
    c10::InferenceMode guard;
    auto ae = load("bfl");
    auto report = [](const char* label, const vae::TileOptions& o, const test::EncodeTileStats& s) {
      qInfo("  %s: %s", label, s.describe(o).c_str());
    };
    auto c = test::load_case("C_vae_encode_64x96");
    at::Tensor image = c.input("image");  // [1, 3, 64, 96] -> latent 8 x 12
    at::Tensor full = ae->encode(image);
    // Fits in one tile: exactly the untiled encode (which matches the golden latent).
    QVERIFY(at::equal(vae::tiled_encode(ae, image, {64, 16}), full));
    // 8-px tiles on the 8x12 latent (1x2 tiles, 4 px shared): tiles about the size of the encoder's receptive
    // field, the worst case; a bound that rules out gross errors only, as for the decode (measured rel_l2 0.25
    // per-tile, 0.27 image-wide statistics).
    for (bool shared : {false, true}) {
      vae::TileOptions o{8, 4};
      o.shared_norm = shared;
      const test::EncodeTileStats s = test::compare_tiled_encode(ae, image, o, full);
      report("golden image 64x96", o, s);
      const double vs_golden = test::rel_l2(vae::tiled_encode(ae, image, o), c.expect("latent"));
      qInfo("  tiled 8/4 vs the golden latent: rel_l2 %.3g", vs_golden);
      QVERIFY(s.rel_l2 < 0.3);
      QVERIFY(vs_golden < 0.3);
      QVERIFY(s.seam_cols < 1.15);
    }
    // A 512x512 smooth random texture (latent 64x64), 32-px tiles with 16 shared (3x3 tiles): statistics alike
    // in every tile, so what is left is the tile-local mid attention and the borders. Bounds in the manner of
    // tiled_matches_untiled_on_random_latent, looser (measured: mean 8.3% / 9.9% of mean|z| per-tile /
    // image-wide, away 8.8% / 9.8%, max 18% / 19% of max|z|, rel_l2 0.088 / 0.10, seams 0.99-1.006).
    at::Tensor texture = test::texture_image(512, 512, 5);
    full = ae->encode(texture);
    for (bool shared : {false, true}) {
      vae::TileOptions o{32, 16};
      o.shared_norm = shared;
      const test::EncodeTileStats s = test::compare_tiled_encode(ae, texture, o, full);
      report("texture 512x512", o, s);
      QVERIFY(s.mean_all < 0.15 * s.mean_abs);
      QVERIFY(s.mean_away < 0.15 * s.mean_abs);
      QVERIFY(s.max_all < 0.3 * s.max_abs);
      QVERIFY(s.rel_l2 < 0.15);
      QVERIFY(std::abs(s.seam_cols - 1) < 0.05);
      QVERIFY(std::abs(s.seam_rows - 1) < 0.05);
    }
    // A 512x512 structured image (flat shapes on gradients), same tiles: tiles now differ in their statistics,
    // and this random-weight encoder is very sensitive to that (measured rel_l2 0.89 per-tile; image-wide
    // statistics 1.7, see test_tiled_encode's shared_statistics_on_vs_off). Only the per-tile mode is bounded,
    // as a tripwire for broken tiling.
    at::Tensor structured = test::structured_image(512, 512);
    full = ae->encode(structured);
    for (bool shared : {false, true}) {
      vae::TileOptions o{32, 16};
      o.shared_norm = shared;
      const test::EncodeTileStats s = test::compare_tiled_encode(ae, structured, o, full);
      report("structured image 512x512", o, s);
      if (shared) continue;
      QVERIFY(s.rel_l2 < 1.2);
      QVERIFY(s.max_all < 1.0 * s.max_abs);
      QVERIFY(s.seam_cols < 1.15);
      QVERIFY(s.seam_rows < 1.15);
    }
  }

  void load_errors_name_file_and_tensor() {
    const std::string dir = fs::temp_directory_path() / ("dype_vae_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto expect_error = [](const std::string& path, const std::string& needle) {
      try {
        vae::load_autoencoder(path);
        QFAIL(("no error for " + path).c_str());
      } catch (const ModelError& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.find(needle) != std::string::npos, msg.c_str());
        QVERIFY2(
            msg.find(path) != std::string::npos || msg.find(fs::path(path).filename().string()) != std::string::npos,
            msg.c_str());
      }
    };
    // Missing tensor.
    write_modified(bfl_path(), dir + "/missing.safetensors", "decoder.up.2.block.1.conv2.weight");
    expect_error(dir + "/missing.safetensors", "decoder.up.2.block.1.conv2.weight");
    // Unexpected tensor (a renamed one: reported as both missing and unexpected).
    write_modified(bfl_path(), dir + "/renamed.safetensors", "", "decoder.mid.attn_1.q.bias",
                   "decoder.mid.attn_1.query.bias");
    expect_error(dir + "/renamed.safetensors", "decoder.mid.attn_1.query.bias");
    // Wrong shape.
    write_modified(bfl_path(), dir + "/shape.safetensors", "", "", "", "decoder.norm_out.weight");
    expect_error(dir + "/shape.safetensors", "decoder.norm_out.weight");
    // Not an autoencoder at all.
    expect_error(model_dir() + "/comfy/flux.safetensors", "not an autoencoder");
    fs::remove_all(dir);
  }
};

QTEST_APPLESS_MAIN(TestGoldenVae)
#include "test_golden_vae.moc"
