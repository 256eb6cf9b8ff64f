#include "core/common/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/common/error.h"

namespace dype {

namespace {

constexpr std::size_t kLargeBlock = std::size_t(1) << 20;  // smaller requests go to the previous allocator
constexpr std::size_t kHugePage = std::size_t(2) << 20;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// A fresh anonymous mapping of `size` bytes (a multiple of 2 MiB), 2 MiB-aligned so that the kernel can back it
// with transparent huge pages, which are requested. nullptr when the system refuses.
void* map_block(std::size_t size) {
  const std::size_t len = size + kHugePage;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (a + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > a) munmap(p, aligned - a);
  const std::uintptr_t end = a + len, used_end = aligned + size;
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
  return reinterpret_cast<void*>(aligned);
}

struct State {
  std::mutex mutex;
  std::multimap<std::size_t, void*> cached;     // free blocks by size
  std::unordered_map<void*, std::size_t> live;  // handed-out blocks and their sizes
  std::int64_t limit = 0;                       // in_use + cached stays under this when it can
  CpuAllocatorStats stats;
  c10::Allocator* small = nullptr;

  // Unmaps the largest cached blocks while the footprint with `extra` more bytes would exceed the limit.
  void trim(std::int64_t extra) {
    while (!cached.empty() && stats.in_use_bytes + stats.cached_bytes + extra > limit) {
      auto it = std::prev(cached.end());
      munmap(it->second, it->first);
      stats.cached_bytes -= static_cast<std::int64_t>(it->first);
      cached.erase(it);
    }
  }
  void release_all() {
    for (const auto& [size, p] : cached) munmap(p, size);
    cached.clear();
    stats.cached_bytes = 0;
  }
};

State* g_state = nullptr;  // created once, never destroyed: tensors may outlive static destruction order
std::mutex g_install_mutex;

// The deleter of every block this allocator hands out, also its raw_deleter(): large blocks go back to the cache;
// anything else came from the previous allocator (small requests, which raw_allocate() users free through us too).
void free_block(void* p) {
  State& s = *g_state;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    const auto it = s.live.find(p);
    if (it != s.live.end()) {
      const std::size_t size = it->second;
      s.live.erase(it);
      s.stats.in_use_bytes -= static_cast<std::int64_t>(size);
      s.cached.emplace(size, p);
      s.stats.cached_bytes += static_cast<std::int64_t>(size);
      s.trim(0);
      return;
    }
  }
  const c10::DeleterFnPtr small_free = s.small->raw_deleter();
  TORCH_INTERNAL_ASSERT(small_free != nullptr, "previous CPU allocator has no raw deleter");
  small_free(p);
}

c10::DataPtr allocate_large(std::size_t n) {
  State& s = *g_state;
  const std::size_t size = round_up(n, kHugePage);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    // Best fit among cached blocks up to 25% larger (the same shapes recur every block and every step).
    const auto it = s.cached.lower_bound(size);
    if (it != s.cached.end() && it->first <= size + size / 4) {
      void* p = it->second;
      const std::size_t got = it->first;
      s.cached.erase(it);
      s.stats.cached_bytes -= static_cast<std::int64_t>(got);
      s.stats.in_use_bytes += static_cast<std::int64_t>(got);
      s.live.emplace(p, got);
      ++s.stats.reused;
      return c10::DataPtr(p, p, &free_block, c10::Device(c10::DeviceType::CPU));
    }
    s.trim(static_cast<std::int64_t>(size));
  }
  void* p = map_block(size);
  if (!p) {
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.release_all();
    }
    p = map_block(size);
  }
  if (!p)
    throw ResourceError("out of memory: cannot allocate " + std::to_string(static_cast<double>(n) / (1 << 30)) +
                        " GiB on the CPU (lower the resolution, enable tiling, or free memory)");
  std::lock_guard<std::mutex> lock(s.mutex);
  s.live.emplace(p, size);
  s.stats.in_use_bytes += static_cast<std::int64_t>(size);
  s.stats.peak_bytes = std::max(s.stats.peak_bytes, s.stats.in_use_bytes + s.stats.cached_bytes);
  ++s.stats.mapped;
  return c10::DataPtr(p, p, &free_block, c10::Device(c10::DeviceType::CPU));
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  // LibTorch before 2.3 declares allocate() const, later ones non-const: both are defined (without `override`),
  // so whichever the installed LibTorch declares is overridden.
  c10::DataPtr allocate(std::size_t n) const { return dispatch(n); }
  c10::DataPtr allocate(std::size_t n) { return dispatch(n); }
  // Pure virtual from LibTorch 2.3 on; a plain member before.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  // Kernels that use raw_allocate()/raw_deallocate() (gelu, some reductions) free through this: without it
  // LibTorch's base class returns nullptr and those kernels abort on an internal assertion.
  c10::DeleterFnPtr raw_deleter() const override { return &free_block; }

 private:
  static c10::DataPtr dispatch(std::size_t n) {
    if (n < kLargeBlock) return g_state->small->allocate(n);
    return allocate_large(n);
  }
};

std::int64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::int64_t>(pages) * page : std::int64_t(8) << 30;
}

}  // namespace

void install_cpu_caching_allocator(std::int64_t max_cached_bytes) {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  const std::int64_t limit = max_cached_bytes >= 0 ? max_cached_bytes : physical_memory() / 2;
  if (g_state) {
    std::lock_guard<std::mutex> l(g_state->mutex);
    g_state->limit = limit;
    g_state->trim(0);
    return;
  }
  auto* s = new State;
  s->limit = limit;
  s->small = c10::GetAllocator(c10::DeviceType::CPU);
  g_state = s;
  static CachingCpuAllocator allocator;  // lives as long as the process
  // Priority above LibTorch's default registration, so that a later default registration cannot undo it.
  c10::SetAllocator(c10::DeviceType::CPU, &allocator, /*priority=*/100);
}

bool cpu_caching_allocator_installed() {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  return g_state != nullptr;
}

void release_cpu_cache() {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  if (!g_state) return;
  std::lock_guard<std::mutex> l(g_state->mutex);
  g_state->release_all();
}

CpuAllocatorStats cpu_allocator_stats() {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  if (!g_state) return {};
  std::lock_guard<std::mutex> l(g_state->mutex);
  return g_state->stats;
}

void tune_allocator_for_large_tensors() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  install_cpu_caching_allocator();
}

}  // namespace dype
