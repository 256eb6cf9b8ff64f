#include "core/image/image_file.h"

#include <png.h>
#include <sys/stat.h>
#include <zlib.h>  // crc32 of the IHDR chunk (zlib comes with libpng)

#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>

// jpeglib.h uses FILE and size_t without including their headers: keep it after the standard headers.
#include <jpeglib.h>
// jerror.h: the message codes (JWRN_JPEG_EOF).
#include <jerror.h>

#include "core/common/error.h"
#include "core/common/strings.h"

namespace dype::image {

namespace {

// libpng and libjpeg report errors by longjmp. The decoding functions below (png_begin, png_decode, jpeg_begin,
// jpeg_decode) call setjmp themselves and hold nothing with a destructor, so a longjmp only ever crosses C frames
// and these plain ones; buffers and the tensor belong to load_image's C++ frame and are reached through a job
// struct of plain pointers. Each decoder is split in two so that the size check runs between header and pixels.

// ---- file bytes and format sniffing ----

std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw IoError("cannot open image '" + path + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw IoError("cannot open image '" + path + "': it is a directory");
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) throw IoError("cannot open image '" + path + "': " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  // Sized from stat for regular files; a FIFO or device reports 0 and is read until end of file.
  bytes.reserve(S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) : 0);
  std::array<std::uint8_t, 1 << 16> chunk;
  for (;;) {
    const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), fp);
    bytes.insert(bytes.end(), chunk.data(), chunk.data() + n);
    if (n < chunk.size()) break;
  }
  const bool failed = std::ferror(fp) != 0;
  const int saved = errno;
  std::fclose(fp);
  if (failed) throw IoError("cannot read image '" + path + "': " + std::strerror(saved));
  return bytes;
}

bool starts_with(const std::vector<std::uint8_t>& b, std::size_t at, const char* s, std::size_t n) {
  return b.size() >= at + n && std::memcmp(b.data() + at, s, n) == 0;
}

bool is_png(const std::vector<std::uint8_t>& b) { return starts_with(b, 0, "\x89PNG\r\n\x1a\n", 8); }
bool is_jpeg(const std::vector<std::uint8_t>& b) { return starts_with(b, 0, "\xff\xd8\xff", 3); }

// What the first bytes say a non-PNG, non-JPEG file is ("" when we do not recognise them).
std::string sniff_other_format(const std::vector<std::uint8_t>& b) {
  if (starts_with(b, 0, "GIF87a", 6) || starts_with(b, 0, "GIF89a", 6)) return "a GIF image";
  if (starts_with(b, 0, "RIFF", 4) && starts_with(b, 8, "WEBP", 4)) return "a WebP image";
  if (starts_with(b, 0, "II*\0", 4) || starts_with(b, 0, "MM\0*", 4)) return "a TIFF image";
  if (starts_with(b, 0, "BM", 2) && b.size() >= 14) return "a BMP image";
  if (starts_with(b, 4, "ftypavi", 7)) return "an AVIF image";
  if (starts_with(b, 4, "ftyphei", 7) || starts_with(b, 4, "ftypmif1", 8) || starts_with(b, 4, "ftyphev", 7))
    return "a HEIF/HEIC image";
  if (starts_with(b, 0, "\xff\x0a", 2) || starts_with(b, 4, "JXL ", 4)) return "a JPEG XL image";
  if (starts_with(b, 4, "jP  ", 4) || starts_with(b, 0, "\xff\x4f\xff\x51", 4)) return "a JPEG 2000 image";
  if (starts_with(b, 0, "8BPS", 4)) return "a Photoshop (PSD) file";
  if (starts_with(b, 0, "qoif", 4)) return "a QOI image";
  if (starts_with(b, 0, "%PDF", 4)) return "a PDF document";
  if (starts_with(b, 0, "<svg", 4) || starts_with(b, 0, "<?xml", 5)) return "an SVG/XML text file";
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && std::isspace(b[2]))
    return "a Netpbm (PPM/PGM) image";
  if (starts_with(b, 0, "\x89PNG", 4)) return "a PNG with a damaged signature (transferred as text?)";
  return "";
}

