#include "core/pipeline/generation_request.h"

#include <filesystem>

#include "core/common/error.h"

namespace dype {

const char* shift_policy_name(ShiftPolicy p) {
  switch (p) {
    case ShiftPolicy::Auto: return "auto";
    case ShiftPolicy::Clamp: return "clamp";
    case ShiftPolicy::Flux: return "flux";
    case ShiftPolicy::None: return "none";
    case ShiftPolicy::Fixed: return "fixed";
  }
  return "auto";
}

const char* noise_mode_name(NoiseMode m) { return m == NoiseMode::Bfl ? "bfl" : "comfy"; }

ShiftPolicy parse_shift_policy(const std::string& name) {
  for (ShiftPolicy p : {ShiftPolicy::Auto, ShiftPolicy::Clamp, ShiftPolicy::Flux, ShiftPolicy::None, ShiftPolicy::Fixed})
    if (name == shift_policy_name(p)) return p;
  throw InvalidArgument("unknown shift policy '" + name + "' (valid: auto, clamp, flux, none, fixed)");
}

NoiseMode parse_noise_mode(const std::string& name) {
  if (name == "comfy") return NoiseMode::Comfy;
  if (name == "bfl") return NoiseMode::Bfl;
  throw InvalidArgument("unknown noise mode '" + name + "' (valid: comfy, bfl)");
}

nlohmann::json GenerationRequest::to_json() const {
  nlohmann::json d = {
      {"method", method_name(dype.method)},
      {"dynamic", dype.dynamic},
      {"yarn_form", yarn_form_name(dype.yarn_form)},
      {"lambda_s", dype.lambda_s},
      {"lambda_t", dype.lambda_t},
      {"base_resolution", dype.base_resolution},
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
      {"noise", noise_mode_name(noise)},
      {"device", device},
      {"dtype", dtype},
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
    j["refine"] = {{"base_width", refine.base_width}, {"base_height", refine.base_height},
                   {"strength", refine.strength},     {"steps", refine.steps},
                   {"upscale", refine.upscale}};
  }
  return j;
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
  std::string shift = shift_policy_name(r.shift), noise = noise_mode_name(r.noise);
  read(j, "shift", &shift, "");
  read(j, "noise", &noise, "");
  r.shift = parse_shift_policy(shift);
  r.noise = parse_noise_mode(noise);
  read(j, "shift_mu", &r.shift_mu, "");
  read(j, "base_shift", &r.base_shift, "");
  read(j, "max_shift", &r.max_shift, "");
  read(j, "device", &r.device, "");
  read(j, "dtype", &r.dtype, "");
  read(j, "preview_every", &r.preview_every, "");
  read(j, "preview_vae", &r.preview_vae, "");
  read(j, "vae_tile", &r.vae_tile, "");
  read(j, "vae_tile_overlap", &r.vae_tile_overlap, "");
  read(j, "bit_depth", &r.bit_depth, "");
  if (auto it = j.find("loras"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw InvalidArgument("generation settings: 'loras' must be a list, got " + it->dump());
    for (const auto& e : *it) {
      if (!e.is_object()) throw InvalidArgument("generation settings: a 'loras' entry must be an object, got " + e.dump());
      LoraRef l;
      read(e, "file", &l.path, "loras.");  // a bare file name when no path was recorded
      read(e, "path", &l.path, "loras.");
      read(e, "strength", &l.strength, "loras.");
      read(e, "sha256", &l.sha256, "loras.");
      r.loras.push_back(l);
    }
  }
  if (auto it = j.find("init_image"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw InvalidArgument("generation settings: 'init_image' must be an object, got " + it->dump());
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
