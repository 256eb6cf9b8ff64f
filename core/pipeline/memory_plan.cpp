#include "core/pipeline/memory_plan.h"

#include "core/common/cpu_allocator.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/common/error.h"

namespace dype {

std::string format_bytes(std::uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof(buf), "%.1f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(buf, sizeof(buf), "%.0f MiB", b / (1024.0 * 1024));
  else
    std::snprintf(buf, sizeof(buf), "%.0f KiB", b / 1024.0);
  return buf;
}

std::uint64_t transformer_activation_bytes(const MemoryPlanInput& in, std::int64_t tokens) {
  const auto e = static_cast<std::uint64_t>(in.compute_element_size);
  const auto L = static_cast<std::uint64_t>(tokens);
  const auto H = static_cast<std::uint64_t>(in.hidden_size);
  const auto M = static_cast<std::uint64_t>(in.mlp_hidden);
  // Single-stream block (the larger of the two): the residual stream, modulated input, linear1's output
  // (3H + M), q/k/v after norm and RoPE (3H), the attention output (H), gelu(mlp) (M), the concatenation
  // (H + M) and linear2's output (H), with the temporaries LibTorch keeps alive between them.
  const std::uint64_t block = L * e * (H + H + (3 * H + M) + 3 * H + H + M + (H + M) + H);
  // RoPE table [L, D/2, 2, 2] float32 and rotated q/k copies in float32 for narrow dtypes.
  const std::uint64_t pe = L * static_cast<std::uint64_t>(in.head_dim) * 2 * 4;
  const std::uint64_t rope_tmp = in.compute_element_size < 4 ? L * H * 2 * 4 : 0;
  std::uint64_t attn = 0;
  if (in.attention_materialises_scores) {
    // One chunk of scores and its softmax, but never more than the full L×L matrices.
    const std::uint64_t full = L * L * static_cast<std::uint64_t>(in.num_heads) * 4 * 2;
    attn = std::min<std::uint64_t>(full, static_cast<std::uint64_t>(in.attention_chunk_bytes) * 2);
  }
  return block + pe + rope_tmp + attn;
}

MemoryEstimate plan_memory(const MemoryPlanInput& in, std::uint64_t available_bytes) {
  MemoryEstimate m;
  const std::int64_t img_tokens = ((in.height + 15) / 16) * static_cast<std::int64_t>((in.width + 15) / 16);
  const std::int64_t tokens = img_tokens + in.txt_tokens;
  m.weights_bytes = in.weight_bytes;
  m.activations_bytes = transformer_activation_bytes(in, tokens);
  // The decode writes into a float32 [3, H, W] image on the CPU; the 8-bit (and 16-bit) copies follow.
  const std::uint64_t px = static_cast<std::uint64_t>(in.width) * static_cast<std::uint64_t>(in.height);
  const std::uint64_t image_bytes = px * 3 * 4 + px * 3 + (in.keep_16bit ? px * 3 * 2 : 0);
  m.decode_bytes = in.decode_bytes + (in.device.is_cpu() ? image_bytes : 0);
  m.peak_bytes = m.weights_bytes + std::max(m.activations_bytes, m.decode_bytes);
  m.available_bytes = available_bytes;
  if (available_bytes == 0) {
    m.fits = true;
    m.advice = "free memory of the " + std::string(in.device.is_cpu() ? "CPU" : "device") +
               " is unknown; the run needs about " + format_bytes(m.peak_bytes);
    return m;
  }
  // Weights are already resident when a loaded pipeline plans a request: they count against the device's total,
  // but `available_bytes` was measured after loading, so only the working set must fit in what is free.
  const std::uint64_t working = m.peak_bytes - m.weights_bytes;
  const std::uint64_t usable = available_bytes / 20 * 19;  // keep 5 % for the allocator and everything else
  m.fits = working <= usable;
  if (m.fits) return m;

  std::ostringstream os;
  os << "a " << in.width << "x" << in.height << " image needs about " << format_bytes(working) << " of working memory ("
     << "transformer activations " << format_bytes(m.activations_bytes) << ", VAE decode " << format_bytes(m.decode_bytes)
     << ") on the " << (in.device.is_cpu() ? "CPU" : in.device.str()) << ", which has " << format_bytes(available_bytes)
     << " free. ";
  if (m.activations_bytes >= m.decode_bytes) {
    // Activations grow linearly with the token count (attention is chunked): scale the side accordingly.
    const double ratio = static_cast<double>(usable) / static_cast<double>(working);
    const int side = static_cast<int>(std::floor(std::sqrt(static_cast<double>(px) * std::max(0.0, ratio)) / 16.0)) * 16;
    if (side >= 16)
      os << "Try a smaller size (about " << side << "x" << side << " or the same number of pixels)";
    else
      os << "Free memory (close other programs) or use a machine with more memory";
    if (in.compute_element_size >= 4 && !in.device.is_cpu()) os << ", or --dtype bfloat16";
    os << ".";
  } else {
    os << "Decode with smaller VAE tiles (vae_tile, e.g. 64 latent pixels), or generate a smaller image.";
  }
  m.advice = os.str();
  return m;
}

void tune_allocator_for_large_tensors() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  install_cpu_caching_allocator();
}

