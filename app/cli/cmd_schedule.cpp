// `dype schedule`: the DyPE RoPE frequencies (ω per axis and pair, mscale) at one or more DyPE times t, as CSV or
// safetensors. The same core/dype functions feed the model and the GUI plot, so this is exactly what they use.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/common/error.h"
#include "core/common/strings.h"
#include "core/dype/rope_frequencies.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "core/pipeline/passes.h"
#include "core/sampling/schedule.h"

namespace dype::cli {
namespace {

namespace fs = std::filesystem;

const char* kHelp =
    "usage: dype schedule [options] (--t T[,T...] | --steps N)\n\n"
    "Prints the DyPE RoPE frequencies as CSV: header t,axis,index,omega,mscale, one row per t, axis (0 = text,\n"
    "1 = rows, 2 = columns) and rotation pair index within the axis; numbers with 17 significant digits.\n\n"
    "  --method M           none | pi | ntk | yarn | vision-yarn            (default yarn)\n"
    "  --dynamic on|off     DyPE: strength follows kappa(t) = strength * t^exponent (default on)\n"
    "  --yarn-form F        paper (thresholds x t^exponent) | comfy (thresholds ^ kappa) (default paper)\n"
    "  --strength LS        lambda_s                                        (default 2)\n"
    "  --exponent LT        lambda_t                                        (default 2)\n"
    "  --base-resolution PX resolution the model was trained at; base grid = PX/16 tokens (default 1024)\n"
    "  --isotropic on|off   one scale (the larger axis') for both spatial axes (default off)\n"
    "  --width PX           image width                                     (default 1024)\n"
    "  --height PX          image height                                    (default 1024)\n"
    "  --t T[,T...]         DyPE time(s) = sigma in [0, 1] (1 = pure noise)\n"
    "  --steps N            instead of --t: the sigma of each of the N model evaluations of the real schedule\n"
    "  --shift S            time shift for --steps: auto | clamp | flux | none | a number mu (default auto:\n"
    "                       none for schnell, clamp = min(FLUX line, 1.15) for dev)\n"
    "  --model PATH         take theta and the rotary axes from a model (diffusers folder, transformer/config.json,\n"
    "                       or a FLUX safetensors file); default FLUX.1 geometry: theta 10000, axes 16/56/56\n"
    "  --out FILE           write safetensors (tensors t, axis, index, omega, mscale) instead of printing CSV\n"
    "  --help               this text\n\n"
    "example: dype schedule --method yarn --width 4096 --height 4096 --steps 28\n";

struct ModelRope {
  RopeGeometry geo;
  bool is_schnell = false;
};

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw IoError("cannot read " + p.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw FormatError(p.string() + " is not valid JSON: " + e.what());
  }
}

std::vector<std::int64_t> axes_from_head_dim(std::int64_t head_dim, const std::string& where) {
  if (head_dim <= 0 || head_dim % 16 != 0)
    throw ModelError(where + ": attention head dim " + std::to_string(head_dim) +
                     " is not a positive multiple of 16, so FLUX's rotary axes (head_dim x [1/8, 7/16, 7/16]) "
                     "cannot be derived");
  return {head_dim / 8, head_dim * 7 / 16, head_dim * 7 / 16};
}

// diffusers FluxTransformer2DModel config (or a BFL-style params dump).
ModelRope rope_from_config(const fs::path& p) {
  const nlohmann::json j = read_json(p);
  ModelRope m;
  try {
    if (j.contains("axes_dims_rope")) {
      m.geo.axes_dim = j.at("axes_dims_rope").get<std::vector<std::int64_t>>();
    } else if (j.contains("axes_dim")) {
      m.geo.axes_dim = j.at("axes_dim").get<std::vector<std::int64_t>>();
    } else if (j.contains("attention_head_dim")) {
      m.geo.axes_dim = axes_from_head_dim(j.at("attention_head_dim").get<std::int64_t>(), p.string());
    } else {
      throw ModelError(p.string() +
                       " has neither axes_dims_rope nor attention_head_dim: not a FLUX transformer "
                       "config");
    }
    if (j.contains("theta")) m.geo.theta = j.at("theta").get<double>();
    if (j.contains("rope_theta")) m.geo.theta = j.at("rope_theta").get<double>();
    if (j.contains("guidance_embeds")) m.is_schnell = !j.at("guidance_embeds").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(p.string() + ": unexpected value type in the transformer config (" + e.what() + ")");
  }
  return m;
}

// A FLUX checkpoint without a config: the head dim is the size of the first block's query RMSNorm scale.
ModelRope rope_from_weights(const std::string& path) {
  auto store = io::TensorStore::open(path);
  const std::vector<std::string> keys = {"double_blocks.0.img_attn.norm.query_norm.scale",
                                         "transformer_blocks.0.attn.norm_q.weight"};
  ModelRope m;
  const io::TensorInfo* norm = nullptr;
  bool guidance = false;
  for (const auto& name : store->names()) {
    for (const auto& k : keys)
      if (!norm && ends_with(name, k) && (name.size() == k.size() || name[name.size() - k.size() - 1] == '.'))
        norm = store->find(name);
    if (name.find("guidance_in.") != std::string::npos || name.find("guidance_embedder.") != std::string::npos)
      guidance = true;
  }
  if (!norm || norm->shape.size() != 1)
    throw ModelError(store->label() +
                     " has no double_blocks.0.img_attn.norm.query_norm.scale (or diffusers "
                     "transformer_blocks.0.attn.norm_q.weight) tensor: not a FLUX transformer checkpoint");
  m.geo.axes_dim = axes_from_head_dim(norm->shape[0], store->label());
  m.is_schnell = !guidance;
  return m;
}

ModelRope rope_from_model(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "model_index.json")) {
      if (!fs::exists(p / "transformer" / "config.json"))
        throw ModelError(path + " has model_index.json but no transformer/config.json");
      return rope_from_config(p / "transformer" / "config.json");
    }
    if (fs::exists(p / "config.json")) return rope_from_config(p / "config.json");
    if (fs::exists(p / "transformer" / "config.json")) return rope_from_config(p / "transformer" / "config.json");
    return rope_from_weights(path);
  }
  if (!fs::exists(p, ec)) throw IoError("model path does not exist: " + path);
  if (p.extension() == ".json" && p.filename() != "model_index.json" &&
      p.filename().string().find(".index.json") == std::string::npos)
    return rope_from_config(p);
  if (fs::exists(p.parent_path() / "config.json")) {
    const nlohmann::json j = read_json(p.parent_path() / "config.json");
    if (j.contains("axes_dims_rope") || j.contains("attention_head_dim"))
      return rope_from_config(p.parent_path() / "config.json");
  }
  return rope_from_weights(path);
}