std::string first_bytes_hex(const std::vector<std::uint8_t>& b) {
  std::ostringstream os;
  const std::size_t n = std::min<std::size_t>(b.size(), 8);
  char buf[4];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", b[i]);
    os << (i ? " " : "") << buf;
  }
  return os.str();
}

std::string lower_extension(const std::string& path) {
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return to_lower(path.substr(dot + 1));
}

// ---- samples → [-1, 1] planes ----

// Exactly rounded x/max·2−1 for every 8-bit and 16-bit sample value (tables built once, 1 KB and 256 KB).
const float* sample_table(int bits) {
  static const std::vector<float> t8 = [] {
    std::vector<float> t(256);
    for (int v = 0; v < 256; ++v) t[v] = static_cast<float>(v / 255.0 * 2.0 - 1.0);
    return t;
  }();
  static const std::vector<float> t16 = [] {
    std::vector<float> t(65536);
    for (int v = 0; v < 65536; ++v) t[v] = static_cast<float>(v / 65535.0 * 2.0 - 1.0);
    return t;
  }();
  return bits == 16 ? t16.data() : t8.data();
}

// Where one image row goes in the [1, 3, H, W] tensor.
struct RowOut {
  float* r;
  float* g;
  float* b;
};

// On white: c' = c·a + (1 − a), in [0, 1] before the ·2−1, so a half-transparent black pixel becomes mid grey.
inline float over_white(float c_unit, float a_unit) { return (c_unit * a_unit + (1.0f - a_unit)) * 2.0f - 1.0f; }

// One row of `ch` interleaved samples per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) → three planes.
// Sets *transparent when some pixel is not fully opaque.
template <typename T>
void convert_row_t(const T* src, int w, int ch, RowOut o, bool* transparent) {
  constexpr T kMax = static_cast<T>(~T(0));
  const float* lut = sample_table(sizeof(T) * 8);
  const float inv = 1.0f / static_cast<float>(kMax);
  switch (ch) {
    case 1:
      for (int x = 0; x < w; ++x) o.r[x] = o.g[x] = o.b[x] = lut[src[x]];
      break;
    case 2:
      for (int x = 0; x < w; ++x) {
        const T v = src[2 * x], a = src[2 * x + 1];
        if (a == kMax) {
          o.r[x] = o.g[x] = o.b[x] = lut[v];
        } else {
          *transparent = true;
          o.r[x] = o.g[x] = o.b[x] = over_white(v * inv, a * inv);
        }
      }
      break;
    case 3:
      for (int x = 0; x < w; ++x) {
        o.r[x] = lut[src[3 * x]];
        o.g[x] = lut[src[3 * x + 1]];
        o.b[x] = lut[src[3 * x + 2]];
      }
      break;
    default:  // 4
      for (int x = 0; x < w; ++x) {
        const T* p = src + 4 * x;
        if (p[3] == kMax) {
          o.r[x] = lut[p[0]];
          o.g[x] = lut[p[1]];
          o.b[x] = lut[p[2]];
        } else {
          *transparent = true;
          const float a = p[3] * inv;
          o.r[x] = over_white(p[0] * inv, a);
          o.g[x] = over_white(p[1] * inv, a);
          o.b[x] = over_white(p[2] * inv, a);
        }
      }
      break;
  }
}

RowOut row_out(float* planes, std::int64_t w, std::int64_t h, std::int64_t y) {
  const std::int64_t plane = w * h;
  return {planes + y * w, planes + plane + y * w, planes + 2 * plane + y * w};
}

// ---- PNG ----

struct PngJob {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0, pos = 0;
  png_structp png = nullptr;
  png_infop info = nullptr;
  // header (png_begin)
  png_uint_32 width = 0, height = 0;
  int file_bits = 0, color_type = 0, channels = 0, out_bits = 0;
  bool interlaced = false, has_trns = false, has_iccp = false, has_srgb = false;
  std::size_t rowbytes = 0;
  // pixels (png_decode)
  std::uint8_t* buffer = nullptr;  // one row, or the whole image when interlaced
  png_bytep* rows = nullptr;       // interlaced only
  float* planes = nullptr;
  bool transparent = false;
  bool truncated = false;
  char message[256] = {0};
};

