// test-deps: io dype flux
// FLUX transformer forward against the golden reference (../shared/golden, B_transformer_* and
// B_timestep_embedding), from the BFL single file, the diffusers folder and the F8_E4M3 file.
#include <c10/core/InferenceMode.h>

#include <QtTest>

#include "core/common/error.h"
#include "core/dype/rope_frequencies.h"
#include "core/flux/attention.h"
#include "core/flux/layers.h"
#include "core/flux/loader.h"
#include "core/flux/model.h"
#include "tests/support/golden.h"

using namespace dype;
using namespace dype::flux;

namespace {

const char* kCases[] = {
    "B_transformer_4x4_base",
    "B_transformer_8x24_ntk_dype_t0.3",
    "B_transformer_8x24_pi_dype_t0.6",
    "B_transformer_16x16_yarn_dype_t0.2",
    "B_transformer_16x16_yarn_dype_t0.8",
    "B_transformer_16x16_yarn_static",
    "B_transformer_32x48_ntk_dype_base16_t0.6",
    "B_transformer_32x48_vision_yarn_base16_t0.6",
    "B_transformer_32x48_yarn_comfy_base16_t0.9",
    "B_transformer_32x48_yarn_paper_base16_t0.6",
};

DypeConfig dype_config(const nlohmann::json& p) {
  DypeConfig c;
  const std::string method = p.at("method").get<std::string>();
  c.method = method == "base" ? DypeMethod::None : parse_method(method);
  c.dynamic = p.at("dype").get<bool>();
  if (p.contains("yarn_form") && p["yarn_form"].get<std::string>() != "static")
    c.yarn_form = parse_yarn_form(p["yarn_form"].get<std::string>());
  c.lambda_s = p.at("lambda_s").get<double>();
  c.lambda_t = p.at("lambda_t").get<double>();
  c.base_resolution = static_cast<int>(p.at("base_patches").get<std::int64_t>() * 16);
  return c;
}

struct Check {
  std::string what;
  double value, limit;
};

}  // namespace

class TestGoldenTransformer : public QObject {
  Q_OBJECT
  std::string models_;
  std::map<std::string, Flux> flux_;

  Flux& model(const std::string& which) {
    auto it = flux_.find(which);
    if (it != flux_.end()) return it->second;
    FluxLoadOptions o;
    FluxCheckpointInfo info;
    if (which == "bfl") flux_.emplace(which, load_flux(models_ + "/comfy/flux.safetensors", o, &info));
    if (which == "diffusers") flux_.emplace(which, load_flux(models_ + "/diffusers/transformer", o, &info));
    if (which == "diffusers_root") flux_.emplace(which, load_flux(models_ + "/diffusers", o, &info));
    if (which == "bfl_keep_bf16") {
      o.keep_storage_dtype = true;
      flux_.emplace(which, load_flux(models_ + "/comfy/flux.safetensors", o, &info));
    }
    if (which == "f8") flux_.emplace(which, load_flux(models_ + "/comfy/flux_f8_e4m3.safetensors", o, &info));
    if (which == "f8_keep") {
      o.keep_storage_dtype = true;
      flux_.emplace(which, load_flux(models_ + "/comfy/flux_f8_e4m3.safetensors", o, &info));
    }
    return flux_.at(which);
  }

