// test-deps: image pipeline
// PNG export: 8/16-bit pixel round trip, text chunks (tEXt / iTXt), the request embedded in the metadata and read
// back (drag-and-drop restore), A1111 text from other tools, and failures that must leave no file behind.
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QtTest>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/image/convert.h"
#include "core/image/png_export.h"
#include "core/image/png_metadata.h"
#include "core/image/preview.h"
#include "core/pipeline/request_metadata.h"

using namespace dype;

namespace {

RgbImage gradient(int w, int h, bool with16) {
  RgbImage im;
  im.width = w;
  im.height = h;
  im.rgb8.resize(static_cast<std::size_t>(w) * h * 3);
  if (with16) im.rgb16.resize(im.rgb8.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const std::size_t i = (static_cast<std::size_t>(y) * w + x) * 3 + c;
        im.rgb8[i] = static_cast<std::uint8_t>((x * 7 + y * 13 + c * 85) & 0xff);
        if (with16) im.rgb16[i] = static_cast<std::uint16_t>((x * 977 + y * 131 + c * 20011) & 0xffff);
      }
  return im;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  return names;
}

// Incompressible content (an LCG), so that the file really is as large as its pixels.
RgbImage noise_image(int w, int h) {
  RgbImage im;
  im.width = w;
  im.height = h;
  im.rgb8.resize(static_cast<std::size_t>(w) * h * 3);
  im.rgb16.resize(im.rgb8.size());
  std::uint32_t s = 12345;
  for (std::size_t i = 0; i < im.rgb16.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    im.rgb16[i] = static_cast<std::uint16_t>(s >> 16);
    im.rgb8[i] = static_cast<std::uint8_t>(s >> 24);
  }
  return im;
}

}  // namespace

