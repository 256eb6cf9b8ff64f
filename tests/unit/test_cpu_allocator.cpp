// test-deps: common
// The CPU caching allocator (core/common/cpu_allocator.h): tensors it backs hold their data, freed large blocks
// are reused instead of mapped again, small ones go to LibTorch's own allocator, the cache is bounded by its cap and
// can be released, and the accounting returns to zero.
#include <ATen/ATen.h>

#include <QtTest>

#include "core/common/cpu_allocator.h"

class TestCpuAllocator : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    dype::install_cpu_caching_allocator(std::int64_t(1) << 30);
    QVERIFY(dype::cpu_caching_allocator_installed());
  }

  void large_tensors_hold_their_data_and_are_reused() {
    const double expected_sum = at::arange(3 << 20, at::kDouble).mul(2).add(1).sum().item<double>();
    dype::release_cpu_cache();
    const auto before = dype::cpu_allocator_stats();
    for (int round = 0; round < 3; ++round) {
      at::Tensor a = at::arange(3 << 20, at::kFloat);                            // 12 MiB: served by the cache
      QVERIFY(reinterpret_cast<std::uintptr_t>(a.data_ptr()) % (2 << 20) == 0);  // 2 MiB-aligned (huge pages)
      at::Tensor b = a * 2 + 1;                                                  // another 12 MiB
      QCOMPARE(b[0].item<float>(), 1.0f);
      QCOMPARE(b[(3 << 20) - 1].item<float>(), 2.0f * ((3 << 20) - 1) + 1.0f);
      QCOMPARE(b.to(at::kDouble).sum().item<double>(), expected_sum);
    }
    const auto after = dype::cpu_allocator_stats();
    // At most three 12 MiB blocks live at a time (a, a * 2, b) plus b in double for the sum: mapped in the first
    // round only, reused in every later round.
    QVERIFY(after.mapped - before.mapped <= 4);
    QVERIFY(after.reused - before.reused >= 4);
    QCOMPARE(after.in_use_bytes, before.in_use_bytes);
  }

  void small_tensors_bypass_the_cache() {
    const auto before = dype::cpu_allocator_stats();
    at::Tensor s = at::ones({1000}, at::kFloat);  // 4 KB
    QCOMPARE(s.sum().item<float>(), 1000.0f);
    const auto after = dype::cpu_allocator_stats();
    QCOMPARE(after.mapped, before.mapped);
    QCOMPARE(after.reused, before.reused);
    QCOMPARE(after.in_use_bytes, before.in_use_bytes);
  }

  void cache_respects_its_cap_and_release() {
    dype::install_cpu_caching_allocator(std::int64_t(64) << 20);  // 64 MiB footprint cap
    {
      std::vector<at::Tensor> keep;
      for (int i = 0; i < 6; ++i) keep.push_back(at::empty({(24 << 20) / 4}, at::kFloat));  // 6 × 24 MiB live
      QVERIFY(dype::cpu_allocator_stats().in_use_bytes >= std::int64_t(6) * (24 << 20));
    }
    // Everything freed: only what fits under the cap stays cached.
    QVERIFY(dype::cpu_allocator_stats().cached_bytes <= std::int64_t(64) << 20);
    dype::release_cpu_cache();
    QCOMPARE(dype::cpu_allocator_stats().cached_bytes, std::int64_t(0));
    dype::install_cpu_caching_allocator(std::int64_t(1) << 30);
  }

  void operations_agree_with_and_without_reuse() {
    // The same computation twice: the second runs entirely on reused (dirty) blocks and must not see stale data.
    at::Generator g = at::detail::createCPUGenerator(7);
    const at::Tensor x = at::randn({512, 1024}, g), w = at::randn({1024, 2048}, g);
    const at::Tensor first = at::gelu(at::matmul(x, w)).sum(1);
    const at::Tensor second = at::gelu(at::matmul(x, w)).sum(1);
    QVERIFY(at::equal(first, second));
  }
};

QTEST_APPLESS_MAIN(TestCpuAllocator)
#include "test_cpu_allocator.moc"
