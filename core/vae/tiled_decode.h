#pragma once
// Tiled VAE decode: the latent is cut into overlapping tiles, each tile is decoded on its own, and the decoded
// tiles are blended into one preallocated float32 image with feathered weights, so that peak memory depends on
// the tile size, not on the image size (16 MP needs it: an untiled FLUX decode of 4096x4096 needs tens of GB).
//
// Blending. Along each axis a tile's weight ramps from ~0 at its edge to 1 across the zone it shares with its
// neighbour (cosine: sin^2, or linear), and is 1 elsewhere (also at the image border, where there is no
// neighbour). The 2-D weight of a tile is the product of its two 1-D weights, normalised by the sum over all
// tiles; because tiles form a grid, that sum is separable, so each tile is added to the output with its final
// weight and no per-pixel weight buffer is needed. Weights form an exact partition of unity, and a pixel covered
// by a single tile gets exactly that tile's value.
//
// Accuracy. Tiling cannot be exact for this decoder: GroupNorm normalises with statistics of the whole feature
// map and the mid-block attention is global over the latent. Decoding each tile on its own would give every tile
// its own GroupNorm statistics (a tone/contrast shift per tile); with `shared_norm` (default) a first pass over all
// tiles collects image-wide GroupNorm statistics and the second pass decodes with them (shared_norm.h), at twice
// the compute. Those statistics are measured on activations that were normalised per tile upstream, so they are
// not the untiled decode's exactly; on the tiny random-weight decoder they remove about a third of the tiled error
// for structured latents (more passes, feeding each pass's statistics to the next, did not converge there). What remains is the tile-local mid attention and, in the blend zones, the tiles' faded
// zero-padding border effects (figures in tests/unit/test_tiled_decode.cpp and the golden test). Tile sizes
// >= 32 latent px and overlaps >= 8 are sensible; the defaults follow GenerationRequest (64 / 16).
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/vae/autoencoder.h"

namespace dype::vae {

enum class BlendMask { cosine, linear };

struct TiledDecodeOptions {
  int tile = 64;     // latent pixels per tile side; 0 = always decode in one piece
  int overlap = 16;  // latent pixels shared by neighbouring tiles, 0 <= overlap <= tile / 2
  BlendMask blend = BlendMask::cosine;
  // Image-wide GroupNorm statistics from a first pass over all tiles (see above and shared_norm.h); doubles the
  // compute. false: every tile normalises with its own statistics (one pass).
  bool shared_norm = true;
};

// Called after each decoded tile with (tiles done, total tiles), on the calling thread, tiles in row-major order;
// with shared_norm every tile is decoded twice and total is twice the tile count (statistics pass first). An
// untiled decode reports (1, 1). Returning false stops the decode: tiled_decode then throws dype::Cancelled.
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
// Throws InvalidArgument for tile < 0, overlap < 0 or overlap > tile / 2 (with tile > 0).
TilePlan plan_tiled_decode(std::int64_t latent_h, std::int64_t latent_w, const TiledDecodeOptions& options);

// Normalised 1-D blend weights of every tile along one axis, in image pixels: result[i] has
// spans[i].size() * factor entries (float64), and for every pixel the weights of the tiles covering it sum to 1.
std::vector<std::vector<double>> blend_weights(const std::vector<TileSpan>& spans, int factor, BlendMask blend);

// Decodes z [B, z_channels, h, w] (any device/dtype; each tile is moved to the autoencoder's device) into a new
// float32 CPU tensor [B, out_ch, f*h, f*w]. When the latent fits in one tile (or options.tile == 0) this is
// exactly ae->decode(z). Throws InvalidArgument (bad shapes or options) or Cancelled (progress returned false).
at::Tensor tiled_decode(AutoEncoder& ae, const at::Tensor& z, const TiledDecodeOptions& options = {},
                        const TileProgress& progress = nullptr);

// Same, writing into `out`: a preallocated float32 CPU tensor [B, out_ch, f*h, f*w] (contents overwritten).
void tiled_decode_into(AutoEncoder& ae, const at::Tensor& z, at::Tensor& out, const TiledDecodeOptions& options = {},
                       const TileProgress& progress = nullptr);

// Rough working-set estimate of one decode call in bytes (largest tile's activations at the full-resolution
// level, attention scores at the latent level, weights), excluding the output image. For memory planning.
std::uint64_t estimate_decode_bytes(const AutoEncoderConfig& cfg, std::int64_t latent_h, std::int64_t latent_w,
                                    const TiledDecodeOptions& options, at::ScalarType dtype = at::kFloat);

}  // namespace dype::vae