void png_on_error(png_structp png, png_const_charp msg) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // ancillary-chunk trouble does not change the pixels

void png_read_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (n > job->size - job->pos) {
    job->truncated = true;
    png_error(png, "the data ends early");
  }
  std::memcpy(out, job->data + job->pos, n);
  job->pos += n;
}

bool png_begin(PngJob* job) {
  job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_on_error, png_on_warning);
  if (job->png) job->info = png_create_info_struct(job->png);
  if (!job->png || !job->info) {
    std::snprintf(job->message, sizeof(job->message), "out of memory creating the PNG reader");
    return false;
  }
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_structp png = job->png;
  png_infop info = job->info;
  png_set_read_fn(png, job, png_read_memory);
  // libpng's own cap is 1,000,000 px per side; ours (max_pixels, on the area) is checked after the header.
  png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
  png_read_info(png, info);
  job->width = png_get_image_width(png, info);
  job->height = png_get_image_height(png, info);
  job->file_bits = png_get_bit_depth(png, info);
  job->color_type = png_get_color_type(png, info);
  job->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
  job->has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  job->has_iccp = png_get_valid(png, info, PNG_INFO_iCCP) != 0;
  job->has_srgb = png_get_valid(png, info, PNG_INFO_sRGB) != 0;
  // Expansions only; no gamma or colour transform, so samples reach us as stored in the file.
  if (job->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (job->color_type == PNG_COLOR_TYPE_GRAY && job->file_bits < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (job->has_trns) png_set_tRNS_to_alpha(png);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (job->file_bits == 16) png_set_swap(png);  // PNG stores 16-bit samples big-endian; we read uint16_t
#endif
  if (job->interlaced) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  job->channels = png_get_channels(png, info);
  job->out_bits = png_get_bit_depth(png, info);
  job->rowbytes = png_get_rowbytes(png, info);
  return true;
}

void png_convert_row(PngJob* job, const std::uint8_t* row, png_uint_32 y) {
  const RowOut o = row_out(job->planes, job->width, job->height, y);
  if (job->out_bits == 16)
    convert_row_t(reinterpret_cast<const std::uint16_t*>(row), static_cast<int>(job->width), job->channels, o,
                  &job->transparent);
  else
    convert_row_t(row, static_cast<int>(job->width), job->channels, o, &job->transparent);
}

bool png_decode(PngJob* job) {
  if (setjmp(png_jmpbuf(job->png))) return false;
  if (job->interlaced) {
    png_read_image(job->png, job->rows);
    for (png_uint_32 y = 0; y < job->height; ++y) png_convert_row(job, job->rows[y], y);
  } else {
    for (png_uint_32 y = 0; y < job->height; ++y) {
      png_read_row(job->png, job->buffer, nullptr);
      png_convert_row(job, job->buffer, y);
    }
  }
  // Not png_read_end: chunks after the image data (and a missing IEND) cannot change the pixels we have.
  return true;
}

struct PngCleanup {
  PngJob* job;
  ~PngCleanup() {
    if (job->png) png_destroy_read_struct(&job->png, job->info ? &job->info : nullptr, nullptr);
  }
};

[[noreturn]] void throw_png_error(const std::string& path, const PngJob& job) {
  if (job.truncated)
    throw FormatError("PNG '" + path + "' is truncated: its data ends after " + std::to_string(job.size) +
                      " bytes, in the middle of the image (the file was cut short; re-export or re-download it)");
  throw FormatError("PNG '" + path + "' is corrupt (libpng: " + job.message + "); re-export or re-download it");
}

// ---- JPEG ----

struct JpegJob {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  std::jmp_buf jump;
  bool created = false;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  bool cmyk = false, adobe_inverted = false, has_icc = false;
  std::uint8_t* row = nullptr;  // width · 4 bytes
  float* planes = nullptr;
  bool truncated = false;
  char message[JMSG_LENGTH_MAX + 8] = {0};
  char warning[JMSG_LENGTH_MAX + 8] = {0};  // the first other warning, shown as a note
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* job = static_cast<JpegJob*>(cinfo->client_data);
  (*cinfo->err->format_message)(cinfo, job->message);
  std::longjmp(job->jump, 1);
}

// Warnings: libjpeg fills a truncated file with grey and only warns; a half-grey init image is worse than an error.
// Other warnings (damaged entropy data, stray bytes before a marker) decode on; the first one becomes a note.
// Trace messages (level > 0) are ignored.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level != -1) return;
  auto* job = static_cast<JpegJob*>(cinfo->client_data);
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    job->truncated = true;
    (*cinfo->err->format_message)(cinfo, job->message);
    std::longjmp(job->jump, 1);
  }
  if (job->warning[0] == 0) (*cinfo->err->format_message)(cinfo, job->warning);
}

