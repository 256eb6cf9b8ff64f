#include "core/image/png_export.h"

#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "core/common/error.h"
#include "core/image/png_metadata.h"

namespace dype::image {

namespace {

// Everything the libpng callbacks need; plain data only, because libpng reports errors with longjmp.
struct WriteJob {
  FILE* fp = nullptr;
  const RgbImage* image = nullptr;
  int bit_depth = 8;
  png_text* texts = nullptr;
  int n_texts = 0;
  std::uint8_t* row16 = nullptr;  // one big-endian 16-bit row
  int saved_errno = 0;
  char message[256] = {0};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* job = static_cast<WriteJob*>(png_get_error_ptr(png));
  job->saved_errno = errno;
  std::snprintf(job->message, sizeof(job->message), "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

// Returns false on a libpng error (job->message says which). No C++ object with a destructor lives in this frame
// across setjmp/longjmp.
bool run_write(WriteJob* job) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
  if (!png) {
    std::snprintf(job->message, sizeof(job->message), "out of memory creating the PNG writer");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(job->message, sizeof(job->message), "out of memory creating the PNG writer");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  const RgbImage& im = *job->image;
  png_init_io(png, job->fp);
  // Level 6 with libpng's adaptive filters: a good size/time trade-off for photographic content.
  png_set_compression_level(png, 6);
  png_set_IHDR(png, info, static_cast<png_uint_32>(im.width), static_cast<png_uint_32>(im.height), job->bit_depth,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (job->n_texts > 0) png_set_text(png, info, job->texts, job->n_texts);
  png_write_info(png, info);
  const std::size_t row_values = static_cast<std::size_t>(im.width) * 3;
  for (int y = 0; y < im.height; ++y) {
    if (job->bit_depth == 8) {
      png_write_row(png, im.rgb8.data() + static_cast<std::size_t>(y) * row_values);
    } else {
      const std::uint16_t* src = im.rgb16.data() + static_cast<std::size_t>(y) * row_values;
      for (std::size_t i = 0; i < row_values; ++i) {  // PNG stores 16-bit samples big-endian
        job->row16[2 * i] = static_cast<std::uint8_t>(src[i] >> 8);
        job->row16[2 * i + 1] = static_cast<std::uint8_t>(src[i] & 0xff);
      }
      png_write_row(png, job->row16);
    }
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

void write_png(const std::string& path, const RgbImage& image, int bit_depth, const std::vector<PngText>& text) {
  if (path.empty()) throw InvalidArgument("PNG export: no output path given");
  if (bit_depth != 8 && bit_depth != 16)
    throw InvalidArgument("PNG export: bit depth must be 8 or 16, got " + std::to_string(bit_depth));
  if (image.empty()) throw InvalidArgument("PNG export to '" + path + "': the image is empty");
  const std::size_t values = static_cast<std::size_t>(image.width) * image.height * 3;
  if (bit_depth == 8 && image.rgb8.size() != values)
    throw InvalidArgument("PNG export to '" + path + "': the 8-bit buffer holds " + std::to_string(image.rgb8.size()) +
                          " values, expected " + std::to_string(values));
  if (bit_depth == 16 && image.rgb16.size() != values)
    throw InvalidArgument("PNG export to '" + path + "': no 16-bit image data (" + std::to_string(image.rgb16.size()) +
                          " of " + std::to_string(values) + " values); ask the pipeline for 16 bits");

  // Text chunks: tEXt when Latin-1 can hold the value, iTXt (UTF-8) otherwise.
  std::vector<std::string> keys, values_enc;
  std::vector<int> compression;
  for (const auto& t : text) {
    std::string key;
    if (t.key.empty() || !utf8_to_latin1(t.key, &key) || key.size() > 79)
      throw InvalidArgument("PNG export: invalid text key '" + t.key + "' (1-79 Latin-1 characters)");
    std::string latin1;
    if (utf8_to_latin1(t.value, &latin1)) {
      values_enc.push_back(latin1);
      compression.push_back(PNG_TEXT_COMPRESSION_NONE);
    } else {
      values_enc.push_back(t.value);
      compression.push_back(PNG_ITXT_COMPRESSION_NONE);
    }
    keys.push_back(key);
  }
  static char empty_str[] = "";
  std::vector<png_text> texts(text.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::memset(&texts[i], 0, sizeof(png_text));
    texts[i].compression = compression[i];
    texts[i].key = const_cast<char*>(keys[i].c_str());
    texts[i].text = const_cast<char*>(values_enc[i].c_str());
    texts[i].text_length = compression[i] == PNG_TEXT_COMPRESSION_NONE ? values_enc[i].size() : 0;
    texts[i].itxt_length = compression[i] == PNG_TEXT_COMPRESSION_NONE ? 0 : values_enc[i].size();
    texts[i].lang = empty_str;
    texts[i].lang_key = empty_str;
  }

  // A device or FIFO (e.g. /dev/full, /dev/stdout) cannot be replaced by a rename: write it directly.
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) throw IoError("cannot write PNG '" + path + "': it is a directory");
  const bool direct = exists && !S_ISREG(st.st_mode);

  std::string tmp;
  FILE* fp = nullptr;
  if (direct) {
    fp = std::fopen(path.c_str(), "wb");
    if (!fp) throw IoError("cannot open '" + path + "' for writing: " + std::strerror(errno));
  } else {
    std::string templ = parent_dir(path) + "/." + base_name(path) + ".XXXXXX.part";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    const int fd = ::mkstemps(buf.data(), 5);
    if (fd < 0)
      throw IoError("cannot create a file in '" + parent_dir(path) + "' to write '" + path +
                    "': " + std::strerror(errno) + " (check that the folder exists and is writable)");
    tmp = buf.data();
    ::fchmod(fd, 0644);  // mkstemp creates 0600; an exported image is an ordinary document
    fp = ::fdopen(fd, "wb");
    if (!fp) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError("cannot write '" + path + "': " + std::strerror(e));
    }
  }

  std::vector<std::uint8_t> row16(bit_depth == 16 ? static_cast<std::size_t>(image.width) * 6 : 0);
  WriteJob job;
  job.fp = fp;
  job.image = &image;
  job.bit_depth = bit_depth;
  job.texts = texts.empty() ? nullptr : texts.data();
  job.n_texts = static_cast<int>(texts.size());
  job.row16 = row16.empty() ? nullptr : row16.data();

  std::string failure;
  if (!run_write(&job)) {
    failure = job.message;
    if (job.saved_errno) failure += std::string(": ") + std::strerror(job.saved_errno);
  }
  // Buffered data reaches the disk only here: a full disk often shows up at flush / sync / close.
  if (failure.empty() && (std::fflush(fp) != 0 || std::ferror(fp))) failure = std::strerror(errno);
  if (failure.empty() && !direct && ::fsync(::fileno(fp)) != 0) failure = std::strerror(errno);
  if (std::fclose(fp) != 0 && failure.empty()) failure = std::strerror(errno);
  if (!failure.empty()) {
    if (!direct) ::unlink(tmp.c_str());
    throw IoError("could not write PNG '" + path + "': " + failure +
                  " (no file was written; check free disk space "
                  "and permissions)");
  }
  if (!direct && std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw IoError("could not move the finished PNG into place as '" + path + "': " + std::strerror(e));
  }
}

}  // namespace dype::image
