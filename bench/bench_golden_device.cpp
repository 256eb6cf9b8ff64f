// bench_golden_device: runs the golden transformer (B_transformer_*) and VAE decode (C_vae_decode_*) cases on a
// chosen device and dtype and prints rel_l2 against the expected tensors, with a pass/fail per case. The Qt test
// suite does the same on the CPU; this Qt-free program is what bench/gpu_check.sh runs on a GPU machine (no Qt
// there), in float32 and bf16.
//
// Tolerances: float32 on the CPU uses each case's own rel_l2 (1e-5); float32 on CUDA uses the case's
// `rel_l2_loose` (5e-5: cuBLAS/cuDNN reduce in other orders than the CPU kernels; TF32 is switched off here);
// bf16 uses 3e-2 (bf16 keeps 8 mantissa bits: one rounding is 2^-9 ≈ 2e-3 relative, and the blocks compound it).
//
//   bench_golden_device --golden DIR [--device cuda] [--dtype f32|bf16] [--cases B_transformer_4x4_base,...]
// Exit status: 0 when every case passes, 1 otherwise.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench/perf_common.h"
#include "core/dype/rope_frequencies.h"
#include "core/flux/loader.h"
#include "core/flux/model.h"
#include "core/io/safetensors.h"
#include "core/vae/autoencoder.h"
#include "core/vae/autoencoder_loader.h"

using namespace dype;
namespace fs = std::filesystem;

