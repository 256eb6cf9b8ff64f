#include "core/io/weights.h"

#include <sstream>

#include "core/common/error.h"
#include "core/common/format.h"
#include "core/io/weight_quantization.h"

namespace dype::io {

namespace {
// FNV-1a: a stable per-parameter seed, so a demo model does not depend on construction order.
std::uint64_t hash_name(const std::string& s, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

CheckpointWeights::CheckpointWeights(std::shared_ptr<const TensorStore> store, std::string component,
                                     at::ScalarType dtype, at::Device device, std::string prefix, Resolver resolve,
                                     bool keep_storage_dtype)
    : WeightSource(dtype, device),
      store_(std::move(store)),
      component_(std::move(component)),
      prefix_(std::move(prefix)),
      resolve_(std::move(resolve)),
      keep_storage_dtype_(keep_storage_dtype) {
  check_quantization(*store_, prefix_);  // refuse quantisation schemes we would misread, before any weight is used
}

StoredWeight CheckpointWeights::take_stored(const std::string& name, at::IntArrayRef shape) {
  StoredWeight w;
  std::vector<std::string> consumed;
  if (resolve_) {
    w = resolve_(*store_, name, consumed);
  } else if (store_->contains(prefix_ + name)) {
    w = read_stored_weight(*store_, prefix_ + name, consumed);
  }
  for (auto& c : consumed) consumed_.insert(c);
  auto placeholder = [this] { return StoredWeight{at::empty({0}, at::TensorOptions().dtype(dtype_))}; };
  if (!w.defined()) {
    missing_.push_back(name + " " + shape_str(shape));
    return placeholder();
  }
  if (w.data.sizes() != shape) {
    mismatched_.push_back(name + ": checkpoint has " + shape_str(w.data.sizes()) + ", model expects " +
                          shape_str(shape));
    return placeholder();
  }
  if (!w.codes && !at::isFloatingType(w.data.scalar_type())) {
    mismatched_.push_back(name + ": stored as " + std::string(c10::toString(w.data.scalar_type())) +
                          ", which is not a floating-point type (an integer-quantised file?)");
    return placeholder();
  }
  // Keep compact storage (bf16 / fp16 / float8 codes, scaled or not) when asked; the layer converts per use.
  const std::size_t stored_size = w.codes ? 1 : at::elementSize(w.data.scalar_type());
  if (keep_storage_dtype_ && stored_size < at::elementSize(dtype_)) {
    if (w.data.device() != device_) w.data = w.data.to(device_);
    return w;
  }
  return StoredWeight{w.to(dtype_, device_)};  // no copy when dtype and device already match (mmap view)
}

at::Tensor CheckpointWeights::take(const std::string& name, at::IntArrayRef shape) {
  StoredWeight w = take_stored(name, shape);
  if (!w.codes && !w.scale.defined()) return w.data;
  // Float8 codes and scaled weights have no plain-tensor form: decode now. Float8 codes hold exactly in bf16, so
  // compact storage keeps them at 2 bytes; a scale makes the product a compute-dtype value.
  const bool bf16_exact = keep_storage_dtype_ && !w.scale.defined() && at::elementSize(dtype_) > 2;
  return w.to(bf16_exact ? at::kBFloat16 : dtype_, device_);
}

void CheckpointWeights::finish() {
  std::vector<std::string> unexpected;
  for (const auto& n : store_->names()) {
    if (consumed_.count(n)) continue;
    if (!prefix_.empty() && n.rfind(prefix_, 0) != 0) continue;  // other components in the same file
    if (ignore_ && ignore_(n)) continue;
    if (is_quantization_aux(n)) continue;  // activation scales and format descriptions: no parameter uses them
    unexpected.push_back(n);
  }
  if (missing_.empty() && mismatched_.empty() && unexpected.empty()) return;
  std::ostringstream os;
  os << component_ << " checkpoint '" << store_->label() << "' does not match the model:";
  auto list = [&os](const char* what, const std::vector<std::string>& v) {
    if (v.empty()) return;
    os << "\n  " << v.size() << " " << what << ":";
    for (std::size_t i = 0; i < v.size() && i < 12; ++i) os << "\n    " << v[i];
    if (v.size() > 12) os << "\n    ... and " << (v.size() - 12) << " more";
  };
  list("missing", missing_);
  list("with the wrong shape", mismatched_);
  list("unexpected", unexpected);
  os << "\n  Likely cause: ";
  if (!mismatched_.empty())
    os << "a different model variant or size (e.g. schnell vs dev, or another architecture) than this file holds.";
  else if (!missing_.empty() && consumed_.empty())
    os << "this is not a " << component_ << " checkpoint (wrong file?).";
  else if (!missing_.empty())
    os << "an incomplete download or a missing shard.";
  else
    os << "a checkpoint for a different model variant (extra layers).";
  throw ModelError(os.str());
}

RandomWeights::RandomWeights(std::uint64_t seed, at::ScalarType dtype, at::Device device, StdFn std_for)
    : WeightSource(dtype, device), seed_(seed), std_for_(std::move(std_for)) {}

at::Tensor RandomWeights::take(const std::string& name, at::IntArrayRef shape) {
  double std = 0;
  if (std_for_) {
    std = std_for_(name, shape);
  } else if (shape.size() >= 2) {
    std::int64_t fan_in = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    std = 1.0 / std::sqrt(static_cast<double>(fan_in));
  } else {
    const bool is_scale = name.find("scale") != std::string::npos || name.find("norm") != std::string::npos;
    if (is_scale && name.find("bias") == std::string::npos)
      return at::ones(shape, at::TensorOptions().dtype(dtype_).device(device_));
    std = 0;
  }
  if (std == 0) return at::zeros(shape, at::TensorOptions().dtype(dtype_).device(device_));
  auto gen = at::detail::createCPUGenerator(hash_name(name, seed_));
  at::Tensor t = at::normal(0.0, std, shape, gen, at::TensorOptions().dtype(at::kFloat));
  return t.to(device_, dtype_);
}

}  // namespace dype::io
