// bench-deps: common image
// Init-image path timings: loading a 16 MP PNG (8- and 16-bit, photo-like content written here first) and the
// resamplings of img2img / hi-res refine (1024² → 4096², 4096² → 1024², a crop fit), both filters.
// Prints figures only. usage: bench_resize [threads [image.png|.jpg]]   (default: 2 threads, generated PNGs)
#include <ATen/ATen.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/common/error.h"
#include "core/image/image_file.h"
#include "core/image/png_export.h"
#include "core/image/resize.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Smooth gradients plus 4 bits of noise per sample: compresses about as well as a photo (a flat test image would
// make zlib's work, most of the load time, vanish).
dype::RgbImage photo_like(int side) {
  dype::RgbImage im;
  im.width = im.height = side;
  im.rgb8.resize(static_cast<std::size_t>(side) * side * 3);
  im.rgb16.resize(im.rgb8.size());
  std::uint32_t r = 1;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      for (int c = 0; c < 3; ++c) {
        r = r * 1664525u + 1013904223u;
        const std::size_t i = (static_cast<std::size_t>(y) * side + x) * 3 + c;
        im.rgb8[i] = static_cast<std::uint8_t>(((x + 2 * y + 700 * c) / 48 & 0xf0) + (r >> 28));
        im.rgb16[i] = static_cast<std::uint16_t>(im.rgb8[i] << 8 | (r >> 20 & 0xff));
      }
  return im;
}

void time_load(const std::string& path) {
  const auto t0 = std::chrono::steady_clock::now();
  const dype::image::LoadedImage im = dype::image::load_image(path);
  const double s = seconds_since(t0);
  std::printf("load %-5s %2d-bit %dx%d (%.1f MP): %.3f s\n", im.format.c_str(), im.bits, im.width, im.height,
              im.width * double(im.height) / 1e6, s);
}

}  // namespace

int main(int argc, char** argv) try {
  const int threads = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2;
  at::set_num_threads(threads);
  std::printf("threads %d\n", at::get_num_threads());

  if (argc > 2) {
    time_load(argv[2]);
  } else {
    const dype::RgbImage photo = photo_like(4096);
    for (int bits : {8, 16}) {
      const std::string path = "/tmp/bench_resize_" + std::to_string(::getpid()) + "_" + std::to_string(bits) + ".png";
      dype::image::write_png(path, photo, bits);
      time_load(path);
      std::remove(path.c_str());
    }
  }

  using dype::image::ResizeFilter;
  at::Tensor small = at::rand({1, 3, 1024, 1024}) * 2 - 1;  // [1, 3, 1024, 1024]
  for (ResizeFilter f : {ResizeFilter::Lanczos3, ResizeFilter::Bicubic}) {
    dype::image::resize(small, 64, 64, f);  // warm-up
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor big = dype::image::resize(small, 4096, 4096, f);  // [1, 3, 4096, 4096]
    const double up = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    dype::image::resize(big, 1024, 1024, f);
    const double down = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    dype::image::fit_image(big, 1536, 1024, dype::image::FitMode::Crop, f);
    const double fit = seconds_since(t0);
    std::printf("%-8s 1024²→4096² %.3f s   4096²→1024² %.3f s   fit 4096²→1536x1024 (crop) %.3f s\n",
                dype::image::resize_filter_name(f), up, down, fit);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_resize: %s\n", e.what());
  return 1;
}
