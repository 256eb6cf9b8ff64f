// test-deps: dype
// DyPE frequency maths against the worked vectors of ../shared/reference/DYPE.md §6 (FLUX geometry: d = 56,
// theta 1e4, base grid 64 tokens, 4096 px -> 256 tokens, s = 4). Expected numbers are copied from the spec tables
// as printed, and each is checked to half a unit of its last printed digit; where the spec gives a closed form
// (theta' of NTK, the PI divisor, the worked YaRN blend) the check is 1e-9 relative.
#include <QtTest>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/common/error.h"
#include "core/dype/rope_frequencies.h"

using namespace dype;

namespace {

double g_max_rel_closed_form = 0;  // largest relative error seen in the 1e-9 closed-form checks

// Half a unit in the last printed digit of a decimal literal such as "6.70673949e-5" or "0.1".
double half_ulp_of_printed(const char* s) {
  const char* e = std::strpbrk(s, "eE");
  const std::string mant = e ? std::string(s, e) : std::string(s);
  const int exp10 = e ? std::atoi(e + 1) : 0;
  const auto dot = mant.find('.');
  const int decimals = dot == std::string::npos ? 0 : int(mant.size() - dot - 1);
  return 0.5 * std::pow(10.0, exp10 - decimals);
}

void check_printed(double got, const char* printed, const char* what) {
  const double v = std::strtod(printed, nullptr);
  const double tol = half_ulp_of_printed(printed) * (1 + 1e-9) + 1e-300;
  if (!(std::fabs(got - v) <= tol))
    QFAIL(qPrintable(QString("%1: got %2, spec prints %3 (tolerance %4)")
                         .arg(what)
                         .arg(got, 0, 'g', 17)
                         .arg(printed)
                         .arg(tol, 0, 'g', 3)));
}

void check_rel(double got, double expected, double rel, const char* what) {
  const double err = std::fabs(got - expected) / std::fabs(expected);
  g_max_rel_closed_form = std::max(g_max_rel_closed_form, err);
  if (!(err <= rel))
    QFAIL(qPrintable(QString("%1: got %2, expected %3 (rel err %4 > %5)")
                         .arg(what)
                         .arg(got, 0, 'g', 17)
                         .arg(expected, 0, 'g', 17)
                         .arg(err, 0, 'g', 3)
                         .arg(rel, 0, 'g', 3)));
}

DypeConfig config(DypeMethod m, bool dynamic, YarnForm form = YarnForm::Paper) {
  DypeConfig c;
  c.method = m;
  c.dynamic = dynamic;
  c.yarn_form = form;
  c.lambda_s = 2.0;
  c.lambda_t = 2.0;
  c.base_resolution = 1024;
  return c;
}

const std::vector<std::int64_t> kGrid4096{1, 256, 256};

// Spatial axis 2 at 4096² (axis 1 is identical: square image).
AxisFrequencies axis2(const DypeConfig& c, double t, std::vector<std::int64_t> extent = kGrid4096) {
  auto f = rope_frequencies(c, RopeGeometry{}, extent, t);
  if (f.size() != 3) throw std::runtime_error("expected 3 axes");
  return f[2];
}

struct Row {
  const char* name;
  DypeConfig cfg;
  double t;
  const char* head[3];  // omega_0..2
  const char* tail[3];  // omega_25..27
  const char* mid[4];   // omega_4, 7, 10, 13 (nullptr: not tabulated)
};

// theta'^(-2i/d): closed form of NTK-type frequencies from the theta' the spec prints.
double ntk_omega(double theta_eff, int i) { return std::pow(theta_eff, -2.0 * i / 56.0); }
double base_omega(int i) { return std::pow(10000.0, -2.0 * i / 56.0); }

}  // namespace

