#pragma once
// Precompiled header shared by all targets: the heavy LibTorch headers and the standard library.
// Keep it narrow: <torch/torch.h> costs twice as much to parse as what we actually use.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>
