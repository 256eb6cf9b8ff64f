#include "tests/support/golden.h"

#include <fstream>

#include "core/common/error.h"

namespace dype::test {

std::string golden_root() { return DYPE_GOLDEN_DIR; }
std::string source_root() { return DYPE_SOURCE_DIR; }

std::string GoldenCase::model_dir() const {
  return golden_root() + "/" + json.value("model", std::string("models/tiny-dev"));
}

GoldenCase load_case(const std::string& name) {
  GoldenCase c;
  c.dir = golden_root() + "/cases/" + name;
  std::ifstream in(c.dir + "/case.json");
  if (!in) throw IoError("golden case not found: " + c.dir);
  c.json = nlohmann::json::parse(in);
  std::ifstream probe(c.dir + "/inputs.safetensors");
  if (probe) c.inputs = io::SafetensorsFile::open(c.dir + "/inputs.safetensors");
  c.expected = io::SafetensorsFile::open(c.dir + "/expected.safetensors");
  return c;
}

double rel_l2(const at::Tensor& a, const at::Tensor& e) {
  at::Tensor ad = a.detach().to(at::kCPU, at::kDouble).reshape({-1});
  at::Tensor ed = e.detach().to(at::kCPU, at::kDouble).reshape({-1});
  if (ad.numel() != ed.numel()) return INFINITY;
  const double den = ed.norm().item<double>();
  return (ad - ed).norm().item<double>() / (den > 0 ? den : 1e-30);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& e) {
  at::Tensor ad = a.detach().to(at::kCPU, at::kDouble).reshape({-1});
  at::Tensor ed = e.detach().to(at::kCPU, at::kDouble).reshape({-1});
  if (ad.numel() != ed.numel()) return INFINITY;
  if (ad.numel() == 0) return 0;
  return (ad - ed).abs().max().item<double>();
}

}  // namespace dype::test