std::uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream ls(line.substr(6));
      std::uint64_t kib = 0;
      ls >> kib;
      return kib * 1024;
    }
  return 0;
}

namespace {
std::uint64_t cpu_available() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream ls(line.substr(13));
      std::uint64_t kib = 0;
      ls >> kib;
      return kib * 1024;
    }
  return 0;
}

// cudaMemGetInfo from the CUDA runtime that a CUDA LibTorch has already loaded into the process (RTLD_NOLOAD:
// never loads a library of its own). A CPU-only build simply finds none.
std::uint64_t cuda_free(int index) {
  using GetInfo = int (*)(std::size_t*, std::size_t*);
  using GetDevice = int (*)(int*);
  using SetDevice = int (*)(int);
  for (const char* lib : {"libcudart.so.12", "libcudart.so.11.0", "libcudart.so"}) {
    void* h = ::dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    auto get_info = reinterpret_cast<GetInfo>(::dlsym(h, "cudaMemGetInfo"));
    auto get_device = reinterpret_cast<GetDevice>(::dlsym(h, "cudaGetDevice"));
    auto set_device = reinterpret_cast<SetDevice>(::dlsym(h, "cudaSetDevice"));
    std::uint64_t result = 0;
    if (get_info && get_device && set_device) {
      int previous = 0;
      if (get_device(&previous) == 0 && set_device(index) == 0) {
        std::size_t free_b = 0, total_b = 0;
        if (get_info(&free_b, &total_b) == 0) result = free_b;
        set_device(previous);
      }
    }
    ::dlclose(h);
    if (result) return result;
  }
  return 0;
}
}  // namespace

std::vector<DeviceInfo> list_devices(bool* cuda_usable) {
  std::vector<DeviceInfo> out;
  DeviceInfo cpu;
  cpu.id = "cpu";
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("model name", 0) == 0) {
        cpu.name = line.substr(line.find(':') + 2);
        break;
      }
    std::ifstream mi("/proc/meminfo");
    while (std::getline(mi, line))
      if (line.rfind("MemTotal:", 0) == 0) cpu.total_bytes = std::stoull(line.substr(9)) * 1024;
  }
  cpu.name += (cpu.name.empty() ? "" : " ") + std::string("(") + std::to_string(std::thread::hardware_concurrency()) +
              " threads)";
  cpu.free_bytes = cpu_available();
  out.push_back(cpu);
  if (cuda_usable) *cuda_usable = at::hasCUDA();
  // The driver API has kept these entry points' signatures since CUDA 3.2; no CUDA header is needed.
  void* h = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!h) return out;
  using Init = int (*)(unsigned);
  using Count = int (*)(int*);
  using Get = int (*)(int*, int);
  using Name = int (*)(char*, int, int);
  using Mem = int (*)(std::size_t*, int);
  auto init = reinterpret_cast<Init>(::dlsym(h, "cuInit"));
  auto count = reinterpret_cast<Count>(::dlsym(h, "cuDeviceGetCount"));
  auto get = reinterpret_cast<Get>(::dlsym(h, "cuDeviceGet"));
  auto name = reinterpret_cast<Name>(::dlsym(h, "cuDeviceGetName"));
  auto mem = reinterpret_cast<Mem>(::dlsym(h, "cuDeviceTotalMem_v2"));
  int n = 0;
  if (init && count && get && name && mem && init(0) == 0 && count(&n) == 0)
    for (int i = 0; i < n; ++i) {
      int dev = 0;
      char buf[256] = {};
      std::size_t total = 0;
      if (get(&dev, i) != 0 || name(buf, sizeof(buf) - 1, dev) != 0) continue;
      mem(&total, dev);
      DeviceInfo g;
      g.id = "cuda:" + std::to_string(i);
      g.name = buf;
      g.total_bytes = total;
      g.free_bytes = at::hasCUDA() ? cuda_free(i) : 0;
      out.push_back(g);
    }
  ::dlclose(h);
  return out;
}

std::uint64_t available_memory_bytes(const at::Device& device) {
  if (device.is_cpu()) return cpu_available();
  if (device.is_cuda()) return cuda_free(device.has_index() ? device.index() : 0);
  return 0;
}

}  // namespace dype
