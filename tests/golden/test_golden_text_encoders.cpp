// test-deps: text
// Golden cases D_text_encoders_* (CLIP last hidden state + pooled, T5 last hidden state, intermediates; rel-L2
// <= 1e-5) from both model layouts (ComfyUI single files with shape-inferred configs, diffusers folders with
// config.json), with weights upcast at load and kept compact (bf16) with per-layer upcast; and
// D_t5_relative_buckets (exact).
#include <QtTest>
#include <set>
#include <string>

#include "core/io/tensor_store.h"
#include "core/text/clip_text_model.h"
#include "core/text/t5_encoder.h"
#include "tests/support/golden.h"

using namespace dype::text;

namespace {

struct Encoders {
  ClipTextModel clip{nullptr};
  T5Encoder t5{nullptr};
};

std::string layout_dir(const std::string& layout) { return dype::test::golden_root() + "/models/tiny-dev/" + layout; }

Encoders load(const std::string& layout, bool keep_compact) {
  TextEncoderOptions opt;
  opt.keep_storage_dtype = keep_compact;
  const std::string dir = layout_dir(layout);
  Encoders e;
  if (layout == "comfy") {
    e.clip = load_clip_text_model(dir + "/clip_l.safetensors", opt);
    e.t5 = load_t5_encoder(dir + "/t5xxl.safetensors", opt);
  } else {
    e.clip = load_clip_text_model(dir + "/text_encoder", opt);
    e.t5 = load_t5_encoder(dir + "/text_encoder_2", opt);
  }
  return e;
}

}  // namespace

class TestGoldenTextEncoders : public QObject {
  Q_OBJECT

  std::map<std::string, Encoders> enc_;  // "comfy", "diffusers", "comfy/compact", "diffusers/compact"

 private slots:
  void initTestCase() {
    for (const char* layout : {"comfy", "diffusers"}) {
      enc_[layout] = load(layout, false);
      enc_[std::string(layout) + "/compact"] = load(layout, true);
    }
  }

  void t5_relative_buckets() {
    const auto c = dype::test::load_case("D_t5_relative_buckets");
    const at::Tensor rp = c.input("relative_position");
    const at::Tensor got = t5_relative_position_bucket(rp, true, 32, 128);
    const at::Tensor want = c.expect("bucket");
    QCOMPARE(got.scalar_type(), at::kLong);
    QCOMPARE(got.sizes().vec(), want.sizes().vec());
    QVERIFY2(at::equal(got, want.to(at::kLong)), "bucket ids differ");
  }

  // The configs inferred from the ComfyUI files' shapes equal the diffusers config.json (tiny-dev README).
  void configs_agree() {
    for (const char* layout : {"comfy", "diffusers"}) {
      const auto& cc = enc_[layout].clip->config();
      QCOMPARE(int(cc.vocab_size), 49408);
      QCOMPARE(int(cc.hidden_size), 64);
      QCOMPARE(int(cc.intermediate_size), 128);
      QCOMPARE(int(cc.num_layers), 2);
      QCOMPARE(int(cc.num_heads), 2);
      QCOMPARE(int(cc.max_positions), 77);
      QCOMPARE(int(cc.eos_token_id), 2);
      QCOMPARE(cc.hidden_act, std::string("quick_gelu"));
      const auto& tc = enc_[layout].t5->config();
      QCOMPARE(int(tc.vocab_size), 32128);
      QCOMPARE(int(tc.d_model), 32);
      QCOMPARE(int(tc.d_kv), 16);
      QCOMPARE(int(tc.num_heads), 2);
      QCOMPARE(int(tc.d_ff), 64);
      QCOMPARE(int(tc.num_layers), 2);
      QCOMPARE(int(tc.num_buckets), 32);
      QCOMPARE(int(tc.max_distance), 128);
    }
  }