bool jpeg_begin(JpegJob* job) {
  job->cinfo.err = jpeg_std_error(&job->err);
  job->err.error_exit = jpeg_on_error;
  job->err.emit_message = jpeg_on_message;
  job->cinfo.client_data = job;
  if (setjmp(job->jump)) return false;
  jpeg_create_decompress(&job->cinfo);
  job->created = true;
  jpeg_mem_src(&job->cinfo, job->data, static_cast<unsigned long>(job->size));
  jpeg_save_markers(&job->cinfo, JPEG_APP0 + 2, 0xffff);  // APP2 holds an ICC profile
  jpeg_read_header(&job->cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = job->cinfo.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 2 && m->data_length >= 12 && std::memcmp(m->data, "ICC_PROFILE", 12) == 0)
      job->has_icc = true;
  const J_COLOR_SPACE cs = job->cinfo.jpeg_color_space;
  if (cs == JCS_CMYK || cs == JCS_YCCK) {
    job->cmyk = true;
    job->cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK; we turn CMYK into RGB
    job->adobe_inverted = job->cinfo.saw_Adobe_marker != 0;
  } else if (cs == JCS_GRAYSCALE) {
    job->cinfo.out_color_space = JCS_GRAYSCALE;
  } else {
    job->cinfo.out_color_space = JCS_RGB;
  }
  return true;
}

// CMYK → RGB without a profile: R = (1 − C)(1 − K). Adobe's files (the common kind) store the inks inverted, so
// there the bytes already are 1 − C and 1 − K.
void cmyk_row(const std::uint8_t* src, int w, bool inverted, RowOut o) {
  constexpr float k = 1.0f / (255.0f * 255.0f);
  for (int x = 0; x < w; ++x) {
    const std::uint8_t* p = src + 4 * x;
    // n* = 255 − ink: how much of each colour is left.
    const int nc = inverted ? p[0] : 255 - p[0], nm = inverted ? p[1] : 255 - p[1];
    const int ny = inverted ? p[2] : 255 - p[2], nk = inverted ? p[3] : 255 - p[3];
    o.r[x] = static_cast<float>(nc * nk) * k * 2.0f - 1.0f;
    o.g[x] = static_cast<float>(nm * nk) * k * 2.0f - 1.0f;
    o.b[x] = static_cast<float>(ny * nk) * k * 2.0f - 1.0f;
  }
}

bool jpeg_decode(JpegJob* job) {
  if (setjmp(job->jump)) return false;
  jpeg_decompress_struct& ci = job->cinfo;
  jpeg_start_decompress(&ci);
  const int w = static_cast<int>(ci.output_width);
  bool unused = false;
  while (ci.output_scanline < ci.output_height) {
    const JDIMENSION y = ci.output_scanline;
    JSAMPROW row = job->row;
    jpeg_read_scanlines(&ci, &row, 1);
    const RowOut o = row_out(job->planes, w, ci.output_height, y);
    if (job->cmyk)
      cmyk_row(job->row, w, job->adobe_inverted, o);
    else
      convert_row_t(job->row, w, ci.output_components, o, &unused);
  }
  // Not jpeg_finish_decompress: a missing EOI after complete image data is harmless.
  return true;
}

