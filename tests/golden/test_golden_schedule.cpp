// test-deps: io sampling
// Golden F_schedule: FLUX's shifted sigma schedule for several (num_steps, image_seq_len, shift, base/max shift),
// every value within max abs 1e-6 of the reference's float32 results.
#include <QtTest>
#include <cmath>
#include <string>

#include "core/common/error.h"
#include "core/sampling/schedule.h"
#include "tests/support/golden.h"

using namespace dype;

class TestGoldenSchedule : public QObject {
  Q_OBJECT
 private slots:
  void f_schedule() {
    const auto gc = test::load_case("F_schedule");
    double worst = 0;
    int n = 0;
    for (const auto& e : gc.json.at("entries")) {
      const std::string id = e.at("id").get<std::string>();
      const int steps = e.at("num_steps").get<int>();
      const std::int64_t seq = e.at("image_seq_len").get<std::int64_t>();
      std::optional<double> mu;
      if (e.at("shift").get<bool>()) {
        mu = time_shift_mu(ShiftPolicy::Flux, seq, false, e.at("base_shift").get<double>(),
                           e.at("max_shift").get<double>());
        QVERIFY2(std::fabs(*mu - e.at("mu").get<double>()) <= 1e-12, qPrintable(QString::fromStdString(id)));
      }
      const std::vector<double> ts = flux_schedule(steps, mu);
      const at::Tensor exp = gc.expect(id + ".timesteps").to(at::kDouble).contiguous();
      QCOMPARE(std::int64_t(ts.size()), exp.numel());
      QCOMPARE(ts.back(), 0.0);
      for (std::size_t k = 0; k < ts.size(); ++k) {
        const double d = std::fabs(ts[k] - exp.data_ptr<double>()[k]);
        worst = std::max(worst, d);
        QVERIFY2(d <= 1e-6, qPrintable(QString("%1[%2]: %3 vs %4")
                                           .arg(id.c_str())
                                           .arg(k)
                                           .arg(ts[k], 0, 'g', 9)
                                           .arg(exp.data_ptr<double>()[k], 0, 'g', 9)));
      }
      ++n;
    }
    QCOMPARE(n, 10);
    qInfo("F_schedule: %d entries, max abs diff %.3g", n, worst);
  }

  // Policies (DYPE.md §3): clamp = min(line, max_shift), flux = extrapolated line, auto = none for schnell.
  void policies() {
    QCOMPARE(*time_shift_mu(ShiftPolicy::Clamp, 65536, false), 1.15);
    QVERIFY(std::fabs(*time_shift_mu(ShiftPolicy::Flux, 65536, false) - 11.55) < 1e-12);
    QVERIFY(std::fabs(*time_shift_mu(ShiftPolicy::Flux, 16384, false) - 3.23) < 1e-12);
    QVERIFY(std::fabs(*time_shift_mu(ShiftPolicy::Clamp, 1024, false) - 0.63) < 1e-12);
    QCOMPARE(*time_shift_mu(ShiftPolicy::Auto, 65536, false), 1.15);
    QVERIFY(!time_shift_mu(ShiftPolicy::Auto, 65536, true).has_value());
    QVERIFY(!time_shift_mu(ShiftPolicy::None, 4096, false).has_value());
    QCOMPARE(*time_shift_mu(ShiftPolicy::Fixed, 4096, false, 0.5, 1.15, 2.5), 2.5);
    QCOMPARE(flux_image_seq_len(4096, 4096), std::int64_t(65536));
    QCOMPARE(flux_image_seq_len(1000, 1000), std::int64_t(63 * 63));
    // DYPE.md §3: 28 steps at mu = 1.15 end at 0.10472 before the final 0; at mu = 3.23 the last is 0.48355.
    const auto s = flux_schedule(28, 1.15);
    QCOMPARE(int(s.size()), 29);
    QVERIFY(std::fabs(s[27] - 0.10472) < 5e-6);
    QVERIFY(std::fabs(s[1] - 0.98841) < 5e-6);
    QVERIFY(std::fabs(flux_schedule(28, 3.23)[27] - 0.48355) < 5e-6);
    QVERIFY_EXCEPTION_THROWN(flux_schedule(0, 1.15), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(time_shift_mu(ShiftPolicy::Clamp, 0, false), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(flux_image_seq_len(0, 1024), InvalidArgument);
  }
};

QTEST_APPLESS_MAIN(TestGoldenSchedule)
#include "test_golden_schedule.moc"
