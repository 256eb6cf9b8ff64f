// test-deps: io dype flux
// Golden A_rope_* cases: for every entry (method, DyPE on/off, yarn form, t, lambdas) the per-axis omega vectors
// (relative 1e-12), mscale (absolute 1e-12) and the pe table embed_nd builds from the case's ids (max abs 2e-6).
#include <QtTest>
#include <cmath>
#include <string>

#include "core/dype/rope_frequencies.h"
#include "core/flux/embed_nd.h"
#include "tests/support/golden.h"

using namespace dype;
using nlohmann::json;

namespace {

double max_rel(const std::vector<double>& got, const at::Tensor& expected) {
  at::Tensor e = expected.to(at::kDouble).contiguous();
  if (std::int64_t(got.size()) != e.numel()) return INFINITY;
  double m = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double ev = e.data_ptr<double>()[i];
    m = std::max(m, std::fabs(got[i] - ev) / std::fabs(ev));
  }
  return m;
}

DypeConfig entry_config(const json& e, int base_patches) {
  DypeConfig c;
  const std::string m = e.at("method").get<std::string>();
  c.method = parse_method(m == "base" ? "none" : m);
  c.dynamic = e.at("dype").get<bool>();
  const std::string form = e.value("yarn_form", std::string());
  if (form == "static") c.dynamic = false;  // yarn entries state their form; static = DyPE off
  if (form == "paper" || form == "comfy") c.yarn_form = parse_yarn_form(form);
  if (!e.at("lambda_s").is_null()) c.lambda_s = e.at("lambda_s").get<double>();
  if (!e.at("lambda_t").is_null()) c.lambda_t = e.at("lambda_t").get<double>();
  c.base_resolution = base_patches * 16;
  return c;
}

struct Worst {
  double omega = 0, omega_vy = 0, mscale = 0, pe = 0;
};

}  // namespace

class TestGoldenRope : public QObject {
  Q_OBJECT
 private slots:
  void cases_data() {
    QTest::addColumn<QString>("name");
    for (const char* n : {"A_rope_fluxdims_128x192_sparse", "A_rope_fluxdims_64x160_sparse", "A_rope_tiny_16x16",
                          "A_rope_tiny_4x4", "A_rope_tiny_8x24"})
      QTest::newRow(n) << QString(n);
  }

  void cases() {
    QFETCH(QString, name);
    const auto gc = test::load_case(name.toStdString());
    const json& p = gc.json.at("params");
    RopeGeometry geo;
    geo.theta = p.at("theta").get<double>();
    geo.axes_dim = p.at("axes_dim").get<std::vector<std::int64_t>>();
    const int base_patches = p.at("base_patches").get<int>();
    const at::Tensor ids = gc.input("ids");  // [1, L, 3] float32
    Worst w;
    int n = 0;
    for (const json& e : gc.json.at("entries")) {
      const std::string id = e.at("id").get<std::string>();
      const DypeConfig cfg = entry_config(e, base_patches);
      const double t = e.at("t").is_null() ? 1.0 : e.at("t").get<double>();
      std::vector<AxisFrequencies> used;
      const at::Tensor pe = flux::embed_nd(ids, cfg, geo, t, &used);
      QCOMPARE(int(used.size()), 3);
      const bool vy = cfg.method == DypeMethod::VisionYaRN;
      const at::Tensor ms = gc.expect(e.at("mscale").get<std::string>()).to(at::kDouble).contiguous();
      for (int a = 0; a < 3; ++a) {
        const double r = max_rel(used[std::size_t(a)].omega, gc.expect(e.at("omega")[a].get<std::string>()));
        (vy ? w.omega_vy : w.omega) = std::max(vy ? w.omega_vy : w.omega, r);
        QVERIFY2(r <= 1e-12,
                 qPrintable(QString("%1 %2 axis %3: omega rel err %4").arg(name, id.c_str()).arg(a).arg(r)));
        const double dm = std::fabs(used[std::size_t(a)].mscale - ms.data_ptr<double>()[a]);
        w.mscale = std::max(w.mscale, dm);
        QVERIFY2(dm <= 1e-12, qPrintable(QString("%1 %2 axis %3: mscale err %4").arg(name, id.c_str()).arg(a).arg(dm)));
      }
      const at::Tensor pe_exp = gc.expect(e.at("pe").get<std::string>());
      QCOMPARE(pe.sizes().vec(), pe_exp.sizes().vec());
      QCOMPARE(pe.scalar_type(), at::kFloat);
      const double d = test::max_abs_diff(pe, pe_exp);
      w.pe = std::max(w.pe, d);
      QVERIFY2(d <= 2e-6, qPrintable(QString("%1 %2: pe max abs diff %3").arg(name, id.c_str()).arg(d)));
      ++n;
    }
    QCOMPARE(n, 104);

    // Other id forms give the same table: int64 ids, and a batch of 2. An extra token at position -1 on axis 0
    // (not a small non-negative integer: the general unique path) changes nothing else and rotates by -omega.
    const json& e0 = gc.json.at("entries")[3];  // static yarn: scaled axes with mscale
    const DypeConfig cfg0 = entry_config(e0, base_patches);
    const at::Tensor pe0 = gc.expect(e0.at("pe").get<std::string>());
    QCOMPARE(test::max_abs_diff(flux::embed_nd(ids.to(at::kLong), cfg0, geo, 1.0), pe0), 0.0);
    const at::Tensor pe_b2 = flux::embed_nd(at::cat({ids, ids}, 0), cfg0, geo, 1.0);  // [2, 1, L, P, 2, 2]
    QCOMPARE(pe_b2.size(0), std::int64_t(2));
    QCOMPARE(test::max_abs_diff(pe_b2[1].unsqueeze(0), pe0), 0.0);
    at::Tensor extra = at::zeros({1, 1, 3}, at::kFloat);
    extra.select(2, 0).fill_(-1.0);
    const at::Tensor pe_x = flux::embed_nd(at::cat({ids, extra}, 1), cfg0, geo, 1.0);  // [1, 1, L+1, P, 2, 2]
    const std::int64_t L = ids.size(1);
    QCOMPARE(test::max_abs_diff(pe_x.narrow(2, 0, L), pe0), 0.0);
    const at::Tensor w0 = gc.expect(e0.at("omega")[0].get<std::string>()).to(at::kDouble);  // [d0/2]
    const at::Tensor blk = pe_x.select(2, L).narrow(2, 0, w0.numel()).reshape({-1, 4}).to(at::kDouble);
    const at::Tensor c = at::cos(-w0), sn = at::sin(-w0);
    QVERIFY(test::max_abs_diff(blk, at::stack({c, -sn, sn, c}, 1)) <= 2e-7);
    qInfo("%s: %d entries; max omega rel err %.3g (vision-yarn %.3g), max mscale abs err %.3g, max pe abs err %.3g",
          qPrintable(name), n, w.omega, w.omega_vy, w.mscale, w.pe);
  }
};

QTEST_APPLESS_MAIN(TestGoldenRope)
#include "test_golden_rope.moc"
