#include "core/pipeline/generation_request.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/common/error.h"
#include "core/pipeline/passes.h"

namespace dype {

nlohmann::json GenerationRequest::to_json() const {
  nlohmann::json d = {
      {"method", method_name(dype.method)}, {"dynamic", dype.dynamic},   {"yarn_form", yarn_form_name(dype.yarn_form)},
      {"lambda_s", dype.lambda_s},          {"lambda_t", dype.lambda_t}, {"base_resolution", dype.base_resolution},
      {"isotropic", dype.isotropic},
  };
  nlohmann::json j = {
      {"prompt", prompt},
      {"width", width},
      {"height", height},
      {"steps", steps},
      {"guidance", guidance},
      {"seed", seed},
      {"dype", d},
      {"shift", shift_policy_name(shift)},
      {"shift_mu", shift_mu},
      {"base_shift", base_shift},
      {"max_shift", max_shift},
      {"noise", sampling::noise_convention_name(noise)},
      {"preview_every", preview_every},
      {"preview_vae", preview_vae},
      {"vae_tile", vae_tile},
      {"vae_tile_overlap", vae_tile_overlap},
      {"bit_depth", bit_depth},
  };
  if (!loras.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& l : loras) {
      // The file name for people and other tools, the path for our restore, the hash to tell a different file.
      list.push_back({{"file", std::filesystem::path(l.path).filename().string()},
                      {"path", l.path},
                      {"strength", l.strength},
                      {"sha256", l.sha256}});
    }
    j["loras"] = list;
  }
  // Written only when used, so a text-to-image record stays as it was.
  if (!init_image.empty()) {
    j["init_image"] = {{"file", std::filesystem::path(init_image).filename().string()},
                       {"path", init_image},
                       {"strength", strength},
                       {"fit", init_fit},
                       {"sha256", init_image_sha256}};
  }
  if (refine.enabled) {
    j["refine"] = {{"base_width", refine.base_width},
                   {"base_height", refine.base_height},
                   {"strength", refine.strength},
                   {"steps", refine.steps},
                   {"upscale", refine.upscale}};
  }
  return j;
}

void validate_size(int width, int height, std::uint64_t max_pixels) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) throw InvalidArgument("image size " + size + ": width and height must be positive");
  if (width % 16 != 0 || height % 16 != 0) {
    auto near = [](int v) { return std::max(16, (v + 8) / 16 * 16); };
    throw InvalidArgument("image size " + size +
                          ": width and height must be multiples of 16 (FLUX works on 16-pixel "
                          "patches); the nearest valid size is " +
                          std::to_string(near(width)) + "x" + std::to_string(near(height)));
  }
  const std::uint64_t px = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (px > max_pixels) {
    char buf[256];
    std::snprintf(buf, sizeof(buf),
                  "image size %s has %llu pixels (%.2f MP), above the limit of %llu pixels (%.2f MP, "
                  "e.g. %dx%d); choose a smaller size or raise the limit",
                  size.c_str(), static_cast<unsigned long long>(px), px / 1e6,
                  static_cast<unsigned long long>(max_pixels), max_pixels / 1e6,
                  static_cast<int>(std::sqrt(static_cast<double>(max_pixels))) / 16 * 16,
                  static_cast<int>(std::sqrt(static_cast<double>(max_pixels))) / 16 * 16);
    throw InvalidArgument(buf);
  }
}

namespace {
std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

std::vector<std::string> GenerationRequest::validate(const RequestLimits& limits) const {
  std::vector<std::string> problems;
  try {
    validate_size(width, height, limits.max_pixels);
  } catch (const InvalidArgument& e) {
    problems.push_back(e.what());
  }
  if (steps < limits.min_steps || steps > limits.max_steps)
    problems.push_back("steps must be between " + std::to_string(limits.min_steps) + " and " +
                       std::to_string(limits.max_steps) + ", got " + std::to_string(steps));
  if (!std::isfinite(guidance)) problems.push_back("guidance must be a finite number");
  if (preview_every < 0) problems.push_back("preview interval must be >= 0 (0 = no previews)");
  if (bit_depth != 8 && bit_depth != 16)
    problems.push_back("bit depth must be 8 or 16, got " + std::to_string(bit_depth));
  if (!std::isfinite(dype.lambda_s) || !std::isfinite(dype.lambda_t) || dype.lambda_s < 0 || dype.lambda_t < 0)
    problems.push_back("DyPE strength and exponent must be finite and >= 0, got " + number(dype.lambda_s) + " and " +
                       number(dype.lambda_t));
  if (dype.base_resolution < 16 || dype.base_resolution % 16 != 0)
    problems.push_back("DyPE base resolution must be a positive multiple of 16 px, got " +
                       std::to_string(dype.base_resolution));
  if (!std::isfinite(base_shift) || !std::isfinite(max_shift))
    problems.push_back("base_shift and max_shift must be finite numbers");
  if (shift == ShiftPolicy::Fixed && !std::isfinite(shift_mu))
    problems.push_back("fixed time shift mu must be a finite number");
  // The tiler's rule (core/vae/tiling.h), checked here so that it fails before the run instead of at the decode.
  if (vae_tile < 0 || vae_tile_overlap < 0 || (vae_tile > 0 && 2 * vae_tile_overlap > vae_tile))
    problems.push_back("invalid VAE tiling: tile " + std::to_string(vae_tile) + ", overlap " +
                       std::to_string(vae_tile_overlap) + " (need tile >= 0 and 0 <= overlap <= tile / 2)");
  for (const LoraRef& l : loras)
    if (!std::isfinite(l.strength)) problems.push_back("LoRA '" + l.path + "': strength must be a finite number");
  // img2img strength and fit, refine base size, steps, strength and filter: the pass plan's own rules.
  for (std::string& p : pass_problems(*this)) problems.push_back(std::move(p));
  return problems;
}

void require_valid(const GenerationRequest& r, const RequestLimits& limits) {
  const std::vector<std::string> problems = r.validate(limits);
  if (problems.empty()) return;
  std::string message = problems.front();
  for (std::size_t i = 1; i < problems.size(); ++i) message += "; " + problems[i];
  throw InvalidArgument(message);
}

int GenerationResult::steps_run() const {
  int n = 0;
  for (const auto& p : passes) n += p.steps_run();
  return passes.empty() ? request.steps : n;
}

namespace {
// Reads j[key] into *out when present; a value of the wrong type is an InvalidArgument naming the key.
template <typename T>
void read(const nlohmann::json& j, const char* key, T* out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InvalidArgument("generation settings: '" + where + key + "' has the wrong type (" + it->dump() + ")");
  }
}
}  // namespace

