#pragma once
// The image value passed between the pipeline, previews, export and the GUI: no tensors, no Qt.
#include <cstdint>
#include <vector>

namespace dype {

// 8-bit RGB, interleaved, row-major; optionally the same image at 16 bits for 16-bit export.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb8;
  std::vector<std::uint16_t> rgb16;  // empty unless produced
  bool empty() const { return width == 0 || height == 0; }
};

}  // namespace dype