struct JpegCleanup {
  JpegJob* job;
  ~JpegCleanup() {
    if (job->created) jpeg_destroy_decompress(&job->cinfo);
  }
};

[[noreturn]] void throw_jpeg_error(const std::string& path, const JpegJob& job) {
  if (job.truncated)
    throw FormatError("JPEG '" + path + "' is truncated (libjpeg: " + job.message + ", after " +
                      std::to_string(job.size) + " bytes): the file was cut short; re-export or re-download it");
  throw FormatError("JPEG '" + path + "' cannot be decoded (libjpeg: " + job.message +
                    "); re-export it as a baseline 8-bit JPEG or as PNG");
}

// ---- shared ----

std::string megapixels(std::uint64_t px) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MP", static_cast<double>(px) / 1e6);
  return buf;
}

void check_size(const std::string& path, std::uint64_t w, std::uint64_t h, std::uint64_t max_pixels) {
  const std::uint64_t px = w * h;
  if (px <= max_pixels) return;
  // A square limit (the default, 8192²) reads better as a side length.
  const auto side = static_cast<std::uint64_t>(std::llround(std::sqrt(static_cast<double>(max_pixels))));
  const std::string square = side * side == max_pixels ? ", " + std::to_string(side) + "x" + std::to_string(side) : "";
  throw ResourceError("image '" + path + "' is " + std::to_string(w) + "x" + std::to_string(h) + " px (" +
                      megapixels(px) + "), above the limit of " + std::to_string(max_pixels) + " px (" +
                      megapixels(max_pixels) + square + "); scale it down before loading it");
}

at::Tensor allocate_pixels(const std::string& path, std::int64_t w, std::int64_t h) {
  try {
    return at::empty({1, 3, h, w}, at::TensorOptions().dtype(at::kFloat));  // [1, 3, H, W]
  } catch (const std::exception&) {
    throw ResourceError("not enough memory to load image '" + path + "' (" + std::to_string(w) + "x" +
                        std::to_string(h) + " px needs " + std::to_string(w * h * 12 / (1 << 20)) + " MiB)");
  }
}

LoadedImage load_png(const std::string& path, const std::vector<std::uint8_t>& bytes, std::uint64_t max_pixels) {
  PngJob job;
  job.data = bytes.data();
  job.size = bytes.size();
  PngCleanup cleanup{&job};
  // IHDR is always the first chunk (signature, length 13, "IHDR", width, height, …, CRC; big-endian): its size is
  // checked before libpng reads on, since png_read_info goes through every chunk up to the first IDAT. Only when
  // its CRC holds: a damaged header is reported as corrupt (by libpng, below), not as too large.
  auto be32 = [&](std::size_t at) {
    return std::uint32_t(bytes[at]) << 24 | std::uint32_t(bytes[at + 1]) << 16 | std::uint32_t(bytes[at + 2]) << 8 |
           std::uint32_t(bytes[at + 3]);
  };
  if (bytes.size() >= 33 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0 &&
      crc32(crc32(0, nullptr, 0), bytes.data() + 12, 17) == be32(29))
    check_size(path, be32(16), be32(20), max_pixels);
  if (!png_begin(&job)) throw_png_error(path, job);
  check_size(path, job.width, job.height, max_pixels);

  LoadedImage out;
  out.format = "PNG";
  out.width = static_cast<int>(job.width);
  out.height = static_cast<int>(job.height);
  out.bits = job.out_bits;
  out.pixels = allocate_pixels(path, out.width, out.height);  // [1, 3, H, W]
  job.planes = out.pixels.data_ptr<float>();
  std::vector<std::uint8_t> buffer;
  std::vector<png_bytep> rows;
  try {
    buffer.resize(job.interlaced ? job.rowbytes * job.height : job.rowbytes);
    if (job.interlaced) {
      rows.resize(job.height);
      for (png_uint_32 y = 0; y < job.height; ++y) rows[y] = buffer.data() + y * job.rowbytes;
      job.rows = rows.data();
    }
  } catch (const std::bad_alloc&) {
    throw ResourceError("not enough memory to de-interlace PNG '" + path + "' (" + std::to_string(buffer.size()) +
                        " bytes)");
  }
  job.buffer = buffer.data();
  if (!png_decode(&job)) throw_png_error(path, job);

  if (job.out_bits == 16) out.notes.push_back("16-bit image: read at full precision");
  if (job.color_type == PNG_COLOR_TYPE_PALETTE) out.notes.push_back("palette image: expanded to RGB");
  if (job.channels <= 2) out.notes.push_back("greyscale image: expanded to RGB");
  if (job.channels == 2 || job.channels == 4)
    out.notes.push_back(job.transparent ? "alpha channel: transparent areas composited on white"
                                        : "alpha channel: fully opaque, dropped");
  if (job.has_iccp && !job.has_srgb) out.notes.push_back("embedded colour profile not applied: values used as sRGB");
  return out;
}

