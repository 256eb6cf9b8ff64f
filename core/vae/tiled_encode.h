#pragma once
// Tiled VAE encode (img2img and hi-res refine of 16 MP images): the image is cut into overlapping tiles, each tile
// is encoded on its own, and the tiles' latents are blended into one preallocated float32 latent, so that peak
// memory depends on the tile size, not on the image size. The encoder's heaviest layers run at full image
// resolution with ch * ch_mult[0] channels (128 for FLUX): an untiled encode of 4096x4096 holds several 8 GiB
// activations at once.
//
// Geometry is the decode's (tiling.h): tiles are planned in LATENT pixels with the same options (tile, overlap,
// blend), the image tile of a latent span is that span times the spatial factor f, and the blend weights are
// applied to the latent tiles (factor 1). Image tiles start on multiples of f, so every stride-2 downsampling
// inside a tile samples the same pixel grid as the untiled encode.
//
// Accuracy. As for the decode, tiling cannot be exact: GroupNorm normalises with statistics of the whole feature
// map and the encoder's mid attention is global over the latent. Tiles normalise with their own statistics
// (shared_norm = false) or with image-wide ones from a first pass over all tiles (shared_norm = true, the
// decode's default; shared_norm.h, whose owned regions the encoder's layers, f * tile down to tile pixels per
// side, scale by their own resolution). The machinery works on the encoder (exact image-wide statistics applied
// tile by tile halve the tiled error on the test model), but the statistics the first pass collects do not: during
// that pass every tile normalises with its own statistics, which strips the variation between tiles, so what it
// collects for every GroupNorm after the first is too narrow (std ~0.8x); applied, each layer over-amplifies and
// the error compounds through the encoder's GroupNorms. On the random-weight test encoders that makes structured
// images far worse than per-tile statistics (rel_l2 to the untiled latent 0.52 -> 6.1; golden weights 0.89 ->
// 1.7), and textures with the same statistics everywhere slightly worse (0.088 -> 0.10). Until this is measured
// on the real FLUX VAE, callers should encode with shared_norm = false. What remains then is the per-tile
// statistics, the tile-local mid attention and the tiles' zero-padding borders, faded out by the blend; figures
// in tests/unit/test_tiled_encode.cpp and tests/golden/test_golden_vae.cpp.
#include <ATen/ATen.h>

#include <cstdint>

#include "core/vae/autoencoder.h"
#include "core/vae/tiling.h"

namespace dype::vae {

// Encodes image [B, in_channels, H, W] in [-1, 1] (any float dtype/device; each tile is moved to the
// autoencoder's device and dtype), H and W positive multiples of f, into a new float32 CPU latent
// [B, z_channels, H/f, W/f] (the scaled distribution mean, as AutoEncoderImpl::encode). When the latent fits in
// one tile (or options.tile == 0) this is exactly ae->encode(image). Progress and cancellation as in tiling.h:
// progress(done, total) after every tile, total doubled with shared_norm, (1, 1) when untiled; returning false
// throws dype::Cancelled. Throws InvalidArgument for bad shapes or options.
at::Tensor tiled_encode(AutoEncoder& ae, const at::Tensor& image, const TiledDecodeOptions& options = {},
                        const TileProgress& progress = nullptr);

// Rough working-set estimate of one encode call in bytes (largest tile's activations at the full-resolution level,
// which dominate, attention scores at the latent level, weights), excluding the input image and the output latent.
// latent_h / latent_w are the latent's size (image size / f). For memory planning.
std::uint64_t estimate_encode_bytes(const AutoEncoderConfig& cfg, std::int64_t latent_h, std::int64_t latent_w,
                                    const TiledDecodeOptions& options, at::ScalarType dtype = at::kFloat);

}  // namespace dype::vae