namespace {

struct CaseResult {
  std::string name;
  double rel = 0, tol = 0, ms = 0;
};

DypeConfig dype_config_of(const nlohmann::json& p) {
  DypeConfig cfg;
  const std::string method = p.value("method", "base");
  cfg.method = method == "base" ? DypeMethod::None : parse_method(method);
  cfg.dynamic = p.value("dype", false);
  const std::string form = p.value("yarn_form", "");  // yarn cases only; "static" = YaRN without DyPE
  if (form == "static") {
    cfg.dynamic = false;
  } else if (!form.empty()) {
    cfg.yarn_form = parse_yarn_form(form);
  }
  cfg.lambda_s = p.value("lambda_s", 2.0);
  cfg.lambda_t = p.value("lambda_t", 2.0);
  cfg.base_resolution = p.value("base_patches", 64) * 16;
  return cfg;
}

double tolerance_for(const nlohmann::json& tol, const at::Device& device, at::ScalarType dtype) {
  if (dtype != at::kFloat) return 3e-2;
  const double strict = tol.value("rel_l2", 1e-5);
  return device.is_cuda() ? tol.value("rel_l2_loose", 5 * strict) : strict;
}

CaseResult run_transformer(const fs::path& golden, const fs::path& dir, const nlohmann::json& meta,
                           const at::Device& device, at::ScalarType dtype) {
  const std::string name = dir.filename().string();
  const std::string file = name.find("f8") != std::string::npos ? "flux_f8_e4m3.safetensors" : "flux.safetensors";
  flux::FluxLoadOptions lo;
  lo.dtype = dtype;
  lo.device = device;
  flux::Flux model = flux::load_flux((golden / meta["model"].get<std::string>() / "comfy" / file).string(), lo);
  const auto in = io::SafetensorsFile::open((dir / "inputs.safetensors").string());
  const auto ex = io::SafetensorsFile::open((dir / "expected.safetensors").string());
  const nlohmann::json& p = meta["params"];
  const auto T = [&](const char* n) { return in->tensor(n, at::kFloat).to(device); };
  at::Tensor out;
  const auto ms = bench::time_ms(
      [&] {
        out = model->forward(T("img"), T("img_ids"), T("txt"), T("txt_ids"), T("timesteps"), T("y"), T("guidance"),
                             dype_config_of(p), p.value("dype_t", 1.0));
      },
      device, 0, 1);
  return {name, bench::rel_l2(out, ex->tensor("out", at::kFloat)),
          tolerance_for(meta["tolerance"]["out"], device, dtype), ms[0]};
}

CaseResult run_vae_decode(const fs::path& golden, const fs::path& dir, const nlohmann::json& meta,
                          const at::Device& device, at::ScalarType dtype) {
  vae::AutoEncoder ae = vae::load_autoencoder(
      (golden / meta["model"].get<std::string>() / "comfy" / "ae.safetensors").string(), dtype, device);
  const auto in = io::SafetensorsFile::open((dir / "inputs.safetensors").string());
  const auto ex = io::SafetensorsFile::open((dir / "expected.safetensors").string());
  at::Tensor img;
  const auto ms =
      bench::time_ms([&] { img = ae->decode(in->tensor("latent", at::kFloat).to(device, dtype)); }, device, 0, 1);
  return {dir.filename().string(), bench::rel_l2(img, ex->tensor("image", at::kFloat)),
          tolerance_for(meta["tolerance"]["image"], device, dtype), ms[0]};
}

int run(const bench::Options& o) {
  const fs::path golden = o.str("golden");
  if (golden.empty() || !fs::exists(golden / "cases"))
    throw InvalidArgument("--golden must name a golden folder (with cases/); got '" + golden.string() + "'");
  const at::Device device = bench::parse_device(o.str("device", "cpu"));
  const at::ScalarType dtype = bench::parse_dtype(o.str("dtype", "f32"));
  // Full float32 on the GPU: TF32 would move float32 results by ~1e-3.
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  c10::InferenceMode inference;

  std::vector<std::string> wanted;
  if (o.has("cases")) {
    std::stringstream ss(o.str("cases"));
    for (std::string c; std::getline(ss, c, ',');) wanted.push_back(c);
  } else {
    for (const auto& e : fs::directory_iterator(golden / "cases")) {
      const std::string n = e.path().filename().string();
      if (n.rfind("B_transformer_", 0) == 0 || n.rfind("C_vae_decode_", 0) == 0) wanted.push_back(n);
    }
    std::sort(wanted.begin(), wanted.end());
  }
  bool ok = true;
  double worst = 0;
  for (const std::string& name : wanted) {
    const fs::path dir = golden / "cases" / name;
    std::ifstream f(dir / "case.json");
    if (!f) throw IoError("cannot read " + (dir / "case.json").string());
    const nlohmann::json meta = nlohmann::json::parse(f);
    const std::string kind = meta.value("kind", "");
    CaseResult r;
    if (kind == "transformer_forward") {
      r = run_transformer(golden, dir, meta, device, dtype);
    } else if (kind == "vae_decode") {
      r = run_vae_decode(golden, dir, meta, device, dtype);
    } else {
      throw InvalidArgument("case " + name + " has kind '" + kind +
                            "' (this program runs transformer_forward and "
                            "vae_decode cases)");
    }
    const bool pass = r.rel <= r.tol;
    ok = ok && pass;
    worst = std::max(worst, r.rel / r.tol);
    std::printf("%-46s %s %-4s rel_l2 %.3e  tolerance %.0e  %s  (%.1f ms)\n", r.name.c_str(), device.str().c_str(),
                o.str("dtype", "f32").c_str(), r.rel, r.tol, pass ? "ok" : "FAIL", r.ms);
  }
  std::printf("GOLDEN %s %s: %s (%zu cases, worst rel_l2/tolerance %.3f)\n", device.str().c_str(),
              o.str("dtype", "f32").c_str(), ok ? "PASS" : "FAIL", wanted.size(), worst);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options o(argc, argv, {"golden", "device", "dtype", "cases"}, {});
    if (o.help()) {
      std::puts("bench_golden_device --golden DIR [--device cpu|cuda] [--dtype f32|bf16] [--cases A,B,...]");
      return 0;
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_golden_device: %s\n", e.what());
    return 1;
  }
}