class TestDypeVectors : public QObject {
  Q_OBJECT
 private slots:
  void worked_vectors_table() {
    const auto P = YarnForm::Paper, C = YarnForm::Comfy;
    const char* base_head[3] = {"1", "0.719685673", "0.517947468"};
    const char* base_tail[3] = {"2.6826958e-4", "1.93069773e-4", "1.38949549e-4"};
    const char* pi_tail[3] = {"6.70673949e-5", "4.82674432e-5", "3.47373874e-5"};
    const Row rows[] = {
        {"base",
         config(DypeMethod::None, false),
         1.0,
         {base_head[0], base_head[1], base_head[2]},
         {base_tail[0], base_tail[1], base_tail[2]},
         {"0.26827", "0.1", "0.0372759", "0.013895"}},
        {"PI",
         config(DypeMethod::PI, false),
         1.0,
         {"0.25", "0.179921418", "0.129486867"},
         {pi_tail[0], pi_tail[1], pi_tail[2]},
         {"0.0670674", "0.025", "0.00931898", "0.00347374"}},
        {"NTK",
         config(DypeMethod::NTK, false),
         1.0,
         {"1", "0.683666562", "0.467399968"},
         {"7.43204745e-5", "5.08104232e-5", "3.47373874e-5"},
         {"0.218463", "0.0698088", "0.0223071", "0.00712814"}},
        {"YaRN static",
         config(DypeMethod::YaRN, false),
         1.0,
         {"1", "0.712481851", "0.497728468"},
         {pi_tail[0], pi_tail[1], pi_tail[2]},
         {"0.228424", "0.0474044", "0.00931898", "0.00347374"}},
        {"DY-NTK t=1",
         config(DypeMethod::NTK, true),
         1.0,
         {"1", "0.649450149", "0.421785496"},
         {"2.05894867e-5", "1.33718452e-5", "8.68434684e-6"},
         {"0.177903", "0.0487327", "0.0133493", "0.00365675"}},
        {"DY-NTK t=0.5",
         config(DypeMethod::NTK, true),
         0.5,
         {"1", "0.701444958", "0.49202503"},
         {"1.41201708e-4", "9.90452264e-5", "6.94747747e-5"},
         {"0.242089", "0.0835517", "0.0288361", "0.00995215"}},
        {"DY-NTK t=0",
         config(DypeMethod::NTK, true),
         0.0,
         {base_head[0], base_head[1], base_head[2]},
         {base_tail[0], base_tail[1], base_tail[2]},
         {"0.26827", "0.1", "0.0372759", "0.013895"}},
        {"DY-YaRN(a) t=1",
         config(DypeMethod::YaRN, true, P),
         1.0,
         {"1", "0.712481851", "0.497728468"},
         {pi_tail[0], pi_tail[1], pi_tail[2]},
         {"0.228424", "0.0474044", "0.00931898", "0.00347374"}},
        {"DY-YaRN(a) t=0.5",
         config(DypeMethod::YaRN, true, P),
         0.5,
         {base_head[0], base_head[1], base_head[2]},
         {pi_tail[0], pi_tail[1], pi_tail[2]},
         {"0.255818", "0.0811305", "0.0223071", "0.00347374"}},
        {"DY-YaRN(a) t=0",
         config(DypeMethod::YaRN, true, P),
         0.0,
         {base_head[0], base_head[1], base_head[2]},
         {base_tail[0], base_tail[1], base_tail[2]},
         {"0.26827", "0.1", "0.0372759", "0.013895"}},
        {"DY-YaRN(b) t=1",
         config(DypeMethod::YaRN, true, C),
         1.0,
         {"1", "0.707679303", "0.484249134"},
         {pi_tail[0], pi_tail[1], pi_tail[2]},
         {"0.218463", "0.0474044", "0.00931898", "0.00347374"}},
        {"DY-YaRN(b) t=0.5",
         config(DypeMethod::YaRN, true, C),
         0.5,
         {base_head[0], base_head[1], base_head[2]},
         {pi_tail[0], pi_tail[1], pi_tail[2]},
         {"0.248347", "0.0474044", "0.00931898", "0.00347374"}},
        {"DY-YaRN(b) t=0",
         config(DypeMethod::YaRN, true, C),
         0.0,
         {base_head[0], base_head[1], base_head[2]},
         {pi_tail[0], pi_tail[1], pi_tail[2]},
         {"0.26827", "0.1", "0.00931898", "0.00347374"}},
        {"DY-PI t=1",
         config(DypeMethod::PI, true),
         1.0,
         {"0.0625", "0.0449803546", "0.0323717167"},
         {"1.67668487e-5", "1.20668608e-5", "8.68434684e-6"},
         {nullptr, nullptr, nullptr, nullptr}},
        {"DY-PI t=0.5",
         config(DypeMethod::PI, true),
         0.5,
         {"0.5", "0.359842837", "0.258973734"},
         {"1.3413479e-4", "9.65348864e-5", "6.94747747e-5"},
         {nullptr, nullptr, nullptr, nullptr}},
        {"DY-PI t=0",
         config(DypeMethod::PI, true),
         0.0,
         {base_head[0], base_head[1], base_head[2]},
         {base_tail[0], base_tail[1], base_tail[2]},
         {nullptr, nullptr, nullptr, nullptr}},
    };
    const int mid_idx[4] = {4, 7, 10, 13};
    for (const Row& r : rows) {
      for (int axis = 1; axis <= 2; ++axis) {
        const auto f = rope_frequencies(r.cfg, RopeGeometry{}, kGrid4096, r.t)[std::size_t(axis)];
        QCOMPARE(int(f.omega.size()), 28);
        const std::string tag = std::string(r.name) + " axis " + std::to_string(axis) + " omega_";
        for (int k = 0; k < 3; ++k) {
          check_printed(f.omega[std::size_t(k)], r.head[k], (tag + std::to_string(k)).c_str());
          check_printed(f.omega[std::size_t(25 + k)], r.tail[k], (tag + std::to_string(25 + k)).c_str());
        }
        for (int k = 0; k < 4; ++k)
          if (r.mid[k])
            check_printed(f.omega[std::size_t(mid_idx[k])], r.mid[k], (tag + std::to_string(mid_idx[k])).c_str());
      }
    }
  }

