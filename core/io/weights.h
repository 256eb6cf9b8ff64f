#pragma once
// Where a model's parameters come from while it is being constructed. Modules ask for each parameter by its full
// reference name (BFL / Hugging Face key, e.g. "double_blocks.3.img_attn.qkv.weight") and shape, and register the
// returned tensor as is: a model is built directly at its final size and dtype from the checkpoint (zero-copy
// when the stored dtype is the compute dtype on CPU), never randomly initialised first and then overwritten.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/io/stored_weight.h"
#include "core/io/tensor_store.h"

namespace dype::io {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The parameter `name` with `shape`. A missing tensor or wrong shape is recorded (not thrown) and an empty
  // placeholder returned, so that finish() can report every problem at once.
  virtual at::Tensor take(const std::string& name, at::IntArrayRef shape) = 0;
  // The same parameter in the form it is kept in memory for per-layer use (large matrices: Linear and embedding
  // weights): float8 codes and scales stay as stored instead of being decoded here. Default: take().
  virtual StoredWeight take_stored(const std::string& name, at::IntArrayRef shape) { return {take(name, shape)}; }
  // Throws ModelError listing every missing, mis-shaped and unexpected tensor, with a hint at the likely cause.
  virtual void finish() = 0;
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }

 protected:
  WeightSource(at::ScalarType dtype, at::Device device) : dtype_(dtype), device_(device) {}
  at::ScalarType dtype_;
  at::Device device_;
};

// Reads parameters from a TensorStore. `resolve` maps a reference name to the stored weight (for layouts that
// rename, split or concatenate tensors, e.g. diffusers q/k/v -> BFL qkv; read parts with read_stored_weight);
// by default the name is looked up as is, after stripping `prefix`. ComfyUI scaled-fp8 scales are read with their
// weights (weight_quantization.h; the file's quantisation is checked when the source is made).
// `keep_storage_dtype`: weights narrower than `dtype` (bf16, f16, float8 — float8 as raw codes on a LibTorch
// without float8 types — with their scales) stay as stored, memory-mapped, and become `dtype` per layer at use;
// otherwise every weight is converted to `dtype` (and moved to `device`) here.
class CheckpointWeights : public WeightSource {
 public:
  using Resolver = std::function<StoredWeight(const TensorStore& store, const std::string& name,
                                              std::vector<std::string>& consumed)>;
  CheckpointWeights(std::shared_ptr<const TensorStore> store, std::string component, at::ScalarType dtype,
                    at::Device device, std::string prefix = "", Resolver resolve = nullptr,
                    bool keep_storage_dtype = false);
  at::Tensor take(const std::string& name, at::IntArrayRef shape) override;
  StoredWeight take_stored(const std::string& name, at::IntArrayRef shape) override;
  void finish() override;
  // Stored names that are not parameters of the model but are known and harmless (ignored by finish()).
  void ignore_unexpected(std::function<bool(const std::string&)> pred) { ignore_ = std::move(pred); }
  const TensorStore& store() const { return *store_; }

 private:
  std::shared_ptr<const TensorStore> store_;
  std::string component_, prefix_;
  Resolver resolve_;
  bool keep_storage_dtype_;
  std::set<std::string> consumed_;
  std::vector<std::string> missing_, mismatched_;
  std::function<bool(const std::string&)> ignore_;
};

// Deterministic random parameters for the built-in demo model and benchmarks: normal(0, std) with std chosen by
// `std_for(name, shape)` (default: 1/sqrt(fan_in) for matrices, 0 for biases, 1 for norm scales). Created
// directly at the final dtype and device.
class RandomWeights : public WeightSource {
 public:
  using StdFn = std::function<double(const std::string& name, at::IntArrayRef shape)>;
  RandomWeights(std::uint64_t seed, at::ScalarType dtype, at::Device device, StdFn std_for = nullptr);
  at::Tensor take(const std::string& name, at::IntArrayRef shape) override;
  void finish() override {}

 private:
  std::uint64_t seed_;
  StdFn std_for_;
};

}  // namespace dype::io
