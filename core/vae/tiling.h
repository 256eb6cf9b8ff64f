#pragma once
// Tiling geometry shared by the tiled VAE decode (tiled_decode.h) and encode (tiled_encode.h): tiles are planned
// in LATENT pixels for both directions (the image side of a tile is its latent span times the spatial factor f),
// so one plan, one set of blend weights and one owned-region partition serve both.
//
// Blending. Along each axis a tile's weight ramps from ~0 at its edge to 1 across the zone it shares with its
// neighbour (cosine: sin^2, or linear), and is 1 elsewhere (also at the image border, where there is no
// neighbour). The 2-D weight of a tile is the product of its two 1-D weights, normalised by the sum over all
// tiles; because tiles form a grid, that sum is separable, so each tile is added to the output with its final
// weight and no per-pixel weight buffer is needed. Weights form an exact partition of unity, and a pixel covered
// by a single tile gets exactly that tile's value.
//
// Passes. With `shared_norm` every tile is run twice: a statistics pass that collects image-wide GroupNorm
// statistics over each tile's owned region, then the pass that writes the output with them (shared_norm.h).
// for_each_tile() runs that protocol, the progress reports and the cancel check for both directions.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace dype::vae {

enum class BlendMask { cosine, linear };

struct TileOptions {
  int tile = 64;     // latent pixels per tile side; 0 = always run in one piece
  int overlap = 16;  // latent pixels shared by neighbouring tiles, 0 <= overlap <= tile / 2
  BlendMask blend = BlendMask::cosine;
  // Image-wide GroupNorm statistics from a first pass over all tiles (see above and shared_norm.h); doubles the
  // compute. false: every tile normalises with its own statistics (one pass).
  bool shared_norm = true;
};
// The name the decode introduced; the same options drive the encode.
using TiledDecodeOptions = TileOptions;

// Called after each tile with (tiles done, total tiles), on the calling thread, tiles in row-major order; with
// shared_norm every tile is run twice and total is twice the tile count (statistics pass first). An untiled run
// reports (1, 1). Returning false stops the run: the tiled call then throws dype::Cancelled.
using TileProgress = std::function<bool(int done, int total)>;

// A half-open range [begin, end) of latent pixels along one axis.
struct TileSpan {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
};

// Tile ranges along one axis of `length` latent pixels: one span when length <= tile, otherwise the fewest tiles
// of exactly `tile` pixels whose starts are spread evenly so that neighbours share at least `overlap` pixels,
// the first starting at 0 and the last ending at `length`.
std::vector<TileSpan> plan_tiles(std::int64_t length, int tile, int overlap);

struct TilePlan {
  std::vector<TileSpan> rows, cols;  // latent ranges; the tiles are rows x cols
  int count() const { return static_cast<int>(rows.size() * cols.size()); }
  bool tiled() const { return count() > 1; }
};
// The tile grid of a latent of latent_h x latent_w pixels (plan_tiled_decode is the decode's name for it).
// Throws InvalidArgument for tile < 0, overlap < 0 or overlap > tile / 2 (with tile > 0).
TilePlan plan_tiling(std::int64_t latent_h, std::int64_t latent_w, const TileOptions& options);

// Normalised 1-D blend weights of every tile along one axis, in output pixels: result[i] has
// spans[i].size() * factor entries (float64), and for every pixel the weights of the tiles covering it sum to 1.
// factor = f for a decoded image, 1 for an encoded latent.
std::vector<std::vector<double>> blend_weights(const std::vector<TileSpan>& spans, int factor, BlendMask blend);

// The part of tile i that it alone accounts for in the GroupNorm statistics: from the middle of the zone shared
// with the previous tile to the middle of the zone shared with the next (a partition of the axis).
TileSpan owned_span(const std::vector<TileSpan>& spans, std::size_t i);

// One tile of a pass: its row/column index in the plan and, on the last pass, whether to write the output.
struct TileVisit {
  std::size_t row = 0, col = 0;
  TileSpan rows, cols;     // latent ranges
  bool final_pass = true;  // false: statistics pass (run the tile, discard its output)
};

// Runs `run` on every tile of a tiled plan (plan.tiled()), row-major, once, or twice with options.shared_norm
// (a SharedNormStats is made current for the duration: statistics pass, freeze, final pass). Reports
// progress after each tile and throws Cancelled when it returns false, before the next tile starts.
void for_each_tile(const TilePlan& plan, const TileOptions& options, const TileProgress& progress,
                   const std::function<void(const TileVisit&)>& run);

// A blend weight vector as a float32 CPU tensor of its length (to be viewed as a row or column mask).
at::Tensor weight_tensor(const std::vector<double>& w);

}  // namespace dype::vae
