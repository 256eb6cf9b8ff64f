#pragma once
// Reading PNG files back: their text metadata (for restoring a generation's settings from an exported image) and
// their pixels (for tests and the GUI's image loader). Errors: IoError (cannot open), FormatError (not a PNG).
#include <map>
#include <string>

#include "core/image/rgb_image.h"

namespace dype::image {

struct PngInfo {
  int width = 0;
  int height = 0;
  int bit_depth = 0;
  std::map<std::string, std::string> text;  // tEXt / zTXt / iTXt before the image data, values in UTF-8
};

// Header and text chunks only (the pixels are not decoded).
PngInfo read_png_info(const std::string& path);

// The whole image as RGB (grey and palette images are expanded, alpha dropped); a 16-bit PNG fills both rgb16
// and rgb8 (rounded to 8 bits), an 8-bit PNG only rgb8. `info`, when given, receives header and text.
RgbImage read_png(const std::string& path, PngInfo* info = nullptr);

// UTF-8 ↔ Latin-1 helpers of the tEXt rule (exposed for the tests). to_latin1 returns false when a code point is
// above U+00FF or the input is not valid UTF-8.
bool utf8_to_latin1(const std::string& utf8, std::string* latin1);
std::string latin1_to_utf8(const std::string& latin1);

}  // namespace dype::image
