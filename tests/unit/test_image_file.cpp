// test-deps: common image
// Loading users' init images: PNG in every colour type (exact values, 16-bit at full precision, alpha on white,
// grey, palette, tRNS, interlaced), JPEG (RGB, grey, progressive, CMYK, misnamed .png) and what the user is told
// for a missing, empty, truncated, corrupt, foreign or oversized file. Test images are written here with libpng
// and libjpeg directly, so every colour type and bit depth can be produced.
#include <png.h>
#include <zlib.h>  // crc32, to forge a PNG header (zlib comes with libpng)

#include <QtTest>
#include <chrono>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

// jpeglib.h uses FILE without including <cstdio>: keep it after the standard headers.
#include <jpeglib.h>

#include "core/common/error.h"
#include "core/image/image_file.h"
#include "core/image/png_export.h"

using namespace dype;
using image::LoadedImage;

namespace {

// A PNG described sample by sample: `data` holds the rows as stored in the file (16-bit samples big-endian).
struct RawPng {
  int w = 0, h = 0, bit_depth = 8, color_type = PNG_COLOR_TYPE_RGB;
  bool interlace = false;
  std::vector<std::uint8_t> data;
  std::vector<png_color> palette;
  std::vector<std::uint8_t> trns;  // palette alpha values
};

// C-style (setjmp) writer: nothing with a destructor lives in this frame.
bool write_png_c(const char* path, const RawPng* p, png_bytep* rows) {
  FILE* fp = std::fopen(path, "wb");
  if (!fp) return false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(fp);
    return false;
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, p->w, p->h, p->bit_depth, p->color_type,
               p->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!p->palette.empty()) png_set_PLTE(png, info, p->palette.data(), static_cast<int>(p->palette.size()));
  if (!p->trns.empty()) png_set_tRNS(png, info, p->trns.data(), static_cast<int>(p->trns.size()), nullptr);
  png_set_rows(png, info, rows);
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  return std::fclose(fp) == 0;
}

void write_png(const std::string& path, const RawPng& p) {
  const std::size_t rowbytes = p.data.size() / p.h;
  std::vector<png_bytep> rows(p.h);
  for (int y = 0; y < p.h; ++y) rows[y] = const_cast<png_bytep>(p.data.data() + y * rowbytes);
  QVERIFY(write_png_c(path.c_str(), &p, rows.data()));
}

void put16(std::vector<std::uint8_t>& d, std::uint16_t v) {
  d.push_back(static_cast<std::uint8_t>(v >> 8));
  d.push_back(static_cast<std::uint8_t>(v & 0xff));
}

// Writes an 8-bit JPEG from interleaved samples (3 = RGB, 1 = grey, 4 = CMYK as Adobe stores it, inverted).
void write_jpeg(const std::string& path, int w, int h, int comps, const std::vector<std::uint8_t>& px,
                bool progressive = false, int quality = 95) {
  FILE* fp = std::fopen(path.c_str(), "wb");
  QVERIFY(fp);
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, fp);
  c.image_width = w;
  c.image_height = h;
  c.input_components = comps;
  c.in_color_space = comps == 3 ? JCS_RGB : (comps == 1 ? JCS_GRAYSCALE : JCS_CMYK);
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(px.data() + static_cast<std::size_t>(c.next_scanline) * w * comps);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(fp);
}

float unit8(int v) { return static_cast<float>(v / 255.0 * 2.0 - 1.0); }
float unit16(int v) { return static_cast<float>(v / 65535.0 * 2.0 - 1.0); }
float at_px(const LoadedImage& im, int c, int y, int x) { return im.pixels[0][c][y][x].item<float>(); }

bool has_note(const LoadedImage& im, const std::string& note) {
  for (const auto& n : im.notes)
    if (n == note) return true;
  return false;
}

// The message of the exception of type E that f throws; "(no error)" or "(other exception: ...)" otherwise.
template <typename E>
std::string thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(other exception: ") + e.what() + ")";
  }
  return "(no error)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void put_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

RawPng rgb8(int w, int h) {
  RawPng p;
  p.w = w;
  p.h = h;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) p.data.push_back(static_cast<std::uint8_t>((x * 37 + y * 101 + c * 83) & 0xff));
  return p;
}

}  // namespace