  void bands() {
    struct B {
      DypeConfig cfg;
      double t;
      double beta[2], gamma[2];
    } cases[] = {
        {config(DypeMethod::YaRN, false), 1.0, {6, 8}, {0, 5}},
        {config(DypeMethod::YaRN, true, YarnForm::Paper), 1.0, {6, 8}, {0, 5}},
        {config(DypeMethod::YaRN, true, YarnForm::Paper), 0.5, {10, 13}, {2, 10}},
        {config(DypeMethod::YaRN, true, YarnForm::Comfy), 1.0, {5, 9}, {0, 3}},
        {config(DypeMethod::YaRN, true, YarnForm::Comfy), 0.5, {6, 8}, {2, 7}},
        {config(DypeMethod::YaRN, true, YarnForm::Comfy), 0.0, {7, 8}, {7, 8}},
        // Extra checks: last model step at mu = 1.15, 28 steps.
        {config(DypeMethod::YaRN, true, YarnForm::Paper), 0.10472089, {20, 22}, {12, 19}},
        {config(DypeMethod::YaRN, true, YarnForm::Comfy), 0.10472089, {7, 8}, {6, 8}},
    };
    for (const auto& c : cases) {
      const auto f = axis2(c.cfg, c.t);
      QVERIFY(f.beta_range && f.gamma_range);
      QCOMPARE((*f.beta_range)[0], c.beta[0]);
      QCOMPARE((*f.beta_range)[1], c.beta[1]);
      QCOMPARE((*f.gamma_range)[0], c.gamma[0]);
      QCOMPARE((*f.gamma_range)[1], c.gamma[1]);
    }
  }

  void last_step_checkpoints() {
    check_printed(axis2(config(DypeMethod::YaRN, true, YarnForm::Paper), 0.10472089).omega[13], "0.0129283",
                  "DY-YaRN(a) t=0.10472089 omega_13");
    check_printed(axis2(config(DypeMethod::YaRN, true, YarnForm::Comfy), 0.10472089).omega[7], "0.0849044",
                  "DY-YaRN(b) t=0.10472089 omega_7");
  }

  // DYPE.md §6: paper form at t = 0.01 has gamma (26, 28) and an inverted beta band (34, 28) in unguarded code;
  // at t = 0.005 gamma (30, 28) inverts too (all-PI collapse). Guarded (low <= d/2): beta low 28, so pairs 0..26
  // stay plain and pair 27 is half plain, half NTK (= PI for the last pair); at 0.005 everything is plain.
  void paper_form_inversion_guard() {
    const auto c = config(DypeMethod::YaRN, true, YarnForm::Paper);
    const auto f = axis2(c, 0.01);
    QCOMPARE((*f.gamma_range)[0], 26.0);
    QCOMPARE((*f.gamma_range)[1], 28.0);
    QCOMPARE((*f.beta_range)[0], 28.0);
    QVERIFY((*f.beta_range)[0] <= (*f.beta_range)[1]);
    for (int i = 0; i <= 26; ++i) check_rel(f.omega[std::size_t(i)], base_omega(i), 1e-9, "t=0.01 plain pair");
    check_rel(f.omega[27], 0.5 * (base_omega(27) + base_omega(27) / 4.0), 1e-9, "t=0.01 pair 27");

    const auto g = axis2(c, 0.005);
    QCOMPARE((*g.gamma_range)[0], 28.0);
    for (int i = 0; i < 28; ++i) check_rel(g.omega[std::size_t(i)], base_omega(i), 1e-9, "t=0.005 plain");
    QCOMPARE(g.mscale, 1.0 + 0.1 * std::log(4.0));  // mscale stays static in the paper form
  }

