#pragma once
// Helpers for tests that compare against ../shared/golden (see its README for the cases and tolerances).
#include <ATen/ATen.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/io/safetensors.h"

namespace dype::test {

// Absolute path of the golden folder ("" when the build found none).
std::string golden_root();
// Absolute path of the source tree (for fixtures under tests/data).
std::string source_root();

struct GoldenCase {
  std::string dir;                                    // .../golden/cases/<name>
  nlohmann::json json;                                // case.json
  std::shared_ptr<const io::SafetensorsFile> inputs;  // null when the case has no inputs file
  std::shared_ptr<const io::SafetensorsFile> expected;
  at::Tensor input(const std::string& name) const { return inputs->tensor(name); }
  at::Tensor expect(const std::string& name) const { return expected->tensor(name); }
  // Folder of the case's model set, e.g. .../golden/models/tiny-dev
  std::string model_dir() const;
};

GoldenCase load_case(const std::string& name);

// ||a - e||_2 / ||e||_2 accumulated in double.
double rel_l2(const at::Tensor& a, const at::Tensor& e);
double max_abs_diff(const at::Tensor& a, const at::Tensor& e);

}  // namespace dype::test
