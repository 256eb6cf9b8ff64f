#pragma once
// Reading a user's image (the init image of img2img, the first pass of a two-pass hi-res refine) into the tensor
// form the VAE encoder takes. PNG and JPEG only; the format is told by the file's first bytes, never by its name.
//
// Values are the file's samples as they are, scaled to [-1, 1] (x / max · 2 − 1): no gamma, no colour profile is
// applied, exactly the inverse of what export (core/image/convert.h) writes, so that an exported image loaded back
// gives the same numbers. Whatever had to be converted to get there (16-bit, alpha, grey, palette, CMYK, an
// ignored colour profile) is listed in `notes` for the UI/CLI to show.
//
// Memory: the file's bytes, the float tensor, and one decoded row (a full decoded buffer only for an interlaced
// PNG, which libpng can only de-interlace in place). A 16 MP image is 192 MB of float32.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dype::image {

struct LoadedImage {
  at::Tensor pixels;  // [1, 3, H, W] float32 CPU, nominal range [-1, 1] (x/max*2-1)
  int width = 0, height = 0;
  int bits = 8;                    // bits per sample of the file (8 or 16; 1/2/4-bit grey and palettes count as 8)
  std::string format;              // "PNG" or "JPEG"
  std::vector<std::string> notes;  // what was converted, one short sentence each, for the UI/CLI to show
};

// Reads a PNG (8/16-bit; grey, grey+alpha, RGB, RGBA, palette, tRNS; interlaced) or a JPEG (baseline/progressive;
// grey, RGB/YCbCr, CMYK/YCCK converted naively to RGB with a note).
// 16-bit samples are kept at full precision (note "16-bit image: read at full precision"); alpha is composited on
// white (note "alpha channel: transparent areas composited on white"); grey is expanded to RGB (note).
// Throws IoError (missing/unreadable path: names it and the OS reason), FormatError (not a PNG/JPEG: says what the
// first bytes look like when recognisable — WebP, GIF, TIFF, BMP… — and to convert it to PNG or JPEG; truncated or
// corrupt data: names the file and libpng/libjpeg's message), ResourceError for an image above `max_pixels`
// (checked from the header, before any pixel is decoded).
LoadedImage load_image(const std::string& path, std::uint64_t max_pixels = 8192ull * 8192ull);

}  // namespace dype::image