  // Runs one case through `m` (own pe and golden pe) and checks every stored tensor.
  void run_case(const std::string& name, Flux& m, const std::string& label, bool controls = false) {
    c10::InferenceMode guard;
    const auto gc = test::load_case(name);
    const auto& p = gc.json.at("params");
    const auto tol = gc.json.at("tolerance");
    const double out_tol = tol.at("out").at("rel_l2").get<double>();
    const double inter_tol = tol.at("intermediate").at("rel_l2").get<double>();
    const double pe_tol = tol.at("pe").at("max_abs").get<double>();

    Intermediates cap;
    const at::Tensor out =
        m->forward(gc.input("img"), gc.input("img_ids"), gc.input("txt"), gc.input("txt_ids"), gc.input("timesteps"),
                   gc.input("y"), gc.input("guidance"), dype_config(p), p.at("dype_t").get<double>(), &cap);
    std::vector<Check> checks;
    checks.push_back({"out", test::rel_l2(out, gc.expect("out")), out_tol});
    checks.push_back({"pe (max abs)", test::max_abs_diff(cap.at("pe"), gc.expect("pe")), pe_tol});
    for (const auto& t : gc.expected->tensors()) {
      const std::string prefix = "intermediate.";
      if (t.name.rfind(prefix, 0) != 0) continue;
      const std::string key = t.name.substr(prefix.size());
      QVERIFY2(cap.count(key), ("no captured intermediate " + key).c_str());
      checks.push_back({key, test::rel_l2(cap.at(key), gc.expect(t.name)), inter_tol});
    }
    // With the golden pe fed in: isolates the model from the RoPE table.
    const at::Tensor out_pe = m->forward(gc.input("img"), gc.input("txt"), gc.input("timesteps"), gc.input("y"),
                                         gc.input("guidance"), gc.expect("pe"));
    checks.push_back({"out (golden pe)", test::rel_l2(out_pe, gc.expect("out")), out_tol});

    // Negative controls: the case's self_checks state how far the output moves with plain RoPE, with DyPE off and
    // with the DyPE t lowered by 0.05; ours must move by the same amounts (the settings are really in effect).
    const auto& sc = gc.json.at("self_checks");
    auto control = [&](const char* key, DypeConfig cfg, double t) {
      if (!controls || !sc.contains(key) || sc[key].get<double>() == 0) return;
      const at::Tensor o = m->forward(gc.input("img"), gc.input("img_ids"), gc.input("txt"), gc.input("txt_ids"),
                                      gc.input("timesteps"), gc.input("y"), gc.input("guidance"), cfg, t);
      const double stated = sc[key].get<double>(), got = test::rel_l2(o, gc.expect("out"));
      checks.push_back({std::string("|") + key + " - stated|", std::abs(got - stated), 0.02 * stated});
    };
    DypeConfig plain = dype_config(p), off = dype_config(p);
    plain.method = DypeMethod::None;
    off.dynamic = false;
    control("rel_l2_change_if_plain_rope", plain, p.at("dype_t").get<double>());
    control("rel_l2_change_if_dype_off", off, p.at("dype_t").get<double>());
    control("rel_l2_change_if_dype_t_minus_0.05", dype_config(p), p.at("dype_t").get<double>() - 0.05);

    std::string report = name + " [" + label + "]:";
    for (const auto& c : checks) report += " " + c.what + " " + QString::number(c.value, 'g', 3).toStdString() + ";";
    qInfo("%s", report.c_str());
    for (const auto& c : checks)
      QVERIFY2(c.value <= c.limit,
               (name + " [" + label + "] " + c.what + " = " + std::to_string(c.value) + " > " + std::to_string(c.limit))
                   .c_str());
  }

 private slots:
  void initTestCase() {
    const std::string root = test::golden_root();
    if (root.empty()) QSKIP("no golden data");
    models_ = root + "/models/tiny-dev";
  }

  void timestep_embedding_matches() {
    const auto gc = test::load_case("B_timestep_embedding");
    const at::Tensor emb = timestep_embedding(gc.input("t"));  // [8, 256]
    QCOMPARE(emb.scalar_type(), at::kFloat);
    QCOMPARE(emb.sizes(), gc.expect("embedding").sizes());
    const double d = test::max_abs_diff(emb, gc.expect("embedding"));
    qInfo("B_timestep_embedding: max abs %.3g (vs float64 values: %.3g)", d,
          test::max_abs_diff(emb, gc.expect("embedding_f64")));
    QVERIFY2(d <= gc.json["tolerance"]["embedding"]["max_abs"].get<double>(), std::to_string(d).c_str());
  }

  void layouts_agree() {
    // Both layouts (and the diffusers model folder) describe the same model with bit-identical parameters.
    FluxCheckpointInfo bi, di;
    auto b = load_flux(models_ + "/comfy/flux.safetensors", {}, &bi);
    auto d = load_flux(models_ + "/diffusers", {}, &di);
    QCOMPARE(bi.layout, FluxLayout::BFL);
    QCOMPARE(di.layout, FluxLayout::Diffusers);
    QVERIFY(di.config_source.find("config.json") != std::string::npos);
    QCOMPARE(bi.config_source, std::string("tensor shapes"));
    QVERIFY2(bi.config == di.config, (bi.config.describe() + " vs " + di.config.describe()).c_str());
    QCOMPARE(bi.config.hidden_size, 128);
    QCOMPARE(bi.config.num_heads, 2);
    QCOMPARE(bi.config.axes_dim, (std::vector<std::int64_t>{8, 28, 28}));
    QCOMPARE(bi.config.context_in_dim, 32);
    QCOMPARE(bi.config.vec_in_dim, 64);
    QVERIFY(bi.config.guidance_embed);
    const auto bp = b->named_parameters(), dp = d->named_parameters();
    QCOMPARE(bp.size(), dp.size());
    for (const auto& kv : bp) {
      const at::Tensor* other = dp.find(kv.key());
      QVERIFY2(other, kv.key().c_str());
      QVERIFY2(at::equal(kv.value(), *other), kv.key().c_str());
    }
    // The BFL file's keys are exactly the model's parameter names.
    auto store = io::TensorStore::open(models_ + "/comfy/flux.safetensors");
    QCOMPARE(static_cast<std::size_t>(bp.size()), store->names().size());
    for (const auto& n : store->names()) QVERIFY2(bp.find(n), n.c_str());
    QCOMPARE(bi.config.parameter_count(), [&] {
      std::int64_t n = 0;
      for (const auto& kv : bp) n += kv.value().numel();
      return n;
    }());
  }

  void forward_bfl_data() { cases_data(); }
  void forward_bfl() {
    QFETCH(QString, name);
    run_case(name.toStdString(), model("bfl"), "comfy/flux.safetensors", /*controls=*/true);
  }
  void forward_diffusers_data() { cases_data(); }
  void forward_diffusers() {
    QFETCH(QString, name);
    run_case(name.toStdString(), model("diffusers"), "diffusers/transformer");
  }