std::vector<double> parse_t_list(const std::string& s) {
  std::vector<double> ts;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || *end != '\0')
      throw InvalidArgument("--t expects numbers in [0, 1] separated by commas, got '" + s + "'");
    if (!(v >= 0.0 && v <= 1.0)) throw InvalidArgument("--t values must be in [0, 1] (sigma), got " + item);
    ts.push_back(v);
  }
  if (ts.empty()) throw InvalidArgument("--t needs at least one value");
  return ts;
}

int int_option(const Args& args, const std::string& name, long long def, long long lo, long long hi, const char* what) {
  const long long v = args.get_int(name, def);
  if (v < lo || v > hi)
    throw InvalidArgument("--" + name + " must be " + what + " (" + std::to_string(lo) + ".." + std::to_string(hi) +
                          "), got " + std::to_string(v));
  return int(v);
}

std::string fmt17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

int cmd_schedule(int argc, char** argv) {
  const Args args(argc, argv, 2, {"help"});
  if (args.has("help")) {
    std::cout << kHelp;
    return 0;
  }
  args.allow_only({"method", "dynamic", "yarn-form", "strength", "exponent", "base-resolution", "isotropic", "width",
                   "height", "t", "steps", "shift", "model", "out", "help"});
  if (!args.positional().empty())
    throw InvalidArgument("unexpected argument '" + args.positional().front() + "' (see dype schedule --help)");

  DypeConfig cfg;
  cfg.method = parse_method(args.get_or("method", method_name(cfg.method)));
  cfg.dynamic = args.get_on_off("dynamic", cfg.dynamic);
  cfg.yarn_form = parse_yarn_form(args.get_or("yarn-form", yarn_form_name(cfg.yarn_form)));
  cfg.lambda_s = args.get_double("strength", cfg.lambda_s);
  cfg.lambda_t = args.get_double("exponent", cfg.lambda_t);
  cfg.isotropic = args.get_on_off("isotropic", cfg.isotropic);
  cfg.base_resolution = int_option(args, "base-resolution", cfg.base_resolution, 16, 1 << 20, "a size in px");
  if (cfg.base_resolution % 16 != 0)
    throw InvalidArgument("--base-resolution must be a multiple of 16 px, got " + std::to_string(cfg.base_resolution));
  if (!(cfg.lambda_s >= 0) || !std::isfinite(cfg.lambda_s))
    throw InvalidArgument("--strength must be a finite number >= 0, got " + fmt17(cfg.lambda_s));
  if (!(cfg.lambda_t >= 0) || !std::isfinite(cfg.lambda_t))
    throw InvalidArgument("--exponent must be a finite number >= 0, got " + fmt17(cfg.lambda_t));
  const int width = int_option(args, "width", 1024, 1, 1 << 20, "a positive size in px");
  const int height = int_option(args, "height", 1024, 1, 1 << 20, "a positive size in px");

  ModelRope model;
  if (auto m = args.get("model")) model = rope_from_model(*m);
  if (model.geo.axes_dim.size() != 3)
    throw ModelError("the model has " + std::to_string(model.geo.axes_dim.size()) +
                     " rotary axes; FLUX images need 3 (index, row, column)");

  std::vector<double> ts;
  if (args.has("t") == args.has("steps"))
    throw InvalidArgument("give either --t T or --steps N (see dype schedule --help)");
  if (auto t = args.get("t")) {
    if (args.has("shift")) throw InvalidArgument("--shift only applies with --steps");
    ts = parse_t_list(*t);
  } else {
    // The schedule a generation of this size would sample (the pipeline's own schedule_for, time-shift line and
    // all): the final 0 is where the last update lands, not a model evaluation.
    GenerationRequest r;
    r.width = width;
    r.height = height;
    const RequestLimits limits;  // the step range a generation accepts (GenerationRequest::validate)
    r.steps = int_option(args, "steps", 28, limits.min_steps, limits.max_steps, "a number of steps");
    r.shift = parse_shift_option(args.get_or("shift", "auto"), &r.shift_mu);
    ts = schedule_for(r, model.is_schnell).evaluations();
  }

  const std::vector<std::int64_t> extent = token_grid_extent(width, height);
  const auto per_t = rope_frequencies_over(cfg, model.geo, extent, ts);

  std::vector<double> col_t, col_omega, col_mscale;
  std::vector<std::int64_t> col_axis, col_index;
  for (std::size_t k = 0; k < ts.size(); ++k)
    for (std::size_t a = 0; a < per_t[k].size(); ++a)
      for (std::size_t j = 0; j < per_t[k][a].omega.size(); ++j) {
        col_t.push_back(ts[k]);
        col_axis.push_back(std::int64_t(a));
        col_index.push_back(std::int64_t(j));
        col_omega.push_back(per_t[k][a].omega[j]);
        col_mscale.push_back(per_t[k][a].mscale);
      }

  if (auto out = args.get("out")) {
    auto column = [](auto& v, at::ScalarType type) {
      return at::from_blob(v.data(), {std::int64_t(v.size())}, at::TensorOptions().dtype(type)).clone();
    };
    std::map<std::string, std::string> meta = {{"method", method_name(cfg.method)},
                                               {"dynamic", cfg.dynamic ? "on" : "off"},
                                               {"yarn_form", yarn_form_name(cfg.yarn_form)},
                                               {"strength", fmt17(cfg.lambda_s)},
                                               {"exponent", fmt17(cfg.lambda_t)},
                                               {"base_resolution", std::to_string(cfg.base_resolution)},
                                               {"isotropic", cfg.isotropic ? "on" : "off"},
                                               {"width", std::to_string(width)},
                                               {"height", std::to_string(height)},
                                               {"theta", fmt17(model.geo.theta)}};
    io::save_safetensors(*out,
                         {{"t", column(col_t, at::kDouble)},
                          {"axis", column(col_axis, at::kLong)},
                          {"index", column(col_index, at::kLong)},
                          {"omega", column(col_omega, at::kDouble)},
                          {"mscale", column(col_mscale, at::kDouble)}},
                         meta);
    std::cerr << "wrote " << col_t.size() << " rows (" << ts.size() << " t values) to " << *out << "\n";
    return 0;
  }

  std::string csv = "t,axis,index,omega,mscale\n";
  csv.reserve(col_t.size() * 80);
  for (std::size_t r = 0; r < col_t.size(); ++r) {
    csv += fmt17(col_t[r]);
    csv += ',';
    csv += std::to_string(col_axis[r]);
    csv += ',';
    csv += std::to_string(col_index[r]);
    csv += ',';
    csv += fmt17(col_omega[r]);
    csv += ',';
    csv += fmt17(col_mscale[r]);
    csv += '\n';
  }
  std::cout << csv;
  std::cout.flush();
  if (!std::cout) throw IoError("could not write the CSV to standard output");
  return 0;
}

}  // namespace dype::cli
