// test-deps: io
// Our safetensors reader against the golden data: H_safetensors_dtypes bit for bit (NaN == NaN), and every tiny
// checkpoint under models/tiny-dev (comfy and diffusers) against the tensor tables of its README.
#include <QtTest>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/io/dtype.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "tests/support/golden.h"
#include "tests/support/tiny_dev_readme.h"

using dype::io::SafetensorsFile;

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Bitwise equality of two float32 tensors, any NaN equal to any NaN. Returns "" or the first difference.
std::string bitwise_diff(const at::Tensor& got, const at::Tensor& want) {
  if (got.scalar_type() != at::kFloat) return std::string("dtype ") + c10::toString(got.scalar_type());
  if (got.sizes() != want.sizes()) return "shape differs";
  const at::Tensor g = got.contiguous(), w = want.contiguous();
  for (std::int64_t i = 0; i < g.numel(); ++i) {
    const float a = g.data_ptr<float>()[i], b = w.data_ptr<float>()[i];
    if (std::isnan(a) && std::isnan(b)) continue;
    if (bits_of(a) != bits_of(b))
      return "element " + std::to_string(i) + ": " + std::to_string(a) + " vs " + std::to_string(b);
  }
  return "";
}

std::string tiny_dev() { return dype::test::golden_root() + "/models/tiny-dev"; }

}  // namespace

class TestGoldenCheckpoints : public QObject {
  Q_OBJECT

 private:
  dype::test::TinyDevReadme readme_;

 private slots:
  void initTestCase() {
    readme_ = dype::test::parse_tiny_dev_readme(tiny_dev() + "/README.md");
    // The README describes all 9 weight files: 5 comfy (flux and flux_f8 share a table) and 4 diffusers (the CLIP
    // and T5 tables name a comfy and a diffusers file each).
    QCOMPARE(readme_.files.size(), std::size_t{9});
  }

  void safetensors_dtypes_exact() {
    const auto c = dype::test::load_case("H_safetensors_dtypes");
    const std::map<std::string, std::string> file_of = {{"bf16", "bf16.safetensors"},
                                                        {"f16", "f16.safetensors"},
                                                        {"f32", "f32.safetensors"},
                                                        {"f8", "f8_e4m3.safetensors"}};
    int compared = 0;
    for (const auto& info : c.expected->tensors()) {
      const auto dot = info.name.find('.');
      if (dot == std::string::npos) continue;  // e4m3_codes / e4m3_table: below
      const std::string group = info.name.substr(0, dot), tensor = info.name.substr(dot + 1);
      const auto f = SafetensorsFile::open(c.dir + "/" + file_of.at(group));
      if (tensor == "quantize_me_input") continue;  // the float inputs the F8 codes were made from
      if (tensor == "quantize_me_codes") {          // the raw stored bytes
        QVERIFY(at::equal(f->raw_bytes("quantize_me"), c.expect(info.name)));
        ++compared;
        continue;
      }
      const at::Tensor got = f->tensor(tensor, at::kFloat);
      const std::string diff = bitwise_diff(got, c.expect(info.name));
      QVERIFY2(diff.empty(), (info.name + ": " + diff).c_str());
      ++compared;
    }
    QCOMPARE(compared, 11);
    // All 256 e4m3 codes, NaN for 0x7F / 0xFF.
    const at::Tensor codes = c.expect("e4m3_codes"), table = c.expect("e4m3_table");
    QCOMPARE(codes.numel(), std::int64_t{256});
    for (int i = 0; i < 256; ++i) {
      const auto code = static_cast<std::uint8_t>(codes[i].item<std::int64_t>());
      const float want = table[i].item<float>(), got = dype::io::float8_e4m3_to_float(code);
      QVERIFY2((std::isnan(want) && std::isnan(got)) || bits_of(want) == bits_of(got),
               qPrintable(QString("code 0x%1: %2 vs %3").arg(code, 2, 16, QChar('0')).arg(got).arg(want)));
    }
    // The 0-d and empty tensors of the case files.
    const auto f32 = SafetensorsFile::open(c.dir + "/f32.safetensors");
    QCOMPARE(f32->tensor("empty").sizes().vec(), (std::vector<std::int64_t>{0, 3}));
    QCOMPARE(SafetensorsFile::open(c.dir + "/bf16.safetensors")->tensor("scalar").dim(), std::int64_t{0});
    QCOMPARE(SafetensorsFile::open(c.dir + "/f8_e4m3.safetensors")->metadata().at("format"), std::string("pt"));
  }

  void checkpoints_match_readme_data() {
    QTest::addColumn<QString>("file");
    for (const auto& [file, tensors] : readme_.files) QTest::newRow(file.c_str()) << QString::fromStdString(file);
  }

