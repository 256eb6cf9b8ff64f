#include "core/common/system_memory.h"

#include <dlfcn.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace dype {

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