  // Closed forms the spec gives: theta' of NTK / DY-NTK, PI divisors, the worked YaRN blend (1e-9 relative).
  void closed_forms() {
    struct N {
      DypeConfig cfg;
      double t, theta_eff;
      std::vector<std::int64_t> extent;
    } ntk[] = {
        {config(DypeMethod::NTK, false), 1.0, 42107.408106, kGrid4096},
        {config(DypeMethod::NTK, true), 1.0, 177303.381737, kGrid4096},
        {config(DypeMethod::NTK, true), 0.5, 20520.089694, kGrid4096},
        {config(DypeMethod::NTK, false), 1.0, 20520.089694, {1, 128, 128}},  // s = 2
        {config(DypeMethod::NTK, true), 0.0, 10000.0, kGrid4096},
    };
    for (const auto& n : ntk) {
      const auto f = axis2(n.cfg, n.t, n.extent);
      for (int i = 0; i < 28; ++i) check_rel(f.omega[std::size_t(i)], ntk_omega(n.theta_eff, i), 1e-9, "NTK theta'");
      QCOMPARE(f.mscale, 1.0);
    }
    struct D {
      DypeConfig cfg;
      double t, divisor;
    } pi[] = {{config(DypeMethod::PI, false), 1.0, 4.0},
              {config(DypeMethod::PI, true), 1.0, 16.0},
              {config(DypeMethod::PI, true), 0.5, 2.0},
              {config(DypeMethod::PI, true), 0.0, 1.0}};
    for (const auto& p : pi) {
      const auto f = axis2(p.cfg, p.t);
      for (int i = 0; i < 28; ++i) check_rel(f.omega[std::size_t(i)], base_omega(i) / p.divisor, 1e-9, "PI");
    }
    // R'_1 = 1/5 -> omega_1 = 0.8 base_1 + 0.2 ntk_1.
    const auto y = axis2(config(DypeMethod::YaRN, false), 1.0);
    check_rel(y.omega[1], 0.8 * base_omega(1) + 0.2 * ntk_omega(42107.408106, 1), 1e-9, "YaRN worked blend");
    qInfo("max relative error in closed-form checks: %.3g", g_max_rel_closed_form);
  }

  void mscales() {
    const double m4 = 1.1386294361, m2 = 1.0693147181;
    auto near = [](double a, double b) { return std::fabs(a - b) <= 5e-11; };
    QVERIFY(near(axis2(config(DypeMethod::YaRN, false), 1.0).mscale, m4));
    QVERIFY(near(axis2(config(DypeMethod::YaRN, true, YarnForm::Paper), 0.3).mscale, m4));
    QVERIFY(near(axis2(config(DypeMethod::YaRN, true, YarnForm::Comfy), 0.3).mscale, m4));
    QVERIFY(near(axis2(config(DypeMethod::YaRN, false), 1.0, {1, 128, 128}).mscale, m2));
    const auto v = config(DypeMethod::VisionYaRN, true);
    QVERIFY(near(axis2(v, 1.0).mscale, 1.1386294361));
    QVERIFY(near(axis2(v, 0.5).mscale, 1.0346573590));
    QCOMPARE(axis2(v, 0.0).mscale, 1.0);
    for (auto m : {DypeMethod::None, DypeMethod::PI, DypeMethod::NTK})
      for (bool dyn : {false, true}) QCOMPARE(axis2(config(m, dyn), 0.7).mscale, 1.0);
  }

  // Square image: vision-yarn's per-axis and global scales coincide, so it is the comfy form up to its float32
  // ramps (about 2e-8 relative, golden README), hence the looser tolerance here.
  void vision_yarn_square_equals_comfy() {
    const auto v = axis2(config(DypeMethod::VisionYaRN, true), 1.0);
    const int idx[] = {1, 2, 4, 27};
    const char* spec[] = {"0.707679303", "0.484249134", "0.218463", "3.47373874e-5"};
    for (int k = 0; k < 4; ++k) {
      const double e = std::strtod(spec[k], nullptr);
      const double tol = half_ulp_of_printed(spec[k]) + 2e-8 * e;
      QVERIFY2(std::fabs(v.omega[std::size_t(idx[k])] - e) <= tol, spec[k]);
    }
  }