GenerationRequest GenerationRequest::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw InvalidArgument("generation settings: expected a JSON object, got " + j.dump());
  GenerationRequest r;
  read(j, "prompt", &r.prompt, "");
  read(j, "width", &r.width, "");
  read(j, "height", &r.height, "");
  read(j, "steps", &r.steps, "");
  read(j, "guidance", &r.guidance, "");
  read(j, "seed", &r.seed, "");
  if (auto it = j.find("dype"); it != j.end() && it->is_object()) {
    std::string method = method_name(r.dype.method), form = yarn_form_name(r.dype.yarn_form);
    read(*it, "method", &method, "dype.");
    read(*it, "yarn_form", &form, "dype.");
    r.dype.method = parse_method(method);
    r.dype.yarn_form = parse_yarn_form(form);
    read(*it, "dynamic", &r.dype.dynamic, "dype.");
    read(*it, "lambda_s", &r.dype.lambda_s, "dype.");
    read(*it, "lambda_t", &r.dype.lambda_t, "dype.");
    read(*it, "base_resolution", &r.dype.base_resolution, "dype.");
    read(*it, "isotropic", &r.dype.isotropic, "dype.");
  }
  std::string shift = shift_policy_name(r.shift), noise = sampling::noise_convention_name(r.noise);
  read(j, "shift", &shift, "");
  read(j, "noise", &noise, "");
  r.shift = parse_shift_policy(shift);
  r.noise = sampling::parse_noise_convention(noise);
  read(j, "shift_mu", &r.shift_mu, "");
  read(j, "base_shift", &r.base_shift, "");
  read(j, "max_shift", &r.max_shift, "");
  // "device" / "dtype" (requests written before 12-2026 named them) are not part of a request any more: a model is
  // loaded for a device and dtype (LoadOptions::target); the picture records them beside its request.
  read(j, "preview_every", &r.preview_every, "");
  read(j, "preview_vae", &r.preview_vae, "");
  read(j, "vae_tile", &r.vae_tile, "");
  read(j, "vae_tile_overlap", &r.vae_tile_overlap, "");
  read(j, "bit_depth", &r.bit_depth, "");
  if (auto it = j.find("loras"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw InvalidArgument("generation settings: 'loras' must be a list, got " + it->dump());
    for (const auto& e : *it) {
      if (!e.is_object())
        throw InvalidArgument("generation settings: a 'loras' entry must be an object, got " + e.dump());
      LoraRef l;
      read(e, "file", &l.path, "loras.");  // a bare file name when no path was recorded
      read(e, "path", &l.path, "loras.");
      read(e, "strength", &l.strength, "loras.");
      read(e, "sha256", &l.sha256, "loras.");
      r.loras.push_back(l);
    }
  }
  if (auto it = j.find("init_image"); it != j.end() && !it->is_null()) {
    if (!it->is_object())
      throw InvalidArgument("generation settings: 'init_image' must be an object, got " + it->dump());
    read(*it, "file", &r.init_image, "init_image.");
    read(*it, "path", &r.init_image, "init_image.");
    read(*it, "strength", &r.strength, "init_image.");
    read(*it, "fit", &r.init_fit, "init_image.");
    read(*it, "sha256", &r.init_image_sha256, "init_image.");
  }
  if (auto it = j.find("refine"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw InvalidArgument("generation settings: 'refine' must be an object, got " + it->dump());
    r.refine.enabled = true;
    read(*it, "base_width", &r.refine.base_width, "refine.");
    read(*it, "base_height", &r.refine.base_height, "refine.");
    read(*it, "strength", &r.refine.strength, "refine.");
    read(*it, "steps", &r.refine.steps, "refine.");
    read(*it, "upscale", &r.refine.upscale, "refine.");
  }
  return r;
}

}  // namespace dype
