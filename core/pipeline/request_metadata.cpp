#include "core/pipeline/request_metadata.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/common/error.h"
#include "core/image/png_metadata.h"

namespace dype {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// A1111 quotes a value that contains a separator, as a JSON string.
std::string quote_if_needed(const std::string& v) {
  if (v.find_first_of(",:\n\"") == std::string::npos) return v;
  return nlohmann::json(v).dump();
}

std::string dype_entry(const DypeConfig& d) {
  std::string s;
  if (d.method == DypeMethod::None) return "off";
  if (d.dynamic) {
    s = std::string(method_name(d.method)) + " λs=" + num(d.lambda_s) + " λt=" + num(d.lambda_t);
  } else {
    s = std::string("off (static ") + method_name(d.method) + ")";
  }
  return s + " base=" + std::to_string(d.base_resolution);
}

}  // namespace

std::string a1111_parameters(const GenerationResult& result, const std::string& version) {
  const GenerationRequest& r = result.request;
  const std::string& model_label = result.model_label;
  const bool shifted = result.shifted;
  const double mu = result.mu;
  std::ostringstream os;
  os << r.prompt << "\n";
  os << "Steps: " << r.steps
     << ", Sampler: Euler, Schedule type: Simple, CFG scale: 1, Distilled CFG Scale: " << num(r.guidance)
     << ", Seed: " << r.seed << ", Size: " << r.width << "x" << r.height << ", Model: " << quote_if_needed(model_label)
     << ", DyPE: " << dype_entry(r.dype);
  if (r.dype.dynamic && (r.dype.method == DypeMethod::YaRN))
    os << ", DyPE YaRN form: " << yarn_form_name(r.dype.yarn_form);
  os << ", Shift: " << shift_policy_name(r.shift);
  if (shifted) os << ", Shift mu: " << num(mu);
  if (!r.loras.empty()) {
    // Civitai's form: the file stem and the first 12 hex digits of the file's SHA-256; strengths beside it.
    std::string hashes, strengths;
    for (const auto& l : r.loras) {
      const std::string stem = std::filesystem::path(l.path).stem().string();
      hashes += (hashes.empty() ? "" : ", ") + stem + ": " + l.sha256.substr(0, 12);
      strengths += (strengths.empty() ? "" : ", ") + stem + ": " + num(l.strength);
    }
    os << ", Lora hashes: " << nlohmann::json(hashes).dump()
       << ", Lora strengths: " << nlohmann::json(strengths).dump();
  }
  // A1111's names for img2img and hires fix (its "Hires upscale" is a factor; ours a size, given as such).
  if (!r.init_image.empty()) os << ", Denoising strength: " << num(r.strength);
  if (r.refine.enabled) {
    os << ", Hires resize: " << r.width << "x" << r.height
       << ", Hires steps: " << (r.refine.steps ? r.refine.steps : r.steps)
       << ", Hires denoising strength: " << num(r.refine.strength) << ", Hires upscaler: " << r.refine.upscale
       << ", First pass size: "
       << (r.refine.base_width ? std::to_string(r.refine.base_width) + "x" + std::to_string(r.refine.base_height)
                               : std::string("auto"));
  }
  os << ", Noise: " << sampling::noise_convention_name(r.noise) << ", Dtype: " << result.target.dtype
     << ", Version: " << quote_if_needed("DyPE Studio " + version);
  return os.str();
}

std::vector<image::PngText> png_metadata(const GenerationResult& result, const std::string& version) {
  nlohmann::json j = {
      {"app", "DyPE Studio"},
      {"version", version},
      {"model", result.model_label},
      {"request", result.request.to_json()},
      {"compute", {{"device", result.target.device}, {"dtype", result.target.dtype}}},
      {"shifted", result.shifted},
      {"sigmas", result.sigmas},
      {"timings_s",
       {{"encode", result.seconds_encode}, {"denoise", result.seconds_denoise}, {"decode", result.seconds_decode}}},
  };
  if (result.shifted) j["mu"] = result.mu;
  if (result.passes.size() > 1 || (!result.passes.empty() && result.passes.front().start_index > 0)) {
    // img2img / refine: each pass as it ran (size, the schedule slice, timings).
    nlohmann::json passes = nlohmann::json::array();
    for (const auto& p : result.passes) {
      nlohmann::json e = {{"width", p.width},
                          {"height", p.height},
                          {"steps", p.steps},
                          {"start_index", p.start_index},
                          {"strength", p.strength},
                          {"sigmas", p.sigmas},
                          {"shifted", p.shifted},
                          {"timings_s",
                           {{"prepare", p.seconds_prepare},
                            {"encode_image", p.seconds_encode_image},
                            {"denoise", p.seconds_denoise},
                            {"decode", p.seconds_decode}}}};
      if (p.shifted) e["mu"] = p.mu;
      passes.push_back(e);
    }
    j["passes"] = passes;
  }
  return {
      {"parameters", a1111_parameters(result, version)},
      {kPngJsonKey, j.dump()},
      {"Software", "DyPE Studio " + version},
  };
}