  void base_frequencies_match_spec() {
    const auto b = base_frequencies(10000.0, 56);
    QCOMPARE(int(b.size()), 28);
    check_printed(b[1], "0.719685673", "base omega_1");
    check_printed(b[27], "1.38949549e-4", "base omega_27");
    check_rel(b[7], 0.1, 1e-15, "base omega_7 = 10^-1");
    QCOMPARE(dype_kappa(2, 2, 0.5), 0.5);
  }

  // At or below the base grid every method is plain RoPE, bit for bit; axis 0 is never scaled.
  void plain_at_or_below_base() {
    const auto plain56 = base_frequencies(10000.0, 56), plain16 = base_frequencies(10000.0, 16);
    const std::vector<std::vector<std::int64_t>> grids = {{1, 64, 64}, {1, 32, 64}, {1, 1, 1}, {1, 64, 48}};
    for (auto m : {DypeMethod::None, DypeMethod::PI, DypeMethod::NTK, DypeMethod::YaRN, DypeMethod::VisionYaRN})
      for (bool dyn : {false, true})
        for (auto form : {YarnForm::Paper, YarnForm::Comfy})
          for (double t : {0.0, 0.3, 1.0})
            for (const auto& g : grids) {
              auto c = config(m, dyn, form);
              for (bool iso : {false, true}) {
                c.isotropic = iso;
                const auto f = rope_frequencies(c, RopeGeometry{}, g, t);
                QVERIFY(f[1].omega == plain56 && f[2].omega == plain56);
                QVERIFY(!f[1].scaled && !f[2].scaled);
                QCOMPARE(f[1].mscale, 1.0);
                QCOMPARE(f[2].mscale, 1.0);
              }
            }
    for (auto m : {DypeMethod::PI, DypeMethod::NTK, DypeMethod::YaRN, DypeMethod::VisionYaRN}) {
      const auto f = rope_frequencies(config(m, true), RopeGeometry{}, kGrid4096, 1.0);
      QVERIFY(f[0].omega == plain16);
      QCOMPARE(f[0].mscale, 1.0);
      QVERIFY(!f[0].scaled);
    }
  }

  // 4096 wide × 1024 high: only the column axis is modified; isotropic scales both by the larger extent.
  void per_axis_and_isotropic() {
    auto c = config(DypeMethod::YaRN, false);
    const std::vector<std::int64_t> wide = token_grid_extent(4096, 1024);
    QCOMPARE(wide, (std::vector<std::int64_t>{1, 64, 256}));
    auto f = rope_frequencies(c, RopeGeometry{}, wide, 1.0);
    QVERIFY(f[1].omega == base_frequencies(10000.0, 56));
    QCOMPARE(f[1].mscale, 1.0);
    check_printed(f[2].omega[1], "0.712481851", "wide yarn axis 2 omega_1");
    c.isotropic = true;
    f = rope_frequencies(c, RopeGeometry{}, wide, 1.0);
    check_printed(f[1].omega[1], "0.712481851", "isotropic yarn axis 1 omega_1");
    QVERIFY(std::fabs(f[1].mscale - 1.1386294361) < 5e-11);
  }

  void errors() {
    QVERIFY_EXCEPTION_THROWN(parse_method("linear"), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(parse_yarn_form("both"), InvalidArgument);
    QCOMPARE(parse_method("vision-yarn"), DypeMethod::VisionYaRN);
    QCOMPARE(std::string(method_name(DypeMethod::NTK)), std::string("ntk"));
    const auto c = config(DypeMethod::YaRN, true);
    QVERIFY_EXCEPTION_THROWN(rope_frequencies(c, RopeGeometry{}, kGrid4096, 1.5), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(rope_frequencies(c, RopeGeometry{}, kGrid4096, std::nan("")), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(rope_frequencies(c, RopeGeometry{}, {1, -3, 5}, 0.5), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(rope_frequencies(c, RopeGeometry{}, {1, 5}, 0.5), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(rope_frequencies(c, RopeGeometry{10000.0, {16, 55, 57}}, kGrid4096, 0.5), InvalidArgument);
    auto bad = c;
    bad.base_resolution = 1000;
    QVERIFY_EXCEPTION_THROWN(rope_frequencies(bad, RopeGeometry{}, kGrid4096, 0.5), InvalidArgument);
    bad = c;
    bad.lambda_t = -1;
    QVERIFY_EXCEPTION_THROWN(rope_frequencies(bad, RopeGeometry{}, kGrid4096, 0.5), InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(token_grid_extent(-16, 1024), InvalidArgument);
  }
};

QTEST_APPLESS_MAIN(TestDypeVectors)
#include "test_dype_vectors.moc"
