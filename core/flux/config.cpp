#include "core/flux/config.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/common/error.h"
#include "core/common/format.h"

namespace dype::flux {

namespace {
std::string in_source(const std::string& source) { return source.empty() ? "" : " (" + source + ")"; }

}  // namespace

FluxConfig FluxConfig::dev() { return FluxConfig{}; }

FluxConfig FluxConfig::schnell() {
  FluxConfig c;
  c.guidance_embed = false;
  return c;
}

std::int64_t FluxConfig::parameter_count() const {
  const std::int64_t h = hidden_size, m = mlp_hidden_dim(), hd = head_dim();
  auto linear = [](std::int64_t in, std::int64_t out, bool bias = true) { return in * out + (bias ? out : 0); };
  auto mlp_embedder = [&](std::int64_t in) { return linear(in, h) + linear(h, h); };
  std::int64_t n = linear(in_channels, h) + mlp_embedder(256) + mlp_embedder(vec_in_dim) + linear(context_in_dim, h);
  if (guidance_embed) n += mlp_embedder(256);
  // one stream (img or txt) of a double block: modulation ×6, qkv, q/k norm scales, proj, mlp
  const std::int64_t stream =
      linear(h, 6 * h) + linear(h, 3 * h, qkv_bias) + 2 * hd + linear(h, h) + linear(h, m) + linear(m, h);
  const std::int64_t single = linear(h, 3 * h + m) + linear(h + m, h) + 2 * hd + linear(h, 3 * h);
  n += depth * 2 * stream + depth_single_blocks * single;
  n += linear(h, out_channels) + linear(h, 2 * h);
  return n;
}

void FluxConfig::validate(const std::string& source) const {
  auto fail = [&](const std::string& what) {
    throw ModelError("FLUX transformer config" + in_source(source) + " is not usable: " + what);
  };
  if (hidden_size <= 0 || num_heads <= 0)
    fail("hidden size " + std::to_string(hidden_size) + " and head count " + std::to_string(num_heads) +
         " must be positive");
  if (hidden_size % num_heads != 0)
    fail("hidden size " + std::to_string(hidden_size) + " is not divisible by " + std::to_string(num_heads) + " heads");
  if (in_channels <= 0 || out_channels <= 0 || vec_in_dim <= 0 || context_in_dim <= 0)
    fail("in_channels " + std::to_string(in_channels) + ", out_channels " + std::to_string(out_channels) +
         ", vec_in_dim " + std::to_string(vec_in_dim) + " and context_in_dim " + std::to_string(context_in_dim) +
         " must all be positive");
  if (depth < 0 || depth_single_blocks < 0 || depth + depth_single_blocks == 0)
    fail("block counts " + std::to_string(depth) + " double + " + std::to_string(depth_single_blocks) +
         " single are invalid (need at least one block)");
  if (!(mlp_ratio > 0) || static_cast<double>(mlp_hidden_dim()) != static_cast<double>(hidden_size) * mlp_ratio)
    fail("mlp ratio " + std::to_string(mlp_ratio) + " × hidden " + std::to_string(hidden_size) +
         " is not a positive whole number of features");
  if (axes_dim.size() != 3) fail("RoPE needs 3 axes (text, rows, columns); got " + shape_str(axes_dim));
  std::int64_t sum = 0;
  for (auto d : axes_dim) {
    if (d <= 0 || d % 2 != 0) fail("RoPE axis dims " + shape_str(axes_dim) + " must be positive and even");
    sum += d;
  }
  if (sum != head_dim())
    fail("RoPE axis dims " + shape_str(axes_dim) + " sum to " + std::to_string(sum) + ", but the head dim is " +
         std::to_string(head_dim()) + " (hidden " + std::to_string(hidden_size) + " / " + std::to_string(num_heads) +
         " heads)");
  if (!(theta > 1)) fail("RoPE theta " + std::to_string(theta) + " must be > 1");
}

std::string FluxConfig::describe() const {
  std::ostringstream os;
  os << "hidden " << hidden_size << ", " << num_heads << " heads × " << head_dim() << ", " << depth << " double + "
     << depth_single_blocks << " single blocks, in " << in_channels << ", out " << out_channels << ", context "
     << context_in_dim << ", vec " << vec_in_dim << ", mlp ×" << mlp_ratio << ", axes " << shape_str(axes_dim)
     << (guidance_embed ? ", guidance" : ", no guidance");
  return os.str();
}

bool FluxConfig::operator==(const FluxConfig& o) const {
  return in_channels == o.in_channels && out_channels == o.out_channels && vec_in_dim == o.vec_in_dim &&
         context_in_dim == o.context_in_dim && hidden_size == o.hidden_size && mlp_ratio == o.mlp_ratio &&
         num_heads == o.num_heads && depth == o.depth && depth_single_blocks == o.depth_single_blocks &&
         axes_dim == o.axes_dim && theta == o.theta && qkv_bias == o.qkv_bias && guidance_embed == o.guidance_embed;
}

FluxConfig flux_config_from_diffusers(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw ModelError("transformer config '" + source + "' is not a JSON object");
  FluxConfig c;
  auto get_int = [&](const char* key, std::int64_t& out) {
    if (!j.contains(key) || j[key].is_null()) return false;
    if (!j[key].is_number_integer())
      throw ModelError("transformer config '" + source + "': \"" + key + "\" must be an integer, got " + j[key].dump());
    out = j[key].get<std::int64_t>();
    return true;
  };
  try {
    if (j.contains("_class_name") && j["_class_name"].is_string() &&
        j["_class_name"].get<std::string>() != "FluxTransformer2DModel")
      throw ModelError("transformer config '" + source + "' describes a " + j["_class_name"].get<std::string>() +
                       ", not a FluxTransformer2DModel (wrong model folder?)");
    std::int64_t patch = 1;
    get_int("patch_size", patch);
    if (patch != 1)
      throw ModelError("transformer config '" + source + "': patch_size " + std::to_string(patch) +
                       " is not supported (FLUX packs 2×2 patches outside the transformer; expected 1)");
    std::int64_t head_dim = 128;
    get_int("attention_head_dim", head_dim);
    get_int("num_attention_heads", c.num_heads);
    c.hidden_size = head_dim * c.num_heads;
    get_int("num_layers", c.depth);
    get_int("num_single_layers", c.depth_single_blocks);
    get_int("joint_attention_dim", c.context_in_dim);
    get_int("pooled_projection_dim", c.vec_in_dim);
    get_int("in_channels", c.in_channels);
    c.out_channels = c.in_channels;  // diffusers: out_channels null means in_channels
    get_int("out_channels", c.out_channels);
    if (j.contains("guidance_embeds") && !j["guidance_embeds"].is_null())
      c.guidance_embed = j["guidance_embeds"].get<bool>();
    if (j.contains("axes_dims_rope") && !j["axes_dims_rope"].is_null())
      c.axes_dim = j["axes_dims_rope"].get<std::vector<std::int64_t>>();
    if (j.contains("theta") && j["theta"].is_number()) c.theta = j["theta"].get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw ModelError("transformer config '" + source + "' has a field of the wrong type: " + e.what());
  }
  c.validate(source);
  return c;
}

FluxConfig infer_flux_config(const ShapeLookup& shape_of, const std::string& source) {
  auto need = [&](const std::string& name, std::size_t rank) {
    auto s = shape_of(name);
    if (!s)
      throw ModelError("cannot infer the FLUX transformer config from '" + source + "': tensor '" + name +
                       "' is missing (not a FLUX transformer checkpoint, or a truncated file)");
    if (s->size() != rank)
      throw ModelError("cannot infer the FLUX transformer config from '" + source + "': tensor '" + name +
                       "' has shape " + shape_str(*s) + ", expected " + std::to_string(rank) + " dimensions");
    return *s;
  };
  FluxConfig c;
  const auto img_in = need("img_in.weight", 2);
  c.hidden_size = img_in[0];
  c.in_channels = img_in[1];
  c.out_channels = need("final_layer.linear.weight", 2)[0];
  c.context_in_dim = need("txt_in.weight", 2)[1];
  c.vec_in_dim = need("vector_in.in_layer.weight", 2)[1];
  c.guidance_embed = shape_of("guidance_in.in_layer.weight").has_value();

  auto count = [&](const std::string& prefix, const std::string& suffix) {
    std::int64_t n = 0;
    while (shape_of(prefix + std::to_string(n) + suffix)) ++n;
    return n;
  };
  c.depth = count("double_blocks.", ".img_mod.lin.weight");
  c.depth_single_blocks = count("single_blocks.", ".linear1.weight");
  if (c.depth + c.depth_single_blocks == 0)
    throw ModelError("cannot infer the FLUX transformer config from '" + source +
                     "': it has no double_blocks.N or single_blocks.N tensors (truncated file?)");

  const std::string norm =
      c.depth > 0 ? "double_blocks.0.img_attn.norm.query_norm.scale" : "single_blocks.0.norm.query_norm.scale";
  const std::int64_t head_dim = need(norm, 1)[0];
  if (head_dim <= 0 || c.hidden_size % head_dim != 0)
    throw ModelError("cannot infer the FLUX transformer config from '" + source + "': hidden size " +
                     std::to_string(c.hidden_size) + " (img_in.weight) is not a multiple of the head dim " +
                     std::to_string(head_dim) + " (" + norm + ")");
  c.num_heads = c.hidden_size / head_dim;

  std::int64_t mlp_hidden = 0;
  if (c.depth > 0) {
    mlp_hidden = need("double_blocks.0.img_mlp.0.weight", 2)[0];
    c.qkv_bias = shape_of("double_blocks.0.img_attn.qkv.bias").has_value();
  } else {
    mlp_hidden = need("single_blocks.0.linear1.weight", 2)[0] - 3 * c.hidden_size;
  }
  c.mlp_ratio = static_cast<double>(mlp_hidden) / static_cast<double>(c.hidden_size);

  if (head_dim % 16 != 0)
    throw ModelError("cannot infer the FLUX transformer config from '" + source + "': head dim " +
                     std::to_string(head_dim) +
                     " is not a multiple of 16, so the RoPE axes head_dim·[1/8, 7/16, "
                     "7/16] are not whole numbers; provide a config.json with axes_dims_rope");
  c.axes_dim = {head_dim / 8, head_dim * 7 / 16, head_dim * 7 / 16};
  c.theta = 10000.0;
  c.validate(source);
  return c;
}

}  // namespace dype::flux