class TestPngExport : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::string path(const char* name) const { return tmp_.path().toStdString() + "/" + name; }

 private slots:
  void eight_bit_round_trip_with_text() {
    const RgbImage im = gradient(37, 23, false);
    const std::string p = path("a.png");
    image::write_png(p, im, 8, {{"parameters", "a cat\nSteps: 4"}, {"Software", "DyPE Studio"}});
    image::PngInfo info;
    const RgbImage back = image::read_png(p, &info);
    QCOMPARE(info.width, 37);
    QCOMPARE(info.height, 23);
    QCOMPARE(info.bit_depth, 8);
    QVERIFY(back.rgb8 == im.rgb8);
    QVERIFY(back.rgb16.empty());
    QCOMPARE(QString::fromStdString(info.text.at("parameters")), QString("a cat\nSteps: 4"));
    QCOMPARE(QString::fromStdString(info.text.at("Software")), QString("DyPE Studio"));
  }

  void sixteen_bit_round_trip_is_exact() {
    const RgbImage im = gradient(19, 11, true);
    const std::string p = path("b16.png");
    image::write_png(p, im, 16);
    image::PngInfo info;
    const RgbImage back = image::read_png(p, &info);
    QCOMPARE(info.bit_depth, 16);
    QVERIFY(back.rgb16 == im.rgb16);
    // The 8-bit view of a 16-bit file is the rounded value v·255/65535.
    QCOMPARE(static_cast<int>(back.rgb8[5]), static_cast<int>((im.rgb16[5] * 255u + 32767u) / 65535u));
  }

  void sixteen_bit_needs_sixteen_bit_data() {
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, image::write_png(path("x.png"), gradient(4, 4, false), 16));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, image::write_png(path("x.png"), gradient(4, 4, false), 12));
    QVERIFY(!QFile::exists(QString::fromStdString(path("x.png"))));
  }

  void non_latin1_text_survives_as_utf8() {
    const std::string prompt = "東京の夜景 🌃 neon, café";
    const std::string p = path("u.png");
    image::write_png(p, gradient(8, 8, false), 8, {{"parameters", prompt}, {"comment", "café"}});
    const auto info = image::read_png_info(p);
    QCOMPARE(QString::fromStdString(info.text.at("parameters")), QString::fromStdString(prompt));
    QCOMPARE(QString::fromStdString(info.text.at("comment")), QString::fromUtf8("café"));  // tEXt (Latin-1)
    std::string latin1;
    QVERIFY(image::utf8_to_latin1("café", &latin1));
    QCOMPARE(latin1.size(), std::size_t(4));
    QVERIFY(!image::utf8_to_latin1("λ", &latin1));
  }

  void conversion_rounds_and_clamps() {
    // x → round((clamp(x, −1, 1) + 1)·127.5), computed by hand for a few values.
    at::Tensor img = at::tensor({-2.0f, -1.0f, 0.0f, 0.5f, 1.0f, 3.0f}, at::kFloat).reshape({1, 3, 1, 2});
    const RgbImage im = image::tensor_to_rgb(img, true);
    QCOMPARE(im.width, 2);
    QCOMPARE(im.height, 1);
    // pixel 0 = (c0: -2, c1: 0, c2: 1), pixel 1 = (c0: -1, c1: 0.5, c2: 3)
    const std::vector<std::uint8_t> e8 = {0, 128, 255, 0, 191, 255};  // 127.5 → 128 (half to even), 191.25 → 191
    QVERIFY(im.rgb8 == e8);
    const std::vector<std::uint16_t> e16 = {0, 32768, 65535, 0, 49151, 65535};  // 32767.5 → 32768, 49151.25
    QVERIFY(im.rgb16 == e16);
  }

  void preview_applies_the_comfy_matrix() {
    // A latent that is 1 in channel 4 only: rgb = M[4] + b = (0.0859−0.0329, 0.0721−0.0718, 0.0329−0.0851).
    at::Tensor z = at::zeros({1, 16, 2, 3});
    z.select(1, 4).fill_(1.0f);
    const RgbImage im = image::latent_preview(z);
    QCOMPARE(im.width, 3);
    QCOMPARE(im.height, 2);
    auto u8 = [](double v) { return static_cast<int>(std::nearbyint((std::clamp(v, -1.0, 1.0) + 1.0) * 127.5)); };
    QCOMPARE(static_cast<int>(im.rgb8[0]), u8(0.0859 - 0.0329));
    QCOMPARE(static_cast<int>(im.rgb8[1]), u8(0.0721 - 0.0718));
    QCOMPARE(static_cast<int>(im.rgb8[2]), u8(0.0329 - 0.0851));
  }

  void request_round_trips_through_the_png() {
    GenerationResult r;
    r.request.prompt = "a lighthouse, \"quoted\", at dusk: λ 東京";
    r.request.width = 48;
    r.request.height = 32;
    r.request.steps = 7;
    r.request.guidance = 4.25;
    r.request.seed = 18446744073709551557ull;  // > 2^63: must survive JSON
    r.request.dype.method = DypeMethod::VisionYaRN;
    r.request.dype.yarn_form = YarnForm::Comfy;
    r.request.dype.lambda_s = 1.5;
    r.request.dype.lambda_t = 3;
    r.request.dype.base_resolution = 512;
    r.request.shift = ShiftPolicy::Fixed;
    r.request.shift_mu = 0.9;
    r.request.noise = sampling::NoiseConvention::Bfl;
    r.request.bit_depth = 16;
    r.model_label = "demo (random weights)";
    r.target = {"cuda:0", "bfloat16"};
    r.shifted = true;
    r.mu = 0.9;
    r.sigmas = {1.0, 0.5, 0.0};
    r.image = gradient(48, 32, true);
    const std::string p = path("req.png");
    export_png(p, r, 16, "0.1.0");
    const GenerationRequest back = read_request_from_png(p);
    QCOMPARE(QString::fromStdString(back.to_json().dump()), QString::fromStdString(r.request.to_json().dump()));
    const auto info = image::read_png_info(p);
    const std::string params = info.text.at("parameters");
    QVERIFY(params.rfind(r.request.prompt + "\n", 0) == 0);
    QVERIFY(params.find("Steps: 7, Sampler: Euler") != std::string::npos);
    QVERIFY(params.find("Seed: 18446744073709551557, Size: 48x32") != std::string::npos);
    QVERIFY(params.find("Model: demo (random weights)") != std::string::npos);
    QVERIFY(params.find("DyPE: vision-yarn λs=1.5 λt=3 base=512") != std::string::npos);
    QVERIFY(params.find("Noise: bfl, Dtype: bfloat16") != std::string::npos);
    const auto j = nlohmann::json::parse(info.text.at(kPngJsonKey));
    QCOMPARE(QString::fromStdString(j.at("model").get<std::string>()), QString("demo (random weights)"));
    // Where it was computed: beside the request (a request does not choose it; the loaded model did).
    QCOMPARE(QString::fromStdString(j.at("compute").at("device").get<std::string>()), QString("cuda:0"));
    QCOMPARE(QString::fromStdString(j.at("compute").at("dtype").get<std::string>()), QString("bfloat16"));
    QVERIFY(!j.at("request").contains("dtype"));
  }

  void a1111_text_from_other_tools_is_understood() {
    std::map<std::string, std::string> text = {
        {"parameters",
         "a red fox in the snow,\nwinter\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, Schedule type: Simple, "
         "CFG scale: 1, Distilled CFG Scale: 3.5, Seed: 1234, Size: 896x1152, Model hash: abc, Model: \"flux1-dev, "
         "fp8\", Version: f2.0.1"}};
    const GenerationRequest r = request_from_png_text(text);
    QCOMPARE(QString::fromStdString(r.prompt), QString("a red fox in the snow,\nwinter"));
    QCOMPARE(r.steps, 20);
    QCOMPARE(r.seed, std::uint64_t(1234));
    QCOMPARE(r.width, 896);
    QCOMPARE(r.height, 1152);
    QCOMPARE(r.guidance, 3.5);
    QVERIFY_THROWS_EXCEPTION(FormatError, request_from_png_text({{"Software", "x"}}));
    QVERIFY_THROWS_EXCEPTION(FormatError, request_from_png_text({{kPngJsonKey, "{not json"}}));
  }

  void disk_full_device_is_an_io_error() {
    // /dev/full accepts the open and fails every write with ENOSPC: the error must surface (at flush/close).
    QVERIFY_THROWS_EXCEPTION(IoError, image::write_png("/dev/full", noise_image(256, 256), 8));
  }

  void file_size_limit_leaves_no_partial_file() {
    // A full disk on a regular file, simulated with RLIMIT_FSIZE (works as root too): the write fails half way,
    // the temporary file is removed and the destination never appears.
    QTemporaryDir dir;
    const std::string dest = dir.path().toStdString() + "/big.png";
    struct rlimit old {};
    ::getrlimit(RLIMIT_FSIZE, &old);
    auto* prev = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old;
    lim.rlim_cur = 64 * 1024;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    bool threw = false;
    std::string msg;
    try {
      image::write_png(dest, noise_image(512, 512), 16);  // ~1.5 MB against a 64 KiB limit
    } catch (const IoError& e) {
      threw = true;
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, prev);
    QVERIFY2(threw, "a write beyond the size limit must throw IoError");
    QVERIFY2(msg.find(dest) != std::string::npos, msg.c_str());
    QVERIFY(list_dir(dir.path().toStdString()).empty());
  }

  void unwritable_destination_is_an_io_error() {
    QVERIFY_THROWS_EXCEPTION(IoError, image::write_png(path("no/such/dir/x.png"), gradient(4, 4, false), 8));
    QVERIFY_THROWS_EXCEPTION(IoError, image::write_png(tmp_.path().toStdString(), gradient(4, 4, false), 8));
    // /proc refuses new files even for root.
    QVERIFY_THROWS_EXCEPTION(IoError, image::write_png("/proc/dype-test.png", gradient(4, 4, false), 8));
  }

  void replacing_an_existing_file_is_atomic() {
    const std::string p = path("replace.png");
    image::write_png(p, gradient(8, 8, false), 8);
    image::write_png(p, gradient(9, 5, false), 8);
    QCOMPARE(image::read_png_info(p).width, 9);
    for (const auto& n : list_dir(tmp_.path().toStdString())) QVERIFY2(n.find(".part") == std::string::npos, n.c_str());
  }

  void reading_garbage_is_a_format_error() {
    const std::string p = path("garbage.png");
    std::ofstream(p) << "not a png at all";
    QVERIFY_THROWS_EXCEPTION(FormatError, image::read_png_info(p));
    QVERIFY_THROWS_EXCEPTION(IoError, image::read_png_info(path("missing.png")));
  }
};

QTEST_APPLESS_MAIN(TestPngExport)
#include "test_png_export.moc"
