#pragma once
// Tiled VAE decode: the latent is cut into overlapping tiles, each tile is decoded on its own, and the decoded
// tiles are blended into one preallocated float32 image with feathered weights, so that peak memory depends on
// the tile size, not on the image size (16 MP needs it: an untiled FLUX decode of 4096x4096 needs tens of GB).
//
// Tile planning, blend weights (a feathered partition of unity) and the two-pass protocol live in tiling.h,
// shared with the tiled encode; this file is the decode's side.
//
// Accuracy. Tiling cannot be exact for this decoder: GroupNorm normalises with statistics of the whole feature
// map and the mid-block attention is global over the latent. Decoding each tile on its own would give every tile
// its own GroupNorm statistics (a tone/contrast shift per tile); with `shared_norm` (default) a first pass over all
// tiles collects image-wide GroupNorm statistics and the second pass decodes with them (shared_norm.h), at twice
// the compute. Those statistics are measured on activations that were normalised per tile upstream, so they are
// not the untiled decode's exactly; on the tiny random-weight decoder they remove about a third of the tiled error
// for structured latents (more passes, feeding each pass's statistics to the next, did not converge there). What
// remains is the tile-local mid attention and, in the blend zones, the tiles' faded zero-padding border effects
// (figures in tests/unit/test_tiled_decode.cpp and the golden test). Tile sizes >= 32 latent px and overlaps >= 8
// are sensible; the defaults follow GenerationRequest (64 / 16).
#include <ATen/ATen.h>

#include <cstdint>

#include "core/vae/autoencoder.h"
#include "core/vae/tiling.h"

namespace dype::vae {

// The decode's name for plan_tiling() (tiling.h); throws InvalidArgument for invalid options.
TilePlan plan_tiled_decode(std::int64_t latent_h, std::int64_t latent_w, const TiledDecodeOptions& options);

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
