#include "core/image/png_metadata.h"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/common/error.h"

namespace dype::image {

bool utf8_to_latin1(const std::string& utf8, std::string* latin1) {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < utf8.size() && (static_cast<unsigned char>(utf8[i + 1]) & 0xC0) == 0x80) {
      const unsigned cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu);
      if (cp < 0x80 || cp > 0xFF) return false;  // overlong, or outside Latin-1
      out.push_back(static_cast<char>(cp));
      i += 2;
    } else {
      return false;
    }
  }
  if (latin1) *latin1 = std::move(out);
  return true;
}

std::string latin1_to_utf8(const std::string& latin1) {
  std::string out;
  out.reserve(latin1.size());
  for (char ch : latin1) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

namespace {

struct ReadJob {
  FILE* fp = nullptr;
  bool decode = false;
  // outputs
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0;
  std::vector<std::pair<std::string, std::string>>* text = nullptr;
  RgbImage* image = nullptr;
  char message[256] = {0};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* job = static_cast<ReadJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

// Collects the text chunks (UTF-8) of `info`. Allocates, so it runs outside the setjmp frame's critical part:
// a std::bad_alloc here would unwind normally (libpng is not on the stack).
void collect_text(png_structp png, png_infop info, std::vector<std::pair<std::string, std::string>>* out) {
  png_textp texts = nullptr;
  int n = 0;
  png_get_text(png, info, &texts, &n);
  for (int i = 0; i < n; ++i) {
    const std::string key = latin1_to_utf8(texts[i].key ? texts[i].key : "");
    const bool itxt =
        texts[i].compression == PNG_ITXT_COMPRESSION_NONE || texts[i].compression == PNG_ITXT_COMPRESSION_zTXt;
    std::string value;
    if (texts[i].text) {
      const std::size_t len = itxt ? texts[i].itxt_length : texts[i].text_length;
      value.assign(texts[i].text, len ? len : std::strlen(texts[i].text));
    }
    out->emplace_back(key, itxt ? value : latin1_to_utf8(value));
  }
}

bool run_read(ReadJob* job) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_init_io(png, job->fp);
  png_read_info(png, info);
  int color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &job->width, &job->height, &job->bit_depth, &color_type, &interlace, nullptr, nullptr);
  collect_text(png, info, job->text);
  if (job->decode) {
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
      if (job->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
      png_set_gray_to_rgb(png);
    }
    if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (job->bit_depth < 8) png_set_packing(png);
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int out_depth = png_get_bit_depth(png, info);
    RgbImage& im = *job->image;
    im.width = static_cast<int>(job->width);
    im.height = static_cast<int>(job->height);
    const std::size_t row_values = static_cast<std::size_t>(job->width) * 3;
    if (out_depth == 16) {
      // Interlaced images need every pass over the whole image: read into rgb16 as big-endian bytes in place.
      for (int p = 0; p < passes; ++p)
        for (png_uint_32 y = 0; y < job->height; ++y)
          png_read_row(png, reinterpret_cast<png_bytep>(im.rgb16.data() + y * row_values), nullptr);
    } else {
      for (int p = 0; p < passes; ++p)
        for (png_uint_32 y = 0; y < job->height; ++y) png_read_row(png, im.rgb8.data() + y * row_values, nullptr);
    }
    png_read_end(png, info);
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// Reads the header first (to size the buffers), then decodes when asked.
RgbImage read_impl(const std::string& path, bool decode, PngInfo* info_out) {
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  unsigned char sig[8] = {0};
  if (std::fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
    std::fclose(fp);
    throw FormatError("'" + path + "' is not a PNG file");
  }
  std::vector<std::pair<std::string, std::string>> text;
  ReadJob head;
  std::rewind(fp);
  head.fp = fp;
  head.text = &text;
  const bool ok = run_read(&head);
  if (!ok) {
    std::fclose(fp);
    throw FormatError("cannot read PNG '" + path + "': " + head.message);
  }
  RgbImage image;
  if (decode) {
    const std::uint64_t values = static_cast<std::uint64_t>(head.width) * head.height * 3;
    if (head.width == 0 || head.height == 0 || values > (1ull << 32)) {
      std::fclose(fp);
      throw FormatError("PNG '" + path + "' has an unsupported size " + std::to_string(head.width) + "x" +
                        std::to_string(head.height));
    }
    if (head.bit_depth == 16)
      image.rgb16.resize(values);
    else
      image.rgb8.resize(values);
    std::rewind(fp);
    text.clear();
    ReadJob job;
    job.fp = fp;
    job.decode = true;
    job.text = &text;
    job.image = &image;
    if (!run_read(&job)) {
      std::fclose(fp);
      throw FormatError("cannot decode PNG '" + path + "': " + job.message);
    }
    if (head.bit_depth == 16) {
      // Samples arrived big-endian; make them native and derive the 8-bit view.
      image.rgb8.resize(values);
      for (std::size_t i = 0; i < values; ++i) {
        const auto* b = reinterpret_cast<const std::uint8_t*>(&image.rgb16[i]);
        const std::uint16_t v = static_cast<std::uint16_t>((b[0] << 8) | b[1]);
        image.rgb16[i] = v;
        image.rgb8[i] = static_cast<std::uint8_t>((v * 255u + 32767u) / 65535u);
      }
    }
  }
  std::fclose(fp);
  if (info_out) {
    info_out->width = static_cast<int>(head.width);
    info_out->height = static_cast<int>(head.height);
    info_out->bit_depth = head.bit_depth;
    info_out->text.clear();
    for (auto& kv : text) info_out->text[kv.first] = kv.second;
  }
  return image;
}

}  // namespace

PngInfo read_png_info(const std::string& path) {
  PngInfo info;
  read_impl(path, false, &info);
  return info;
}

RgbImage read_png(const std::string& path, PngInfo* info) { return read_impl(path, true, info); }

}  // namespace dype::image
