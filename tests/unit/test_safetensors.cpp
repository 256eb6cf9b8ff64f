// test-deps: io
// SafetensorsFile against files written byte by byte by the test (tests/support/safetensors_writer.h): every
// dtype with hand-derived expected values, 0-d and empty tensors, metadata, zero-copy views over the mapping,
// copy-on-write, malformed files (each with its specific message), and save_safetensors round trips.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/io/dtype.h"
#include "core/io/safetensors.h"
#include "tests/support/safetensors_writer.h"

using dype::io::SafetensorsFile;
using dype::test::le_bytes;
using dype::test::RawTensor;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Exact comparison of float values; NaN equals NaN, and the sign of zero matters.
bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

void expect_floats(const at::Tensor& t, const std::vector<float>& expected, const char* what) {
  QCOMPARE(t.scalar_type(), at::kFloat);
  QCOMPARE(t.numel(), static_cast<std::int64_t>(expected.size()));
  const at::Tensor c = t.contiguous();
  const float* p = c.data_ptr<float>();
  for (std::size_t i = 0; i < expected.size(); ++i)
    if (!same_float(p[i], expected[i]))
      QFAIL(qPrintable(
          QString("%1[%2] = %3, expected %4").arg(what).arg(i).arg(p[i], 0, 'g', 9).arg(expected[i], 0, 'g', 9)));
}

// Address ranges of the mappings of `path` in this process (from the kernel's view, not from the reader).
std::vector<std::pair<std::uintptr_t, std::uintptr_t>> mappings_of(const std::string& path) {
  const std::string canonical = std::filesystem::canonical(path).string();
  std::ifstream maps("/proc/self/maps");
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> out;
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < canonical.size() ||
        line.compare(line.size() - canonical.size(), canonical.size(), canonical) != 0)
      continue;
    const auto dash = line.find('-'), space = line.find(' ');
    out.emplace_back(std::stoull(line.substr(0, dash), nullptr, 16),
                     std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16));
  }
  return out;
}

bool inside_mapping(const void* p, const std::vector<std::pair<std::uintptr_t, std::uintptr_t>>& ranges) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  for (const auto& [lo, hi] : ranges)
    if (a >= lo && a < hi) return true;
  return false;
}

std::vector<std::uint16_t> u16(std::initializer_list<std::uint16_t> v) { return v; }
std::vector<std::uint8_t> u8(std::initializer_list<std::uint8_t> v) { return v; }

