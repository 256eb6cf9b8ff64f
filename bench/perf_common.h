#pragma once
// Small helpers shared by the perf benchmarks (bench_transformer_sizes, bench_qk_norm_rope, bench_golden_device):
// `--name value` options, device/dtype names, wall-clock timing with device synchronisation, peak memory.
// Benchmarks print figures; they never assert times.
#include <ATen/ATen.h>
#include <time.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/common/system_memory.h"
#include "core/cuda/device_memory.h"

namespace dype::bench {

class Options {
 public:
  // argv[1..): `--name value` pairs and `--flag`s (names listed in `flags`). Unknown names are errors.
  Options(int argc, char** argv, const std::set<std::string>& known, const std::set<std::string>& flags) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        help_ = true;
        continue;
      }
      if (a.rfind("--", 0) != 0) throw InvalidArgument("unexpected argument '" + a + "'");
      a = a.substr(2);
      if (!known.count(a) && !flags.count(a)) throw InvalidArgument("unknown option --" + a);
      if (flags.count(a)) {
        values_[a] = "1";
      } else {
        if (i + 1 >= argc) throw InvalidArgument("option --" + a + " needs a value");
        values_[a] = argv[++i];
      }
    }
  }
  bool help() const { return help_; }
  bool has(const std::string& n) const { return values_.count(n) > 0; }
  std::string str(const std::string& n, const std::string& def = "") const {
    auto it = values_.find(n);
    return it == values_.end() ? def : it->second;
  }
  long long integer(const std::string& n, long long def) const {
    if (!has(n)) return def;
    try {
      return std::stoll(values_.at(n));
    } catch (const std::exception&) {
      throw InvalidArgument("--" + n + " expects an integer, got '" + values_.at(n) + "'");
    }
  }
  double real(const std::string& n, double def) const {
    if (!has(n)) return def;
    try {
      return std::stod(values_.at(n));
    } catch (const std::exception&) {
      throw InvalidArgument("--" + n + " expects a number, got '" + values_.at(n) + "'");
    }
  }

 private:
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

inline at::ScalarType parse_dtype(const std::string& s) {
  if (s == "f32" || s == "float32") return at::kFloat;
  if (s == "bf16" || s == "bfloat16") return at::kBFloat16;
  if (s == "f16" || s == "float16") return at::kHalf;
  throw InvalidArgument("unknown dtype '" + s + "' (f32, bf16, f16)");
}

inline at::Device parse_device(const std::string& s) {
  const at::Device d(s);  // "cpu", "cuda", "cuda:1"
  if (d.is_cuda() && !torch::cuda::is_available())
    throw InvalidArgument("device " + s + " requested but this LibTorch sees no CUDA device");
  return d;
}

inline void sync(const at::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.has_index() ? d.index() : -1);
}

// CPU time consumed by the whole process (all threads, user + system, page faults included), in ms.
inline double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

struct Timings {
  std::vector<double> wall_ms;  // elapsed, device work included
  std::vector<double> cpu_ms;   // process CPU time: on a shared machine, independent of how much of a core the
                                // scheduler gave us (with one thread it equals wall time on an idle machine)
};

// Times fn() `iters` times after `warmup` calls.
inline Timings time_both(const std::function<void()>& fn, const at::Device& d, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) fn();
  sync(d);
  Timings t;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_ms();
    fn();
    sync(d);
    t.cpu_ms.push_back(process_cpu_ms() - c0);
    t.wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return t;
}

// Wall-clock milliseconds of `iters` calls after `warmup` calls.
inline std::vector<double> time_ms(const std::function<void()>& fn, const at::Device& d, int warmup, int iters) {
  return time_both(fn, d, warmup, iters).wall_ms;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline double peak_rss_gib() { return static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0 * 1024.0); }

// Peak device memory of LibTorch's allocator (GiB), or -1 where not available (CPU, or no CUDA LibTorch).
inline double peak_device_gib(const at::Device& d) {
  if (!d.is_cuda()) return -1.0;
  const auto b = cuda::peak_device_bytes(d.has_index() ? d.index() : 0);
  return b ? static_cast<double>(*b) / (1024.0 * 1024.0 * 1024.0) : -1.0;
}

inline void reset_peak_device(const at::Device& d) {
  if (d.is_cuda()) cuda::reset_peak_device_bytes(d.has_index() ? d.index() : 0);
}

inline std::string json_list(const std::vector<double>& v) {
  std::ostringstream s;
  s << "[";
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

// max |a − e| / max |e| (the tables' "max rel diff"), in double.
inline double max_rel_diff(const at::Tensor& a, const at::Tensor& e) {
  const at::Tensor ad = a.to(at::kCPU, at::kDouble), ed = e.to(at::kCPU, at::kDouble);
  return (ad - ed).abs().max().item<double>() / ed.abs().max().item<double>();
}

inline double rel_l2(const at::Tensor& a, const at::Tensor& e) {
  const at::Tensor ad = a.to(at::kCPU, at::kDouble), ed = e.to(at::kCPU, at::kDouble);
  return (ad - ed).norm().item<double>() / ed.norm().item<double>();
}

}  // namespace dype::bench
