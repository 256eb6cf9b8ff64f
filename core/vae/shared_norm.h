#pragma once
// Image-wide GroupNorm statistics for tiled decoding.
//
// GroupNorm normalises with the mean and variance of the whole feature map. Decoded tile by tile, every tile
// would use its own statistics, so tiles come out with slightly different tone and contrast (the classic tiled-VAE
// colour shift) however well their borders are blended. SharedNormStats fixes that in two passes with memory
// still bounded by the tile size:
//   collect: every GroupNorm normalises with its tile's own statistics, as usual, and adds the sums of x and x^2
//            over the tile's *owned* region (a partition of the image: each pixel counted once) to slot k,
//            k = the GroupNorm's position in the forward pass (identical for every tile);
//   apply:   every GroupNorm normalises with the image-wide mean and variance of its slot.
// The collected statistics are those of a tiled pass, not of the exact untiled forward (that would need one pass
// per GroupNorm layer); the remaining difference is second order. Only GroupNorm layers see this; the decoder's
// mid attention stays local to the tile.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace dype::vae {

class SharedNormStats {
 public:
  // The region of the current tile whose pixels this tile owns, in the tile's latent pixel coordinates, and the
  // tile's latent size; a layer of resolution H x W scales them by H / tile_h (1 at the latent level, up to f).
  struct Region {
    std::int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0, tile_h = 0, tile_w = 0;
  };

  // `use_shared`: normalise with the frozen image-wide statistics (else the tile's own); `collect`: accumulate
  // this tile's owned-region sums for the next freeze().
  void begin_tile(bool use_shared, bool collect, const Region& owned);
  // Ends a pass: the statistics collected so far become the ones `use_shared` applies; collection restarts.
  void freeze();
  // Called by GroupNormImpl::forward while a SharedNormScope is active.
  at::Tensor group_norm(const at::Tensor& x, int groups, const at::Tensor& weight, const at::Tensor& bias, double eps);
  int slots() const { return static_cast<int>(mean_.size()); }

  // The statistics object of the innermost SharedNormScope on this thread, or null.
  static SharedNormStats* current();

 private:
  friend class SharedNormScope;
  bool use_shared_ = false, collect_ = true;
  Region owned_;
  int cursor_ = 0;
  std::vector<at::Tensor> sum_, sumsq_;  // being collected, per slot: [B, G] float64
  std::vector<double> count_;            // being collected, per slot: elements per group
  std::vector<at::Tensor> mean_, var_;   // frozen, per slot: [B, G] float64
};

// Makes `stats` the current statistics of this thread for its lifetime (GroupNorm layers consult it).
class SharedNormScope {
 public:
  explicit SharedNormScope(SharedNormStats* stats);
  ~SharedNormScope();
  SharedNormScope(const SharedNormScope&) = delete;
  SharedNormScope& operator=(const SharedNormScope&) = delete;

 private:
  SharedNormStats* previous_;
};

}  // namespace dype::vae