class TestImageFile : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::string path(const char* name) const { return tmp_.path().toStdString() + "/" + name; }

 private slots:
  void eight_bit_rgb_is_exact() {
    const RawPng p = rgb8(7, 5);
    write_png(path("rgb8.png"), p);
    const LoadedImage im = image::load_image(path("rgb8.png"));
    QCOMPARE(im.format, std::string("PNG"));
    QCOMPARE(im.width, 7);
    QCOMPARE(im.height, 5);
    QCOMPARE(im.bits, 8);
    QCOMPARE(im.pixels.sizes().vec(), (std::vector<std::int64_t>{1, 3, 5, 7}));
    QCOMPARE(im.pixels.scalar_type(), at::kFloat);
    QVERIFY(im.notes.empty());
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 7; ++x)
        for (int c = 0; c < 3; ++c) QCOMPARE(at_px(im, c, y, x), unit8(p.data[(y * 7 + x) * 3 + c]));
    QCOMPARE(at_px(im, 0, 0, 0), -1.0f);
  }

  void sixteen_bit_keeps_full_precision() {
    RawPng p;
    p.w = 3;
    p.h = 2;
    p.bit_depth = 16;
    const std::vector<std::uint16_t> v = {0x1234, 0x0001, 0xffff, 0x8000, 0x7fff, 0x0000, 0xabcd, 0x00ff, 0x0100,
                                          0x4321, 0xfffe, 0x5555, 0x0002, 0x1235, 0x9999, 0x0000, 0xffff, 0x3333};
    for (std::uint16_t s : v) put16(p.data, s);
    write_png(path("rgb16.png"), p);
    const LoadedImage im = image::load_image(path("rgb16.png"));
    QCOMPARE(im.bits, 16);
    QVERIFY(has_note(im, "16-bit image: read at full precision"));
    for (int i = 0; i < 18; ++i) QCOMPARE(at_px(im, i % 3, i / 9, (i / 3) % 3), unit16(v[i]));
    // 0x1234 and 0x1235 stay distinct: no 8-bit detour.
    QVERIFY(at_px(im, 0, 0, 0) != at_px(im, 1, 1, 1));
    QCOMPARE(at_px(im, 0, 0, 0), static_cast<float>(0x1234 / 65535.0 * 2 - 1));
  }

  void grey_is_expanded_to_rgb() {
    RawPng p;
    p.w = 4;
    p.h = 1;
    p.color_type = PNG_COLOR_TYPE_GRAY;
    p.data = {0, 85, 170, 255};
    write_png(path("grey.png"), p);
    LoadedImage im = image::load_image(path("grey.png"));
    QVERIFY(has_note(im, "greyscale image: expanded to RGB"));
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) QCOMPARE(at_px(im, c, 0, x), unit8(p.data[x]));
    // 2-bit grey: 0..3 → 0, 85, 170, 255 (libpng's bit replication).
    p.bit_depth = 2;
    p.data = {0x1b};  // samples 0, 1, 2, 3
    write_png(path("grey2.png"), p);
    im = image::load_image(path("grey2.png"));
    QCOMPARE(im.bits, 8);
    for (int x = 0; x < 4; ++x) QCOMPARE(at_px(im, 1, 0, x), unit8(85 * x));
  }

  void grey_alpha_is_composited_on_white() {
    RawPng p;
    p.w = 3;
    p.h = 1;
    p.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
    p.data = {0, 255, 0, 0, 100, 128};  // opaque black, transparent black, half-transparent 100
    write_png(path("ga.png"), p);
    const LoadedImage im = image::load_image(path("ga.png"));
    QVERIFY(has_note(im, "alpha channel: transparent areas composited on white"));
    QVERIFY(has_note(im, "greyscale image: expanded to RGB"));
    QCOMPARE(at_px(im, 0, 0, 0), -1.0f);
    QCOMPARE(at_px(im, 2, 0, 1), 1.0f);  // fully transparent: white
    const float a = 128 / 255.0f, expect = ((100 / 255.0f) * a + (1 - a)) * 2 - 1;
    QVERIFY(std::abs(at_px(im, 1, 0, 2) - expect) < 1e-6f);
  }

  void rgba_half_transparent_black_reads_as_mid_grey() {
    RawPng p;
    p.w = 2;
    p.h = 1;
    p.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
    p.data = {0, 0, 0, 128, 255, 0, 0, 255};
    write_png(path("rgba.png"), p);
    const LoadedImage im = image::load_image(path("rgba.png"));
    QVERIFY(has_note(im, "alpha channel: transparent areas composited on white"));
    for (int c = 0; c < 3; ++c) QVERIFY(std::abs(at_px(im, c, 0, 0)) < 0.01f);  // mid grey is 0
    QCOMPARE(at_px(im, 0, 0, 1), 1.0f);                                         // opaque red unchanged
    QCOMPARE(at_px(im, 1, 0, 1), -1.0f);

    // 16-bit RGBA: the composite keeps 16-bit precision.
    RawPng q;
    q.w = 1;
    q.h = 1;
    q.bit_depth = 16;
    q.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
    for (std::uint16_t s : {0x1234, 0x8000, 0xffff, 0x8000}) put16(q.data, s);
    write_png(path("rgba16.png"), q);
    const LoadedImage im16 = image::load_image(path("rgba16.png"));
    const double a = 0x8000 / 65535.0;
    QVERIFY(std::abs(at_px(im16, 0, 0, 0) - ((0x1234 / 65535.0 * a + 1 - a) * 2 - 1)) < 1e-6);

    // All opaque: the channel is dropped, with a note saying so.
    p.data = {0, 0, 0, 255, 10, 20, 30, 255};
    write_png(path("opaque.png"), p);
    QVERIFY(has_note(image::load_image(path("opaque.png")), "alpha channel: fully opaque, dropped"));
  }

  void palette_and_trns() {
    RawPng p;
    p.w = 3;
    p.h = 1;
    p.bit_depth = 4;
    p.color_type = PNG_COLOR_TYPE_PALETTE;
    p.palette = {{255, 0, 0}, {0, 10, 200}, {0, 0, 0}};
    p.trns = {255, 255, 0};  // entry 2 fully transparent
    p.data = {0x01, 0x20};   // indices 0, 1, 2
    write_png(path("pal.png"), p);
    const LoadedImage im = image::load_image(path("pal.png"));
    QCOMPARE(im.bits, 8);
    QVERIFY(has_note(im, "palette image: expanded to RGB"));
    QVERIFY(has_note(im, "alpha channel: transparent areas composited on white"));
    QCOMPARE(at_px(im, 0, 0, 0), 1.0f);
    QCOMPARE(at_px(im, 1, 0, 1), unit8(10));
    QCOMPARE(at_px(im, 2, 0, 1), unit8(200));
    QCOMPARE(at_px(im, 0, 0, 2), 1.0f);  // transparent → white
  }

  void interlaced_equals_plain() {
    RawPng p;
    p.w = 13;
    p.h = 11;
    p.bit_depth = 16;
    for (int i = 0; i < 13 * 11 * 3; ++i) put16(p.data, static_cast<std::uint16_t>(i * 977 + 13));
    write_png(path("plain.png"), p);
    p.interlace = true;
    write_png(path("adam7.png"), p);
    const LoadedImage a = image::load_image(path("plain.png"));
    const LoadedImage b = image::load_image(path("adam7.png"));
    QVERIFY(at::equal(a.pixels, b.pixels));
  }

  void jpeg_rgb_grey_progressive_cmyk() {
    const int w = 40, h = 24;
    std::vector<std::uint8_t> rgb, grey;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        rgb.insert(rgb.end(), {static_cast<std::uint8_t>(x * 6), static_cast<std::uint8_t>(y * 10), 128});
        grey.push_back(static_cast<std::uint8_t>(x * 3 + y * 4));
      }
    auto max_err = [&](const LoadedImage& im, const std::vector<std::uint8_t>& ref, int comps) {
      double e = 0;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < 3; ++c)
            e = std::max<double>(e,
                                 std::abs(at_px(im, c, y, x) - unit8(ref[(y * w + x) * comps + (comps == 1 ? 0 : c)])));
      return e;
    };
    write_jpeg(path("rgb.jpg"), w, h, 3, rgb);
    LoadedImage im = image::load_image(path("rgb.jpg"));
    QCOMPARE(im.format, std::string("JPEG"));
    QCOMPARE(im.width, w);
    QVERIFY(im.notes.empty());
    const double e_rgb = max_err(im, rgb, 3);
    qInfo("JPEG q95 RGB gradient: max error %.4f (in [-1, 1] units)", e_rgb);
    QVERIFY(e_rgb < 0.06);  // ~8/255: quantisation and 4:2:0 chroma

    write_jpeg(path("prog.jpg"), w, h, 3, rgb, /*progressive=*/true);
    QVERIFY(max_err(image::load_image(path("prog.jpg")), rgb, 3) < 0.06);

    write_jpeg(path("grey.jpg"), w, h, 1, grey);
    im = image::load_image(path("grey.jpg"));
    QVERIFY(has_note(im, "greyscale image: expanded to RGB"));
    QVERIFY(max_err(im, grey, 1) < 0.03);

    // CMYK as Adobe writes it (inverted: 255 = no ink). Red = magenta + yellow inks.
    std::vector<std::uint8_t> cmyk;
    for (int i = 0; i < w * h; ++i) cmyk.insert(cmyk.end(), {255, 0, 0, 255});
    write_jpeg(path("cmyk.jpg"), w, h, 4, cmyk);
    im = image::load_image(path("cmyk.jpg"));
    QVERIFY(has_note(im, "CMYK JPEG: converted to RGB without colour management (colours may differ)"));
    QVERIFY(at_px(im, 0, 5, 5) > 0.95f);
    QVERIFY(at_px(im, 1, 5, 5) < -0.95f);
    QVERIFY(at_px(im, 2, 5, 5) < -0.95f);

    // A JPEG named .png is read as a JPEG (magic bytes, not the name), and the user is told.
    QVERIFY(QFile::copy(QString::fromStdString(path("rgb.jpg")), QString::fromStdString(path("photo.png"))));
    im = image::load_image(path("photo.png"));
    QCOMPARE(im.format, std::string("JPEG"));
    QVERIFY(has_note(im, "the file is named .png but holds a JPEG: read as JPEG"));
  }

  void missing_unreadable_and_empty_files() {
    std::string m = thrown<IoError>([&] { image::load_image(path("nope.png")); });
    qInfo("missing: %s", m.c_str());
    QVERIFY2(contains(m, path("nope.png")) && contains(m, "No such file or directory"), m.c_str());
    m = thrown<IoError>([&] { image::load_image(tmp_.path().toStdString()); });
    QVERIFY2(contains(m, "is a directory"), m.c_str());
    put_bytes(path("empty.png"), {});
    m = thrown<FormatError>([&] { image::load_image(path("empty.png")); });
    qInfo("empty: %s", m.c_str());
    QVERIFY2(contains(m, "empty.png") && contains(m, "empty (0 bytes)"), m.c_str());
  }

  void truncated_and_corrupt_png() {
    RawPng p;
    p.w = 64;
    p.h = 64;
    std::uint32_t s = 7;  // incompressible, so that IDAT is large and a cut lands inside it
    for (int i = 0; i < 64 * 64 * 3; ++i)
      p.data.push_back(static_cast<std::uint8_t>((s = s * 1664525u + 1013904223u) >> 24));
    write_png(path("full.png"), p);
    const std::vector<std::uint8_t> bytes = file_bytes(path("full.png"));
    put_bytes(path("cut.png"), std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
    std::string m = thrown<FormatError>([&] { image::load_image(path("cut.png")); });
    qInfo("truncated: %s", m.c_str());
    QVERIFY2(contains(m, "cut.png") && contains(m, "truncated"), m.c_str());

    std::vector<std::uint8_t> bad = bytes;
    bad[bytes.size() / 2] ^= 0x5a;  // inside IDAT: the chunk's CRC no longer matches
    put_bytes(path("crc.png"), bad);
    m = thrown<FormatError>([&] { image::load_image(path("crc.png")); });
    qInfo("bad CRC: %s", m.c_str());
    QVERIFY2(contains(m, "crc.png") && contains(m, "CRC error") && contains(m, "corrupt"), m.c_str());

    // Only the 8-byte signature.
    put_bytes(path("sig.png"), std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 8));
    m = thrown<FormatError>([&] { image::load_image(path("sig.png")); });
    QVERIFY2(contains(m, "truncated"), m.c_str());
  }

  void truncated_jpeg() {
    std::vector<std::uint8_t> rgb;
    std::uint32_t s = 3;
    for (int i = 0; i < 64 * 64 * 3; ++i)
      rgb.push_back(static_cast<std::uint8_t>((s = s * 1664525u + 1013904223u) >> 24));
    write_jpeg(path("full.jpg"), 64, 64, 3, rgb);
    const std::vector<std::uint8_t> bytes = file_bytes(path("full.jpg"));
    put_bytes(path("cut.jpg"), std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
    const std::string m = thrown<FormatError>([&] { image::load_image(path("cut.jpg")); });
    qInfo("truncated JPEG: %s", m.c_str());
    QVERIFY2(contains(m, "cut.jpg") && contains(m, "truncated") && contains(m, "Premature end"), m.c_str());

    // Stray bytes before the start-of-scan marker: libjpeg warns and decodes on; the user gets a note.
    std::vector<std::uint8_t> stray = bytes;
    std::size_t sos = 2;
    while (sos + 1 < stray.size() && !(stray[sos] == 0xff && stray[sos + 1] == 0xda)) ++sos;
    stray.insert(stray.begin() + static_cast<std::ptrdiff_t>(sos), {0x12, 0x34});
    put_bytes(path("stray.jpg"), stray);
    const LoadedImage im = image::load_image(path("stray.jpg"));
    QCOMPARE(im.notes.size(), std::size_t(1));
    qInfo("damaged JPEG note: %s", im.notes[0].c_str());
    QVERIFY(contains(im.notes[0], "2 extraneous bytes before marker 0xda"));
  }

  void random_damage_is_an_error_or_an_image() {
    // Every longjmp path of both decoders, many times: a damaged file must give a FormatError or an image, never
    // a crash, a hang or another exception type (a ResourceError where the damage makes
    // a JPEG header claim a huge size).
    std::vector<std::uint8_t> rgb;
    for (int i = 0; i < 32 * 24 * 3; ++i) rgb.push_back(static_cast<std::uint8_t>(i * 7 % 251));
    write_jpeg(path("d.jpg"), 32, 24, 3, rgb, /*progressive=*/true);
    RawPng p = rgb8(32, 24);
    p.interlace = true;
    write_png(path("d.png"), p);
    std::uint32_t s = 99;
    auto next = [&] { return (s = s * 1664525u + 1013904223u) >> 8; };
    int errors = 0, too_large = 0, images = 0;
    for (const char* name : {"d.jpg", "d.png"}) {
      const std::vector<std::uint8_t> good = file_bytes(path(name));
      for (int trial = 0; trial < 300; ++trial) {
        std::vector<std::uint8_t> b = good;
        const int hits = 1 + next() % 4;
        for (int h = 0; h < hits; ++h) b[8 + next() % (b.size() - 8)] = static_cast<std::uint8_t>(next());
        if (trial % 3 == 0) b.resize(8 + next() % (b.size() - 8));
        put_bytes(path("damaged"), b);
        try {
          image::load_image(path("damaged"));
          ++images;
        } catch (const FormatError&) {
          ++errors;
        } catch (const ResourceError&) {  // a damaged SOF that now claims a huge size (JPEG has no CRC)
          ++too_large;
        } catch (const std::exception& e) {
          QFAIL(e.what());
        }
      }
    }
    qInfo("600 damaged files: %d FormatErrors, %d ResourceErrors, %d decoded anyway", errors, too_large, images);
  }

  void other_formats_are_named() {
    put_bytes(path("anim.png"), {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0});
    std::string m = thrown<FormatError>([&] { image::load_image(path("anim.png")); });
    qInfo("GIF: %s", m.c_str());
    QVERIFY2(contains(m, "anim.png") && contains(m, "GIF") && contains(m, "convert it to PNG or JPEG"), m.c_str());
    put_bytes(path("w.png"), {'R', 'I', 'F', 'F', 0x10, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' '});
    m = thrown<FormatError>([&] { image::load_image(path("w.png")); });
    QVERIFY2(contains(m, "WebP") && contains(m, "convert it to PNG or JPEG"), m.c_str());
    put_bytes(path("t.tif"), {'I', 'I', '*', 0, 8, 0, 0, 0});
    QVERIFY(contains(thrown<FormatError>([&] { image::load_image(path("t.tif")); }), "TIFF"));
    put_bytes(path("b.bmp"), std::vector<std::uint8_t>{'B', 'M', 0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28});
    QVERIFY(contains(thrown<FormatError>([&] { image::load_image(path("b.bmp")); }), "BMP"));
    put_bytes(path("text.png"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    m = thrown<FormatError>([&] { image::load_image(path("text.png")); });
    qInfo("unknown: %s", m.c_str());
    QVERIFY2(contains(m, "neither a PNG nor a JPEG") && contains(m, "68 65 6c 6c 6f 20 77 6f"), m.c_str());
  }

  void oversized_image_is_refused_from_the_header() {
    write_png(path("big.png"), rgb8(100, 80));
    std::string m = thrown<ResourceError>([&] { image::load_image(path("big.png"), 4000); });
    qInfo("too large: %s", m.c_str());
    QVERIFY2(contains(m, "100x80 px (0.0 MP)") && contains(m, "4000 px") && contains(m, "scale it down"), m.c_str());
    QCOMPARE(image::load_image(path("big.png"), 8000).width, 100);  // exactly at the limit: accepted

    // A header claiming 100000x100000 px followed by nothing: refused as too large, so the header was checked
    // before any pixel data was looked for.
    std::vector<std::uint8_t> b = file_bytes(path("big.png"));
    b.resize(33);  // signature (8) + IHDR chunk (25)
    const std::uint8_t dims[8] = {0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0};
    std::memcpy(b.data() + 16, dims, 8);
    const std::uint32_t crc = static_cast<std::uint32_t>(crc32(crc32(0, nullptr, 0), b.data() + 12, 17));
    for (int i = 0; i < 4; ++i) b[29 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
    put_bytes(path("huge.png"), b);
    m = thrown<ResourceError>([&] { image::load_image(path("huge.png")); });
    qInfo("huge header: %s", m.c_str());
    QVERIFY2(contains(m, "100000x100000 px (10000.0 MP)") && contains(m, "67108864 px (67.1 MP, 8192x8192)"),
             m.c_str());
  }

  void sixteen_megapixel_load_time() {
    RgbImage big;
    big.width = big.height = 4096;
    big.rgb8.resize(std::size_t(4096) * 4096 * 3);
    // Photo-like: smooth gradients plus 4 bits of noise, so that zlib has real work (a flat test image would
    // compress to nothing and time nothing).
    std::uint32_t r = 1;
    for (int y = 0; y < 4096; ++y)
      for (int x = 0; x < 4096; ++x)
        for (int c = 0; c < 3; ++c) {
          r = r * 1664525u + 1013904223u;
          big.rgb8[(std::size_t(y) * 4096 + x) * 3 + c] =
              static_cast<std::uint8_t>(((x + 2 * y + 700 * c) / 48 & 0xf0) + (r >> 28));
        }
    const std::string p = path("16mp.png");
    auto t0 = std::chrono::steady_clock::now();
    image::write_png(p, big, 8);
    qInfo("16 MP PNG written in %.2f s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    t0 = std::chrono::steady_clock::now();
    const LoadedImage im = image::load_image(p);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    qInfo("16 MP 8-bit RGB PNG (%.1f MB file): loaded in %.2f s", file_bytes(p).size() / 1e6, s);
    QCOMPARE(im.width, 4096);
    QCOMPARE(at_px(im, 2, 4095, 4095), unit8(big.rgb8.back()));
  }
};

QTEST_APPLESS_MAIN(TestImageFile)
#include "test_image_file.moc"
