#pragma once
// PNG export (8 or 16 bits per channel) with text metadata. Rows are handed to libpng one at a time straight from
// the RgbImage (16-bit rows are byte-swapped through a one-row buffer), so a 16 MP export needs no second full
// copy of the image. The file is written to a temporary name in the destination folder and renamed into place only
// when complete: a failed export (disk full, permission denied, bad path) throws IoError and leaves no file.
#include <string>
#include <vector>

#include "core/image/rgb_image.h"

namespace dype::image {

// One text chunk. Written as tEXt when the value is representable in Latin-1 (PNG's text encoding), as an
// uncompressed iTXt (UTF-8) otherwise, e.g. for a prompt in Japanese or the "λs" of the DyPE entry.
struct PngText {
  std::string key;    // 1–79 Latin-1 characters, e.g. "parameters"
  std::string value;  // UTF-8
};

// bit_depth 8 writes rgb8; 16 writes rgb16 (InvalidArgument when the image has no 16-bit data: it is produced by
// the pipeline when the request asks for 16 bits, never faked by widening the 8-bit data).
// A destination that exists and is not a regular file (a device such as /dev/full, a FIFO) is written directly.
void write_png(const std::string& path, const RgbImage& image, int bit_depth, const std::vector<PngText>& text = {});

}  // namespace dype::image