// One tensor of every dtype, values chosen to hit the edges of each format (expected values in the tests below
// are derived by hand from the format definitions, not from the reader).
std::vector<RawTensor> every_dtype() {
  return {
      {"f64", "F64", {5}, le_bytes(std::vector<double>{1.0, -2.5, 1e300, 4.9406564584124654e-324, -0.0})},
      {"f32", "F32", {2, 3}, le_bytes(std::vector<float>{0.0f, -0.0f, 1.5f, 3.4028235e38f, 1.4e-45f, kInf})},
      // half: 1, -2, 65504 (max), 2^-24 (smallest subnormal), +inf, 0x3555 = 0.333251953125
      {"f16", "F16", {6}, le_bytes(u16({0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x3555}))},
      // bfloat16: 1, -5, 0x7F7F = 3.3895313892515355e38 (max), 2^-133 (smallest subnormal), 0.333984375
      {"bf16", "BF16", {5}, le_bytes(u16({0x3F80, 0xC0A0, 0x7F7F, 0x0001, 0x3EAB}))},
      // e4m3fn: 0, 1, -1, 448, 2^-9, 2^-6, 1.5, NaN, -0
      {"f8_e4m3", "F8_E4M3", {3, 3}, le_bytes(u8({0x00, 0x38, 0xB8, 0x7E, 0x01, 0x08, 0x3C, 0x7F, 0x80}))},
      // e5m2: 1, -2, 57344, +inf, -inf, 2^-16, 2^-14, NaN, 1.5
      {"f8_e5m2", "F8_E5M2", {9}, le_bytes(u8({0x3C, 0xC0, 0x7B, 0x7C, 0xFC, 0x01, 0x04, 0x7F, 0x3E}))},
      {"i64",
       "I64",
       {4},
       le_bytes(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1, 0,
                                          std::numeric_limits<std::int64_t>::max()})},
      {"i32",
       "I32",
       {3},
       le_bytes(std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), 7,
                                          std::numeric_limits<std::int32_t>::max()})},
      {"i16", "I16", {3}, le_bytes(std::vector<std::int16_t>{-32768, 12345, 32767})},
      {"i8", "I8", {3}, le_bytes(std::vector<std::int8_t>{-128, 0, 127})},
      {"u8", "U8", {3}, le_bytes(u8({0, 128, 255}))},
      {"bool", "BOOL", {4}, le_bytes(u8({0, 1, 1, 0}))},
  };
}

}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir dir_;
  std::string path(const char* name) const { return (dir_.path() + "/" + name).toStdString(); }

  // Opens `bytes` as a file and reads every tensor; returns the FormatError message ("" when nothing failed).
  std::string first_error(const QByteArray& bytes, const char* name = "bad.safetensors") {
    const std::string p = path(name);
    dype::test::write_file(p, std::string(bytes.constData(), static_cast<std::size_t>(bytes.size())));
    try {
      auto f = SafetensorsFile::open(p);
      for (const auto& t : f->tensors()) (void)f->tensor(t.name);
    } catch (const dype::FormatError& e) {
      return e.what();
    }
    return "";
  }

 private slots:
  void initTestCase() { QVERIFY(dir_.isValid()); }

  void reads_every_dtype_exactly() {
    const std::string p = path("all.safetensors");
    dype::test::write_safetensors(p, every_dtype());
    auto f = SafetensorsFile::open(p);
    QCOMPARE(f->tensors().size(), std::size_t{12});

    at::Tensor f64 = f->tensor("f64");
    QCOMPARE(f64.scalar_type(), at::kDouble);
    QCOMPARE(f64.sizes().vec(), (std::vector<std::int64_t>{5}));
    const double* d = f64.data_ptr<double>();
    QCOMPARE(d[0], 1.0);
    QCOMPARE(d[1], -2.5);
    QCOMPARE(d[2], 1e300);
    QCOMPARE(d[3], 4.9406564584124654e-324);
    QVERIFY(d[4] == 0.0 && std::signbit(d[4]));

    QCOMPARE(f->tensor("f32").sizes().vec(), (std::vector<std::int64_t>{2, 3}));
    expect_floats(f->tensor("f32").reshape({-1}), {0.0f, -0.0f, 1.5f, 3.4028235e38f, 1.4e-45f, kInf}, "f32");

    QCOMPARE(f->tensor("f16").scalar_type(), at::kHalf);
    expect_floats(f->tensor("f16", at::kFloat), {1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), kInf, 0.333251953125f},
                  "f16");
    QCOMPARE(f->tensor("bf16").scalar_type(), at::kBFloat16);
    expect_floats(f->tensor("bf16", at::kFloat),
                  {1.0f, -5.0f, 3.3895313892515355e38f, std::ldexp(1.0f, -133), 0.333984375f}, "bf16");

    // float8 comes back as LibTorch's float8 type where it has one, else decoded to float32; both exact.
    const at::Tensor e4m3 = f->tensor("f8_e4m3");
    QVERIFY(e4m3.scalar_type() == at::kFloat || e4m3.element_size() == 1);
    QCOMPARE(e4m3.sizes().vec(), (std::vector<std::int64_t>{3, 3}));
    expect_floats(f->tensor("f8_e4m3", at::kFloat).reshape({-1}),
                  {0.0f, 1.0f, -1.0f, 448.0f, 0.001953125f, 0.015625f, 1.5f, kNaN, -0.0f}, "e4m3");
    expect_floats(f->tensor("f8_e5m2", at::kFloat),
                  {1.0f, -2.0f, 57344.0f, kInf, -kInf, std::ldexp(1.0f, -16), std::ldexp(1.0f, -14), kNaN, 1.5f},
                  "e5m2");
    // Converting float8 to bf16 / fp16 is exact too (both hold every e4m3 value).
    expect_floats(f->tensor("f8_e4m3", at::kBFloat16).to(at::kFloat).reshape({-1}),
                  {0.0f, 1.0f, -1.0f, 448.0f, 0.001953125f, 0.015625f, 1.5f, kNaN, -0.0f}, "e4m3->bf16");

    const at::Tensor i64 = f->tensor("i64");
    QCOMPARE(i64.scalar_type(), at::kLong);
    QCOMPARE(i64[0].item<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
    QCOMPARE(i64[1].item<std::int64_t>(), std::int64_t{-1});
    QCOMPARE(i64[3].item<std::int64_t>(), std::numeric_limits<std::int64_t>::max());
    const at::Tensor i32 = f->tensor("i32");
    QCOMPARE(i32.scalar_type(), at::kInt);
    QCOMPARE(i32[0].item<std::int32_t>(), std::numeric_limits<std::int32_t>::min());
    QCOMPARE(i32[1].item<std::int32_t>(), 7);
    const at::Tensor i16 = f->tensor("i16");
    QCOMPARE(i16.scalar_type(), at::kShort);
    QCOMPARE(i16[0].item<std::int16_t>(), std::int16_t{-32768});
    QCOMPARE(i16[1].item<std::int16_t>(), std::int16_t{12345});
    const at::Tensor i8 = f->tensor("i8");
    QCOMPARE(i8.scalar_type(), at::kChar);
    QCOMPARE(i8[0].item<std::int8_t>(), std::int8_t{-128});
    QCOMPARE(i8[2].item<std::int8_t>(), std::int8_t{127});
    const at::Tensor u8t = f->tensor("u8");
    QCOMPARE(u8t.scalar_type(), at::kByte);
    QCOMPARE(u8t[2].item<std::uint8_t>(), std::uint8_t{255});
    const at::Tensor b = f->tensor("bool");
    QCOMPARE(b.scalar_type(), at::kBool);
    QCOMPARE(b.to(at::kInt).sum().item<int>(), 2);
    QVERIFY(b[1].item<bool>() && !b[3].item<bool>());
    // Integers convert on request.
    QCOMPARE(f->tensor("u8", at::kFloat)[1].item<float>(), 128.0f);
  }

  // e5m2 decoding of all 256 codes against the IEEE-style definition (sign, 5-bit exponent bias 15, 2-bit mantissa).
  void e5m2_all_codes() {
    for (int c = 0; c < 256; ++c) {
      const int s = c >> 7, e = (c >> 2) & 0x1F, m = c & 3;
      float v;
      if (e == 31)
        v = m == 0 ? kInf : kNaN;
      else if (e == 0)
        v = std::ldexp(static_cast<float>(m) / 4.0f, -14);
      else
        v = std::ldexp(1.0f + static_cast<float>(m) / 4.0f, e - 15);
      if (s) v = -v;
      if (!same_float(dype::io::float8_e5m2_to_float(static_cast<std::uint8_t>(c)), v))
        QFAIL(qPrintable(QString("e5m2 code %1").arg(c)));
    }
  }

  void zero_d_and_empty_tensors() {
    const std::string p = path("shapes.safetensors");
    dype::test::write_safetensors(p, {{"empty_i64", "I64", {0}, ""},
                                      {"scalar", "F32", {}, le_bytes(std::vector<float>{7.25f})},
                                      {"empty_2d", "F32", {0, 3}, ""},
                                      {"scalar_bf16", "BF16", {}, le_bytes(u16({0x4049}))},  // 3.140625
                                      {"scalar_e4m3", "F8_E4M3", {}, le_bytes(u8({0x42}))},  // 2.5
                                      {"empty_last", "F16", {2, 0}, ""}});
    auto f = SafetensorsFile::open(p);
    const at::Tensor s = f->tensor("scalar");
    QCOMPARE(s.dim(), std::int64_t{0});
    QCOMPARE(s.item<float>(), 7.25f);
    QCOMPARE(f->tensor("scalar_bf16", at::kFloat).item<float>(), 3.140625f);
    QCOMPARE(f->tensor("scalar_e4m3", at::kFloat).dim(), std::int64_t{0});
    QCOMPARE(f->tensor("scalar_e4m3", at::kFloat).item<float>(), 2.5f);
    QCOMPARE(f->tensor("empty_2d").sizes().vec(), (std::vector<std::int64_t>{0, 3}));
    QCOMPARE(f->tensor("empty_i64").numel(), std::int64_t{0});
    QCOMPARE(f->tensor("empty_last", at::kFloat).sizes().vec(), (std::vector<std::int64_t>{2, 0}));
    QCOMPARE(f->find("scalar")->nbytes(), std::uint64_t{4});
    QVERIFY(!f->contains("nope"));
  }

  void metadata_is_exposed() {
    const std::string p = path("meta.safetensors");
    // (A plain literal: moc mis-tokenises \" inside raw strings and would then miss this class.)
    dype::test::write_safetensors(p, {{"x", "F32", {1}, le_bytes(std::vector<float>{1})}},
                                  "{\"format\":\"pt\",\"note\":\"a \\\"quoted\\\" value\",\"empty\":\"\"}");
    auto f = SafetensorsFile::open(p);
    QCOMPARE(f->metadata().size(), std::size_t{3});
    QCOMPARE(f->metadata().at("format"), std::string("pt"));
    QCOMPARE(f->metadata().at("note"), std::string("a \"quoted\" value"));
    QCOMPARE(f->metadata().at("empty"), std::string(""));
    QCOMPARE(f->tensors().size(), std::size_t{1});  // __metadata__ is not a tensor
  }

  void matching_dtype_is_a_view_of_the_mapping() {
    const std::string p = path("view.safetensors");
    std::vector<float> values(1000);
    for (int i = 0; i < 1000; ++i) values[i] = static_cast<float>(i) * 0.5f;
    dype::test::write_safetensors(p, {{"w", "F32", {10, 100}, le_bytes(values)},
                                      {"h", "BF16", {4}, le_bytes(u16({0x3F80, 0x4000, 0x4040, 0x4080}))}});
    auto f = SafetensorsFile::open(p);
    const auto maps = mappings_of(p);
    QVERIFY2(!maps.empty(), "the file is not memory-mapped");
    at::Tensor w = f->tensor("w");
    QVERIFY(inside_mapping(w.data_ptr(), maps));
    QVERIFY(inside_mapping(f->tensor("w", at::kFloat).data_ptr(), maps));  // same dtype asked: no copy
    QVERIFY(inside_mapping(f->tensor("h").data_ptr(), maps));
    QVERIFY(inside_mapping(f->raw_bytes("w").data_ptr(), maps));
    QVERIFY(!inside_mapping(f->tensor("h", at::kFloat).data_ptr(), maps));  // conversion: a new tensor
    // The view keeps the mapping alive after the file object is gone.
    f.reset();
    QCOMPARE(w[9][99].item<float>(), 499.5f);
    // Copy-on-write: writing through the view never reaches the file.
    w.mul_(2.0f);
    QCOMPARE(w[0][3].item<float>(), 3.0f);
    auto again = SafetensorsFile::open(p);
    QCOMPARE(again->tensor("w")[0][3].item<float>(), 1.5f);
  }

  void misaligned_data_is_copied_correctly() {
    // A 1-byte U8 tensor first puts the F32 tensor at an odd address: legal in the format, read by copying.
    const std::string p = path("misaligned.safetensors");
    dype::test::write_safetensors(p,
                                  {{"a_byte", "U8", {1}, le_bytes(u8({9}))},
                                   {"b_f32", "F32", {3}, le_bytes(std::vector<float>{1.25f, -2.0f, 1e-3f})}},
                                  "", 1);
    auto f = SafetensorsFile::open(p);
    expect_floats(f->tensor("b_f32"), {1.25f, -2.0f, 1e-3f}, "b_f32");
    QCOMPARE(f->tensor("a_byte")[0].item<std::uint8_t>(), std::uint8_t{9});
  }

  void header_length_is_bounded() { QCOMPARE(SafetensorsFile::kMaxHeaderBytes, std::uint64_t{100} * 1024 * 1024); }

  void malformed_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("fragment");
    QTest::addColumn<QString>("tensor");  // must be named in the message ("" when no tensor is at fault)
    auto add = [](const char* tag, const std::string& bytes, const char* fragment, const char* tensor = "") {
      QTest::newRow(tag) << QByteArray(bytes.data(), static_cast<int>(bytes.size())) << QString(fragment)
                         << QString(tensor);
    };
    using dype::test::file_bytes;
    const std::string f32x4 = le_bytes(std::vector<float>{1, 2, 3, 4});
    const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
    add("empty file", "", "0 bytes, too short for a header");
    add("short file", std::string("\x10\x00\x00", 3), "3 bytes, too short for a header");
    std::uint64_t too_long = 1000;
    add("header length > file", file_bytes("{}", "", 8, &too_long), "header length 1000 exceeds file size 16");
    std::uint64_t huge = 200ull * 1024 * 1024;
    add("header length > 100 MB", file_bytes("{}", "", 8, &huge), "exceeds the 104857600-byte limit");
    add("zero header length", file_bytes("", ""), "not valid JSON");
    add("bad JSON", file_bytes(R"({"a":{"dtype":"F32",)", f32x4), "not valid JSON");
    add("invalid UTF-8", file_bytes("{\"\xff\":1}", ""), "not valid JSON");
    add("non-object header", file_bytes("[1,2,3]", ""), "header is not a JSON object");
    add("duplicate names", file_bytes("{" + ok_entry + "," + ok_entry + "}", f32x4), "appears twice", "a");
    add("duplicate entry key",
        file_bytes(R"({"a":{"dtype":"F32","dtype":"F16","shape":[2,2],"data_offsets":[0,16]}})", f32x4),
        "key 'dtype' appears twice", "a");
    add("entry not an object", file_bytes(R"({"a":[1,2]})", ""), "entry is not an object", "a");
    add("missing dtype", file_bytes(R"({"a":{"shape":[2,2],"data_offsets":[0,16]}})", f32x4),
        "missing or non-string dtype", "a");
    add("unknown dtype", file_bytes(R"({"a":{"dtype":"F7","shape":[2,2],"data_offsets":[0,16]}})", f32x4),
        "unknown dtype 'F7'", "a");
    add("negative dim", file_bytes(R"({"a":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}})", f32x4),
        "negative dimension -2", "a");
    add("fractional dim", file_bytes(R"({"a":{"dtype":"F32","shape":[2.5,2],"data_offsets":[0,16]}})", f32x4),
        "shape entries must be non-negative integers", "a");
    add("string dim", file_bytes(R"({"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,16]}})", f32x4),
        "shape entries must be non-negative integers", "a");
    add("huge shape",
        file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})", f32x4),
        "is too large", "a");
    add("dim beyond int64",
        file_bytes(R"({"a":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,16]}})", f32x4),
        "is too large", "a");
    add("too many dims",
        file_bytes(
            R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})",
            f32x4),
        "shape has 33 dimensions", "a");
    add("three offsets", file_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8,16]}})", f32x4),
        "data_offsets must be an array of two integers", "a");
    add("negative offset", file_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[-16,0]}})", f32x4),
        "negative data offset -16", "a");
    add("fractional offset", file_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16.0]}})", f32x4),
        "data_offsets must be non-negative integers", "a");
    add("end before begin", file_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}})", f32x4),
        "data_offsets [16,0) end before they begin", "a");
    add("size mismatch", file_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", f32x4),
        "size mismatch: F32 [2, 2] needs 16 bytes but offsets [0,12) hold 12", "a");
    add("offsets beyond file (truncated)",
        file_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})", f32x4),
        "offsets [8,24) exceed the data section of 16 bytes: file truncated?", "a");
    add("overlapping tensors",
        file_bytes(
            R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
            f32x4),
        "'a' [0,16) and 'b' [8,16) overlap in the data section", "a");
    add("metadata not an object", file_bytes(R"({"__metadata__":"pt"})", ""), "__metadata__ is not an object");
    add("metadata value not a string", file_bytes(R"({"__metadata__":{"format":1}})", ""),
        "__metadata__ value for 'format' is not a string");
    add("deep nesting", file_bytes(std::string(5000, '[') + std::string(5000, ']'), ""),
        "nests JSON deeper than a safetensors header can");
    add("deep nesting in entry",
        file_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":" + std::string(100000, '[') + std::string(100000, ']') + "}}",
                   ""),
        "nests JSON deeper than a safetensors header can", "a");
    add("BOOL byte not 0/1",
        file_bytes(R"({"a":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}})", std::string("\x01\x02\x00\x01", 4)),
        "BOOL element 1 holds byte value 2", "a");
  }

  void malformed() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, fragment);
    QFETCH(QString, tensor);
    const std::string msg = first_error(bytes);
    QVERIFY2(!msg.empty(), "no FormatError for a malformed file");
    QVERIFY2(msg.find(fragment.toStdString()) != std::string::npos, msg.c_str());
    QVERIFY2(msg.find("bad.safetensors") != std::string::npos, ("file not named: " + msg).c_str());
    if (!tensor.isEmpty())
      QVERIFY2(msg.find("'" + tensor.toStdString() + "'") != std::string::npos, ("tensor not named: " + msg).c_str());
  }

  void io_errors() {
    try {
      SafetensorsFile::open(path("does_not_exist.safetensors"));
      QFAIL("no error for a missing file");
    } catch (const dype::IoError& e) {
      QVERIFY(std::string(e.what()).find("does_not_exist.safetensors") != std::string::npos);
    }
    QVERIFY_EXCEPTION_THROWN(SafetensorsFile::open(dir_.path().toStdString()), dype::IoError);  // a folder
    const std::string p = path("one.safetensors");
    dype::test::write_safetensors(p, {{"x", "F32", {1}, le_bytes(std::vector<float>{1})}});
    auto f = SafetensorsFile::open(p);
    try {
      f->tensor("y");
      QFAIL("no error for an unknown tensor");
    } catch (const dype::FormatError& e) {
      QVERIFY(std::string(e.what()).find("no tensor named 'y'") != std::string::npos);
    }
  }

  // save_safetensors output is checked byte by byte with an independent JSON parse, then read back.
  void save_round_trip() {
    const std::string p = path("saved.safetensors");
    const at::Tensor f32 = at::arange(12, at::kFloat).reshape({3, 4}) * 0.25;
    const at::Tensor strided = at::arange(6, at::kLong).reshape({2, 3}).t();  // non-contiguous on purpose
    const std::vector<std::pair<std::string, at::Tensor>> tensors = {
        {"z.f32", f32},
        {"a.f64", at::full({2}, 1e300, at::kDouble)},
        {"f16", at::tensor({1.0f, -2.0f, 65504.0f}).to(at::kHalf)},
        {"bf16", at::tensor({1.0f, -5.0f}).to(at::kBFloat16)},
        {"i64.t", strided},
        {"i32", at::tensor({-7, 7}, at::kInt)},
        {"i16", at::tensor({-300, 300}).to(at::kShort)},
        {"i8", at::tensor({-100, 100}).to(at::kChar)},
        {"u8", at::tensor({0, 255}).to(at::kByte)},
        {"bool", at::tensor({1, 0, 1}).to(at::kBool)},
        {"scalar", at::scalar_tensor(3.5, at::kFloat)},
        {"empty", at::empty({0, 5}, at::kFloat)},
    };
    dype::io::save_safetensors(p, tensors, {{"source", "test"}});
    QVERIFY(!std::filesystem::exists(p + ".part"));

    const std::string bytes = dype::test::read_file(p);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    QCOMPARE(n % 8, std::uint64_t{0});
    const auto header = nlohmann::json::parse(bytes.substr(8, n));
    QCOMPARE(header["__metadata__"]["source"].get<std::string>(), std::string("test"));
    QCOMPARE(header["z.f32"]["dtype"].get<std::string>(), std::string("F32"));
    QCOMPARE(header["z.f32"]["shape"], nlohmann::json::array({3, 4}));
    QCOMPARE(header["i64.t"]["shape"], nlohmann::json::array({3, 2}));
    QCOMPARE(header["bool"]["dtype"].get<std::string>(), std::string("BOOL"));
    QCOMPARE(header["scalar"]["shape"], nlohmann::json::array());
    const auto off = header["z.f32"]["data_offsets"];
    float third = 0;
    std::memcpy(&third, bytes.data() + 8 + n + off[0].get<std::size_t>() + 2 * sizeof(float), sizeof(float));
    QCOMPARE(third, 0.5f);
    QCOMPARE(bytes.size(), static_cast<std::size_t>(8 + n + 48 + 16 + 6 + 4 + 48 + 8 + 4 + 2 + 2 + 3 + 4 + 0));

    auto f = SafetensorsFile::open(p);
    QCOMPARE(f->tensors().size(), tensors.size());
    for (const auto& [name, t] : tensors) {
      const at::Tensor back = f->tensor(name);
      QCOMPARE(back.scalar_type(), t.scalar_type());
      QCOMPARE(back.sizes().vec(), t.sizes().vec());
      QVERIFY2(at::equal(back, t), name.c_str());
    }
    QCOMPARE(f->metadata().at("source"), std::string("test"));

    QVERIFY_EXCEPTION_THROWN(dype::io::save_safetensors(p, {{"a", f32}, {"a", f32}}), dype::InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(dype::io::save_safetensors(p, {{"__metadata__", f32}}), dype::InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(dype::io::save_safetensors(p, {{"c", at::ones({2}, at::kComplexFloat)}}),
                             dype::InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(dype::io::save_safetensors(path("no/such/dir/x.safetensors"), {{"a", f32}}),
                             dype::IoError);
    QCOMPARE(SafetensorsFile::open(p)->tensors().size(), tensors.size());  // failed saves left the file alone
  }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