  // Parameters are registered under exactly the checkpoint's keys, and compact loading keeps bf16.
  void parameter_names_are_checkpoint_keys() {
    const std::string dir = layout_dir("comfy");
    for (const auto& [file, module] : std::vector<std::pair<std::string, torch::nn::Module*>>{
             {dir + "/clip_l.safetensors", enc_["comfy"].clip.get()},
             {dir + "/t5xxl.safetensors", enc_["comfy"].t5.get()}}) {
      const auto store = dype::io::TensorStore::open(file);
      const auto names = store->names();
      std::set<std::string> stored(names.begin(), names.end()), registered;
      for (const auto& p : module->named_parameters()) registered.insert(p.key());
      QCOMPARE(registered, stored);
    }
    for (const auto& p : enc_["comfy/compact"].t5->named_parameters()) QCOMPARE(p.value().scalar_type(), at::kBFloat16);
    for (const auto& p : enc_["comfy"].t5->named_parameters()) QCOMPARE(p.value().scalar_type(), at::kFloat);
  }

  void encoders_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("variant");
    for (const char* name : {"D_text_encoders_simple", "D_text_encoders_cjk_emoji", "D_text_encoders_very_long"})
      for (const char* v : {"comfy", "diffusers", "comfy/compact", "diffusers/compact"})
        QTest::newRow((std::string(name) + "/" + v).c_str()) << QString(name) << QString(v);
  }

  void encoders() {
    QFETCH(QString, name);
    QFETCH(QString, variant);
    const auto c = dype::test::load_case(name.toStdString());
    const double tol_clip = c.json["tolerance"]["clip_last_hidden_state"]["rel_l2"].get<double>();
    const double tol_pooled = c.json["tolerance"]["clip_pooled"]["rel_l2"].get<double>();
    const double tol_t5 = c.json["tolerance"]["t5_last_hidden_state"]["rel_l2"].get<double>();
    const double tol_inter = c.json["tolerance"]["intermediate"]["rel_l2"].get<double>();
    Encoders& e = enc_.at(variant.toStdString());

    c10::InferenceMode guard;
    std::map<std::string, at::Tensor> clip_inter, t5_inter;
    const ClipTextOutput clip = e.clip->forward(c.input("clip_ids"), &clip_inter);
    const at::Tensor t5 = e.t5->forward(c.input("t5_ids"), &t5_inter);

    QCOMPARE(clip.last_hidden_state.scalar_type(), at::kFloat);
    QCOMPARE(clip.last_hidden_state.sizes().vec(), c.expect("clip_last_hidden_state").sizes().vec());
    QCOMPARE(clip.pooled.sizes().vec(), c.expect("clip_pooled").sizes().vec());
    QCOMPARE(t5.sizes().vec(), c.expect("t5_last_hidden_state").sizes().vec());

    const double r_clip = dype::test::rel_l2(clip.last_hidden_state, c.expect("clip_last_hidden_state"));
    const double r_pooled = dype::test::rel_l2(clip.pooled, c.expect("clip_pooled"));
    const double r_t5 = dype::test::rel_l2(t5, c.expect("t5_last_hidden_state"));
    double r_inter = 0;
    int n_inter = 0;
    for (const auto& info : c.expected->tensors()) {
      const std::string& key = info.name;
      if (key.rfind("intermediate.", 0) != 0) continue;
      const bool is_clip = key.rfind("intermediate.clip.", 0) == 0;
      const std::string local = key.substr(std::string(is_clip ? "intermediate.clip." : "intermediate.t5.").size());
      const auto& inter = is_clip ? clip_inter : t5_inter;
      QVERIFY2(inter.count(local), ("no captured intermediate " + local).c_str());
      const double r = dype::test::rel_l2(inter.at(local), c.expect(key));
      QVERIFY2(r <= tol_inter, (key + ": rel_l2 " + std::to_string(r)).c_str());
      r_inter = std::max(r_inter, r);
      ++n_inter;
    }
    qInfo("%s: clip rel_l2 %.3g, pooled %.3g, t5 %.3g, %d intermediates max %.3g", qPrintable(variant), r_clip,
          r_pooled, r_t5, n_inter, r_inter);
    QVERIFY2(r_clip <= tol_clip, std::to_string(r_clip).c_str());
    QVERIFY2(r_pooled <= tol_pooled, std::to_string(r_pooled).c_str());
    QVERIFY2(r_t5 <= tol_t5, std::to_string(r_t5).c_str());
    // The pooled vector is the hidden state at the documented index.
    const int idx = c.json["params"]["clip_pooled_index"].get<int>();
    QVERIFY(at::equal(clip.pooled[0], clip.last_hidden_state[0][idx]));
  }

  // Compact (bf16) storage with per-layer upcast gives bit-identical activations to upcasting at load.
  void compact_storage_is_exact() {
    const auto c = dype::test::load_case("D_text_encoders_simple");
    c10::InferenceMode guard;
    for (const char* layout : {"comfy", "diffusers"}) {
      const auto a = enc_[layout].clip->forward(c.input("clip_ids"));
      const auto b = enc_[std::string(layout) + "/compact"].clip->forward(c.input("clip_ids"));
      QVERIFY(at::equal(a.last_hidden_state, b.last_hidden_state));
      QVERIFY(at::equal(enc_[layout].t5->forward(c.input("t5_ids")),
                        enc_[std::string(layout) + "/compact"].t5->forward(c.input("t5_ids"))));
    }
  }

  // Shorter (unpadded) sequences work: positions 0..L-1, pooled at the EOS.
  void unpadded_sequences() {
    const auto c = dype::test::load_case("D_text_encoders_simple");
    c10::InferenceMode guard;
    const at::Tensor ids = c.input("clip_ids").narrow(1, 0, 7);  // [BOS, 5 tokens, EOS]
    const auto full = enc_["comfy"].clip->forward(c.input("clip_ids"));
    const auto part = enc_["comfy"].clip->forward(ids);
    // Causal attention: the first 7 positions do not see the padding after them.
    QVERIFY(dype::test::rel_l2(part.last_hidden_state, full.last_hidden_state.narrow(1, 0, 7)) < 1e-6);
    QVERIFY(dype::test::rel_l2(part.pooled, full.pooled) < 1e-6);
  }

  // The demo model: deterministic per seed, and every parameter follows the HF naming.
  void random_models() {
    ClipTextConfig cc;
    cc.vocab_size = 1000, cc.hidden_size = 64, cc.intermediate_size = 128, cc.num_layers = 2, cc.num_heads = 2;
    T5EncoderConfig tc;
    tc.vocab_size = 500, tc.d_model = 32, tc.d_kv = 16, tc.num_heads = 2, tc.d_ff = 64, tc.num_layers = 2;
    auto a = make_random_clip_text_model(cc, 7), b = make_random_clip_text_model(cc, 7),
         d = make_random_clip_text_model(cc, 8);
    auto t1 = make_random_t5_encoder(tc, 7), t2 = make_random_t5_encoder(tc, 7);
    c10::InferenceMode guard;
    const at::Tensor ids = at::arange(77, at::kLong).view({1, 77}) * 11 % 1000;
    const auto oa = a->forward(ids), ob = b->forward(ids), od = d->forward(ids);
    QVERIFY(at::equal(oa.last_hidden_state, ob.last_hidden_state));
    QVERIFY(!at::equal(oa.last_hidden_state, od.last_hidden_state));
    QVERIFY(at::isfinite(oa.pooled).all().item<bool>());
    const at::Tensor tids = at::arange(64, at::kLong).view({1, 64}) * 7 % 500;
    const at::Tensor h1 = t1->forward(tids), h2 = t2->forward(tids);
    QVERIFY(at::equal(h1, h2));
    QCOMPARE(h1.sizes().vec(), (std::vector<std::int64_t>{1, 64, 32}));
    QVERIFY(at::isfinite(h1).all().item<bool>());
    QCOMPARE(a->named_parameters().size(), std::size_t(2 + 2 * 16 + 2));
    QVERIFY(a->named_parameters().contains("text_model.encoder.layers.1.mlp.fc2.weight"));
    QVERIFY(t1->named_parameters().contains("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"));
    QVERIFY(!t1->named_parameters().contains("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"));
  }
};

QTEST_APPLESS_MAIN(TestGoldenTextEncoders)
#include "test_golden_text_encoders.moc"