LoadedImage load_jpeg(const std::string& path, const std::vector<std::uint8_t>& bytes, std::uint64_t max_pixels) {
  auto job = std::make_unique<JpegJob>();  // libjpeg structs are large; keep them off the stack
  job->data = bytes.data();
  job->size = bytes.size();
  JpegCleanup cleanup{job.get()};
  if (!jpeg_begin(job.get())) throw_jpeg_error(path, *job);
  check_size(path, job->cinfo.image_width, job->cinfo.image_height, max_pixels);

  LoadedImage out;
  out.format = "JPEG";
  out.width = static_cast<int>(job->cinfo.image_width);
  out.height = static_cast<int>(job->cinfo.image_height);
  out.bits = 8;
  out.pixels = allocate_pixels(path, out.width, out.height);  // [1, 3, H, W]
  job->planes = out.pixels.data_ptr<float>();
  std::vector<std::uint8_t> row(static_cast<std::size_t>(out.width) * 4);
  job->row = row.data();
  if (!jpeg_decode(job.get())) throw_jpeg_error(path, *job);

  if (job->cinfo.out_color_space == JCS_GRAYSCALE) out.notes.push_back("greyscale image: expanded to RGB");
  if (job->cmyk) out.notes.push_back("CMYK JPEG: converted to RGB without colour management (colours may differ)");
  if (job->has_icc) out.notes.push_back("embedded colour profile not applied: values used as sRGB");
  if (job->warning[0])
    out.notes.push_back(std::string("damaged JPEG data, decoded anyway (libjpeg: ") + job->warning +
                        "): parts of the image may look wrong");
  return out;
}

}  // namespace

LoadedImage load_image(const std::string& path, std::uint64_t max_pixels) {
  if (path.empty()) throw InvalidArgument("load image: no path given");
  const std::vector<std::uint8_t> bytes = read_whole_file(path);
  if (bytes.empty()) throw FormatError("image '" + path + "' is empty (0 bytes): the file was not written completely");
  const std::string ext = lower_extension(path);
  LoadedImage out;
  if (is_png(bytes)) {
    out = load_png(path, bytes, max_pixels);
    if (ext == "jpg" || ext == "jpeg")
      out.notes.push_back("the file is named ." + ext + " but holds a PNG: read as PNG");
  } else if (is_jpeg(bytes)) {
    out = load_jpeg(path, bytes, max_pixels);
    if (ext == "png") out.notes.push_back("the file is named .png but holds a JPEG: read as JPEG");
  } else {
    const std::string what = sniff_other_format(bytes);
    if (!what.empty())
      throw FormatError("image '" + path + "' is " + what + ", which cannot be read here: convert it to PNG or JPEG");
    throw FormatError("image '" + path + "' is neither a PNG nor a JPEG (it starts with the bytes " +
                      first_bytes_hex(bytes) + "): convert it to PNG or JPEG");
  }
  return out;
}

}  // namespace dype::image