void export_png(const std::string& path, const GenerationResult& result, int bit_depth, const std::string& version) {
  image::write_png(path, result.image, bit_depth, png_metadata(result, version));
}

namespace {

// "Key: value, Key: "quoted, value", ..." -> map (A1111's generation-parameters line).
std::map<std::string, std::string> parse_a1111_line(const std::string& line) {
  std::map<std::string, std::string> kv;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
    const std::size_t colon = line.find(':', i);
    if (colon == std::string::npos) break;
    std::string key = line.substr(i, colon - i);
    i = colon + 1;
    while (i < line.size() && line[i] == ' ') ++i;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      std::size_t j = i + 1;
      while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
      try {
        value = nlohmann::json::parse(line.substr(i, j + 1 - i)).get<std::string>();
      } catch (const nlohmann::json::exception&) {
        value = line.substr(i + 1, j - i - 1);
      }
      i = j + 1;
    } else {
      const std::size_t comma = line.find(',', i);
      value = line.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
      i = comma == std::string::npos ? line.size() : comma + 1;
    }
    while (!value.empty() && value.back() == ' ') value.pop_back();
    kv[key] = value;
  }
  return kv;
}

GenerationRequest request_from_a1111(const std::string& text) {
  // The parameter line is the last line that has "Steps: "; the prompt is everything before it (up to a
  // "Negative prompt:" line, which FLUX does not use).
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  int params_line = -1;
  for (int k = static_cast<int>(lines.size()) - 1; k >= 0; --k)
    if (lines[k].find("Steps: ") != std::string::npos) {
      params_line = k;
      break;
    }
  if (params_line < 0) throw FormatError("image metadata: the 'parameters' text has no 'Steps:' line");
  GenerationRequest r;
  std::string prompt;
  for (int k = 0; k < params_line; ++k) {
    if (lines[k].rfind("Negative prompt:", 0) == 0) break;
    prompt += (k ? "\n" : "") + lines[k];
  }
  r.prompt = prompt;
  const auto kv = parse_a1111_line(lines[params_line]);
  auto get = [&kv](const char* key) -> const std::string* {
    auto it = kv.find(key);
    return it == kv.end() ? nullptr : &it->second;
  };
  try {
    if (auto v = get("Steps")) r.steps = std::stoi(*v);
    if (auto v = get("Seed")) r.seed = std::stoull(*v);
    if (auto v = get("Distilled CFG Scale"))
      r.guidance = std::stod(*v);
    else if (auto v2 = get("CFG scale"))
      r.guidance = std::stod(*v2);
    if (auto v = get("Size")) {
      const auto x = v->find('x');
      if (x == std::string::npos) throw std::invalid_argument("size");
      r.width = std::stoi(v->substr(0, x));
      r.height = std::stoi(v->substr(x + 1));
    }
  } catch (const std::exception&) {
    throw FormatError("image metadata: cannot read the A1111 parameter line '" + lines[params_line] + "'");
  }
  return r;
}

}  // namespace

GenerationRequest request_from_png_text(const std::map<std::string, std::string>& text) {
  if (auto it = text.find(kPngJsonKey); it != text.end()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(std::string("image metadata: the '") + kPngJsonKey + "' chunk is not valid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("request"))
      throw FormatError(std::string("image metadata: the '") + kPngJsonKey + "' chunk has no 'request'");
    try {
      return GenerationRequest::from_json(j["request"]);
    } catch (const InvalidArgument& e) {
      throw FormatError(std::string("image metadata: ") + e.what());
    }
  }
  if (auto it = text.find("parameters"); it != text.end()) return request_from_a1111(it->second);
  throw FormatError("the image carries no generation settings (neither a 'dype_studio' nor a 'parameters' chunk)");
}

std::vector<std::string> missing_lora_files(const GenerationRequest& request) {
  std::vector<std::string> missing;
  std::error_code ec;
  for (const auto& l : request.loras)
    if (!std::filesystem::is_regular_file(l.path, ec)) missing.push_back(l.path);
  return missing;
}

GenerationRequest read_request_from_png(const std::string& path) {
  const image::PngInfo info = image::read_png_info(path);
  try {
    return request_from_png_text(info.text);
  } catch (const FormatError& e) {
    throw FormatError("'" + path + "': " + e.what());
  }
}

}  // namespace dype