  void checkpoints_match_readme() {
    QFETCH(QString, file);
    const auto& want = readme_.files.at(file.toStdString());
    const auto f = SafetensorsFile::open(tiny_dev() + "/" + file.toStdString());
    QCOMPARE(f->tensors().size(), want.size());
    const bool f8_file = file.contains("f8_e4m3");
    int f8_count = 0;
    for (const auto& t : f->tensors()) {
      auto it = want.find(t.name);
      QVERIFY2(it != want.end(), ("not in the README: " + t.name).c_str());
      QVERIFY2(t.shape == it->second, ("shape of " + t.name).c_str());
      // README: all weights BF16; in the F8 file every tensor with ndim >= 2 is F8_E4M3, 1-D tensors BF16.
      const auto expected_dtype = (f8_file && t.shape.size() >= 2) ? dype::io::DType::F8_E4M3 : dype::io::DType::BF16;
      QVERIFY2(t.dtype == expected_dtype, (t.name + " is " + dype::io::dtype_name(t.dtype)).c_str());
      f8_count += t.dtype == dype::io::DType::F8_E4M3;
      const at::Tensor v = f->tensor(t.name, at::kFloat);
      QCOMPARE(v.sizes().vec(), it->second);
      QVERIFY2(at::isfinite(v).all().item<bool>(), ("non-finite values in " + t.name).c_str());
    }
    if (f8_file) QCOMPARE(f8_count, readme_.f8_tensor_count);
  }

  // The F8 file holds the BF16 weights rounded to e4m3 (nearest, ties to even, saturating at +-448; README).
  // The rounding is redone here by search over the golden e4m3 table, independent of our decoder.
  void f8_file_is_rounded_bf16() {
    const auto c = dype::test::load_case("H_safetensors_dtypes");
    const at::Tensor table = c.expect("e4m3_table");
    std::vector<std::pair<float, int>> finite;  // (value, code) of the non-negative finite codes
    for (int code = 0; code < 0x7F; ++code) finite.emplace_back(table[code].item<float>(), code);
    auto round_e4m3 = [&](float x) {
      const float a = std::min(std::fabs(x), 448.0f);
      int best = 0;
      for (std::size_t i = 1; i < finite.size(); ++i) {
        const float d_new = std::fabs(finite[i].first - a), d_best = std::fabs(finite[best].first - a);
        if (d_new < d_best || (d_new == d_best && (finite[i].second & 1) == 0)) best = static_cast<int>(i);
      }
      return std::copysign(finite[best].first, x);
    };
    const auto bf16 = SafetensorsFile::open(tiny_dev() + "/comfy/flux.safetensors");
    const auto f8 = SafetensorsFile::open(tiny_dev() + "/comfy/flux_f8_e4m3.safetensors");
    std::int64_t checked = 0;
    for (const auto& t : f8->tensors()) {
      const at::Tensor ref = bf16->tensor(t.name, at::kFloat).contiguous();
      const at::Tensor got = f8->tensor(t.name, at::kFloat).contiguous();
      for (std::int64_t i = 0; i < ref.numel(); ++i) {
        const float r = ref.data_ptr<float>()[i];
        const float want = t.dtype == dype::io::DType::F8_E4M3 ? round_e4m3(r) : r;
        if (bits_of(got.data_ptr<float>()[i]) != bits_of(want) && !(want == 0 && got.data_ptr<float>()[i] == 0))
          QFAIL(qPrintable(
              QString("%1[%2]: %3, expected %4").arg(t.name.c_str()).arg(i).arg(got.data_ptr<float>()[i]).arg(want)));
        ++checked;
      }
    }
    QVERIFY(checked > 100000);
  }

  // Both layouts hold bit-identical weights (README): the HF text encoders file for file, and for the
  // transformer the directly mapped tensors and the q/k/v split of the fused projections.
  void layouts_hold_identical_weights() {
    for (const auto& [comfy, diffusers] : std::vector<std::pair<std::string, std::string>>{
             {"comfy/clip_l.safetensors", "diffusers/text_encoder/model.safetensors"},
             {"comfy/t5xxl.safetensors", "diffusers/text_encoder_2/model.safetensors"}}) {
      const auto a = SafetensorsFile::open(tiny_dev() + "/" + comfy);
      const auto b = SafetensorsFile::open(tiny_dev() + "/" + diffusers);
      QCOMPARE(a->tensors().size(), b->tensors().size());
      for (const auto& t : a->tensors())
        QVERIFY2(at::equal(a->raw_bytes(t.name), b->raw_bytes(t.name)), t.name.c_str());
    }
    const auto bfl = dype::io::TensorStore::open(tiny_dev() + "/comfy/flux.safetensors");
    const auto dif = dype::io::TensorStore::open(tiny_dev() + "/diffusers/transformer");
    QVERIFY(at::equal(bfl->tensor("img_in.weight"), dif->tensor("x_embedder.weight")));
    QVERIFY(at::equal(bfl->tensor("txt_in.weight"), dif->tensor("context_embedder.weight")));
    QVERIFY(at::equal(bfl->tensor("final_layer.linear.weight"), dif->tensor("proj_out.weight")));
    for (int i = 0; i < 2; ++i) {
      const std::string d = "transformer_blocks." + std::to_string(i) + ".attn.";
      const std::string b = "double_blocks." + std::to_string(i) + ".";
      QVERIFY(at::equal(
          bfl->tensor(b + "img_attn.qkv.weight"),
          at::cat({dif->tensor(d + "to_q.weight"), dif->tensor(d + "to_k.weight"), dif->tensor(d + "to_v.weight")})));
      QVERIFY(at::equal(bfl->tensor(b + "txt_attn.qkv.bias"),
                        at::cat({dif->tensor(d + "add_q_proj.bias"), dif->tensor(d + "add_k_proj.bias"),
                                 dif->tensor(d + "add_v_proj.bias")})));
    }
  }
};

QTEST_APPLESS_MAIN(TestGoldenCheckpoints)
#include "test_golden_checkpoints.moc"