  void forward_bf16_storage_per_layer_upcast() {
    // Weights kept as BF16 and upcast per layer give the same float32 results.
    Flux& m = model("bfl_keep_bf16");
    QCOMPARE(m->img_in->weight().scalar_type(), at::kBFloat16);
    run_case("B_transformer_4x4_base", m, "bf16 storage");
    run_case("B_transformer_32x48_yarn_paper_base16_t0.6", m, "bf16 storage");
  }

  void forward_f8_weights() {
    run_case("B_transformer_4x4_f8_weights", model("f8"), "comfy/flux_f8_e4m3.safetensors");
    run_case("B_transformer_4x4_f8_weights", model("f8_keep"), "flux_f8_e4m3, keep storage dtype");
  }

  void f8_file_dequantised_exactly() {
    // The F8 model's matrices are the F8_E4M3 codes decoded exactly: compare with an independent decode of the
    // raw bytes through the e4m3 table of the golden dtype case.
    auto table = test::load_case("H_safetensors_dtypes").expect("e4m3_table");  // [256] float32
    auto store = io::TensorStore::open(models_ + "/comfy/flux_f8_e4m3.safetensors");
    const auto params = model("f8")->named_parameters();
    int n_f8 = 0;
    for (const auto& f : store->files())
      for (const auto& t : f->tensors()) {
        if (t.dtype != io::DType::F8_E4M3) continue;
        ++n_f8;
        const at::Tensor codes = f->raw_bytes(t.name).to(at::kLong);              // [numel]
        const at::Tensor expect = table.index_select(0, codes).reshape(t.shape);  // float32
        QVERIFY2(at::equal(params[t.name], expect), t.name.c_str());
      }
    QCOMPARE(n_f8, 36);
  }

  void attention_chunking_is_exact_enough() {
    // The chunked path (any chunk size) equals a float64 softmax(q·kᵀ/√D)·v.
    c10::InferenceMode guard;
    auto gen = at::detail::createCPUGenerator(7);
    const at::Tensor q = at::randn({2, 3, 37, 16}, gen), k = at::randn({2, 3, 37, 16}, gen),
                     v = at::randn({2, 3, 37, 16}, gen);
    const at::Tensor ref = at::matmul(
        at::softmax(at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-2, -1)) / 4.0, -1), v.to(at::kDouble));
    for (std::int64_t bytes : {std::int64_t{1}, std::int64_t{2 * 3 * 37 * 8 * 5}, std::int64_t{256} << 20}) {
      const at::Tensor out = scaled_dot_product_chunked(q, k, v, bytes);
      QVERIFY2(test::max_abs_diff(out, ref) < 2e-6, std::to_string(test::max_abs_diff(out, ref)).c_str());
    }
    QVERIFY(test::max_abs_diff(scaled_dot_product(q, k, v), ref) < 2e-6);
    const at::Tensor bf =
        scaled_dot_product_chunked(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), 4096);
    QCOMPARE(bf.scalar_type(), at::kBFloat16);
    QVERIFY(test::rel_l2(bf, ref) < 2e-2);
    qInfo("attention backend on CPU: %s", attention_backend(at::kCPU).c_str());
  }

  void compute_dtypes_run() {
    // bf16 and fp16 compute give the golden output to their precision.
    c10::InferenceMode guard;
    const auto gc = test::load_case("B_transformer_16x16_yarn_dype_t0.8");
    const auto& p = gc.json.at("params");
    for (auto dt : {at::kBFloat16, at::kHalf}) {
      FluxLoadOptions o;
      o.dtype = dt;
      Flux m{nullptr};
      try {
        m = load_flux(models_ + "/comfy/flux.safetensors", o);
      } catch (const InvalidArgument& e) {
        // LibTorch < 2.2 has no float16 matmul on the CPU: refused up front, with the reason.
        QCOMPARE(dt, at::kHalf);
        QVERIFY2(std::string(e.what()).find("float16") != std::string::npos, e.what());
        qInfo("%s", e.what());
        continue;
      }
      QCOMPARE(m->img_in->weight().scalar_type(), dt);
      const at::Tensor out =
          m->forward(gc.input("img"), gc.input("img_ids"), gc.input("txt"), gc.input("txt_ids"), gc.input("timesteps"),
                     gc.input("y"), gc.input("guidance"), dype_config(p), p.at("dype_t").get<double>());
      QCOMPARE(out.scalar_type(), dt);
      const double r = test::rel_l2(out, gc.expect("out"));
      qInfo("%s compute: out rel_l2 %.3g", c10::toString(dt), r);
      QVERIFY2(r < 3e-2, std::to_string(r).c_str());
    }
  }

 private:
  void cases_data() {
    QTest::addColumn<QString>("name");
    for (const char* c : kCases) QTest::newRow(c) << QString(c);
  }
};

QTEST_APPLESS_MAIN(TestGoldenTransformer)
#include "test_golden_transformer.moc"
