#pragma once
// Architecture facts read off a component's tensor shapes (never from a config file), for `dype info` and for
// cross-checking a diffusers config.json against the weights it sits beside: a config that disagrees with its
// weights is the usual sign of a mixed-up download, and the numbers say which side is wrong.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/io/checkpoint_kind.h"
#include "core/io/tensor_store.h"

namespace dype::io {

// e.g. {"hidden_size", "128"}, {"depth", "2"}, {"variant", "dev (guidance embedding present)"}.
struct ComponentHints {
  std::vector<std::pair<std::string, std::string>> items;  // in display order
  std::map<std::string, std::int64_t> numbers;             // the numeric items, for comparison with config.json
};
ComponentHints infer_hints(const TensorStore& store, const ComponentGuess& guess);

// Compares a diffusers config.json with hints inferred from the weights; one line per disagreement
// ("config.json num_layers = 19, weights have 2 double blocks"). Throws FormatError for an unreadable config.
std::vector<std::string> check_config(const std::string& config_path, ComponentKind kind, const ComponentHints& hints);

}  // namespace dype::io
