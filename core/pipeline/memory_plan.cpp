#include "core/pipeline/memory_plan.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/common/error.h"
#include "core/common/format.h"

namespace dype {

std::uint64_t transformer_activation_bytes(const MemoryPlanInput& in, std::int64_t tokens) {
  const auto e = static_cast<std::uint64_t>(in.compute_element_size);
  const auto L = static_cast<std::uint64_t>(tokens);
  const auto H = static_cast<std::uint64_t>(in.hidden_size);
  const auto M = static_cast<std::uint64_t>(in.mlp_hidden);
  // Single-stream block (the larger of the two): the residual stream, modulated input, linear1's output
  // (3H + M), q/k/v after norm and RoPE (3H), the attention output (H), gelu(mlp) (M), the concatenation
  // (H + M) and linear2's output (H), with the temporaries LibTorch keeps alive between them.
  const std::uint64_t block = L * e * (H + H + (3 * H + M) + 3 * H + H + M + (H + M) + H);
  // RoPE table [L, D/2, 2, 2] float32 and rotated q/k copies in float32 for narrow dtypes.
  const std::uint64_t pe = L * static_cast<std::uint64_t>(in.head_dim) * 2 * 4;
  const std::uint64_t rope_tmp = in.compute_element_size < 4 ? L * H * 2 * 4 : 0;
  std::uint64_t attn = 0;
  if (in.attention_materialises_scores) {
    // One chunk of scores and its softmax, but never more than the full L×L matrices.
    const std::uint64_t full = L * L * static_cast<std::uint64_t>(in.num_heads) * 4 * 2;
    attn = std::min<std::uint64_t>(full, static_cast<std::uint64_t>(in.attention_chunk_bytes) * 2);
  }
  return block + pe + rope_tmp + attn;
}

MemoryEstimate plan_memory(const MemoryPlanInput& in, std::uint64_t available_bytes) {
  MemoryEstimate m;
  const std::int64_t img_tokens = ((in.height + 15) / 16) * static_cast<std::int64_t>((in.width + 15) / 16);
  const std::int64_t tokens = img_tokens + in.txt_tokens;
  m.weights_bytes = in.weight_bytes;
  m.activations_bytes = transformer_activation_bytes(in, tokens);
  // The decode writes into a float32 [3, H, W] image on the CPU; the 8-bit (and 16-bit) copies follow.
  const std::uint64_t px = static_cast<std::uint64_t>(in.width) * static_cast<std::uint64_t>(in.height);
  const std::uint64_t image_bytes = px * 3 * 4 + px * 3 + (in.keep_16bit ? px * 3 * 2 : 0);
  m.decode_bytes = in.decode_bytes + (in.device.is_cpu() ? image_bytes : 0);
  m.peak_bytes = m.weights_bytes + std::max(m.activations_bytes, m.decode_bytes);
  m.available_bytes = available_bytes;
  if (available_bytes == 0) {
    m.fits = true;
    m.advice = "free memory of the " + std::string(in.device.is_cpu() ? "CPU" : "device") +
               " is unknown; the run needs about " + format_bytes(m.peak_bytes);
    return m;
  }
  // Weights are already resident when a loaded pipeline plans a request: they count against the device's total,
  // but `available_bytes` was measured after loading, so only the working set must fit in what is free.
  const std::uint64_t working = m.peak_bytes - m.weights_bytes;
  const std::uint64_t usable = available_bytes / 20 * 19;  // keep 5 % for the allocator and everything else
  m.fits = working <= usable;
  if (m.fits) return m;

  std::ostringstream os;
  os << "a " << in.width << "x" << in.height << " image needs about " << format_bytes(working) << " of working memory ("
     << "transformer activations " << format_bytes(m.activations_bytes) << ", VAE decode "
     << format_bytes(m.decode_bytes) << ") on the " << (in.device.is_cpu() ? "CPU" : in.device.str()) << ", which has "
     << format_bytes(available_bytes) << " free. ";
  if (m.activations_bytes >= m.decode_bytes) {
    // Activations grow linearly with the token count (attention is chunked): scale the side accordingly.
    const double ratio = static_cast<double>(usable) / static_cast<double>(working);
    const int side =
        static_cast<int>(std::floor(std::sqrt(static_cast<double>(px) * std::max(0.0, ratio)) / 16.0)) * 16;
    if (side >= 16)
      os << "Try a smaller size (about " << side << "x" << side << " or the same number of pixels)";
    else
      os << "Free memory (close other programs) or use a machine with more memory";
    if (in.compute_element_size >= 4 && !in.device.is_cpu()) os << ", or --dtype bfloat16";
    os << ".";
  } else {
    os << "Decode with smaller VAE tiles (vae_tile, e.g. 64 latent pixels), or generate a smaller image.";
  }
  m.advice = os.str();
  return m;
}

}  // namespace dype
