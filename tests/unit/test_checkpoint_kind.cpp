// test-deps: io
// Checkpoint recognition from tensor-name lists alone (no files): each FLUX component in each layout and behind
// ComfyUI prefixes, key prefix detection, and the "this is not a ... checkpoint" messages the loaders throw:
// each names the file, what it looks like instead and where to pass it. Also io::read_json's errors.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <functional>

#include "core/common/error.h"
#include "core/io/checkpoint_kind.h"
#include "core/io/json_file.h"

using namespace dype::io;
using Names = std::vector<std::string>;

namespace {

const Names kFluxBfl{"double_blocks.0.img_attn.qkv.weight", "final_layer.linear.weight", "img_in.weight",
                     "single_blocks.0.linear1.weight", "txt_in.weight"};
const Names kFluxDiffusers{"context_embedder.weight", "proj_out.weight", "single_transformer_blocks.0.attn.to_q.weight",
                           "transformer_blocks.0.attn.to_q.weight", "x_embedder.weight"};
const Names kVaeBfl{"decoder.conv_in.weight", "decoder.up.0.block.0.conv1.weight", "encoder.conv_in.weight",
                    "encoder.down.0.block.0.conv1.weight"};
const Names kVaeDiffusers{"decoder.conv_in.weight", "decoder.up_blocks.0.resnets.0.conv1.weight",
                          "encoder.conv_in.weight", "encoder.down_blocks.0.resnets.0.conv1.weight"};
const Names kClip{"text_model.embeddings.position_embedding.weight", "text_model.embeddings.token_embedding.weight",
                  "text_model.final_layer_norm.weight"};
const Names kT5{"encoder.block.0.layer.0.SelfAttention.q.weight", "encoder.final_layer_norm.weight", "shared.weight"};

Names prefixed(const std::string& p, const Names& names) {
  Names out;
  for (const auto& n : names) out.push_back(p + n);
  return out;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

class TestCheckpointKind : public QObject {
  Q_OBJECT

 private slots:
  void recognises_each_kind_from_names() {
    struct Case {
      Names names;
      ComponentKind kind;
      KeyLayout layout;
    };
    const std::vector<Case> cases{{kFluxBfl, ComponentKind::FluxTransformer, KeyLayout::Bfl},
                                  {kFluxDiffusers, ComponentKind::FluxTransformer, KeyLayout::Diffusers},
                                  {kVaeBfl, ComponentKind::Autoencoder, KeyLayout::Bfl},
                                  {kVaeDiffusers, ComponentKind::Autoencoder, KeyLayout::Diffusers},
                                  {kClip, ComponentKind::ClipText, KeyLayout::HuggingFace},
                                  {kT5, ComponentKind::T5Encoder, KeyLayout::HuggingFace}};
    for (const auto& c : cases) {
      for (const std::string p : {"", "model.diffusion_model."}) {
        const auto g = classify_tensor_names(prefixed(p, c.names));
        QCOMPARE(g.size(), std::size_t{1});
        QCOMPARE(g[0].kind, c.kind);
        QCOMPARE(g[0].layout, c.layout);
        QCOMPARE(g[0].prefix, p);
        QCOMPARE(g[0].tensor_count, c.names.size());
      }
    }
    QCOMPARE(std::string(component_kind_name(ComponentKind::Autoencoder)), std::string("autoencoder"));
    QCOMPARE(std::string(key_layout_name(KeyLayout::Diffusers)), std::string("diffusers keys"));
    // A key that merely ends like an anchor is not one: the prefix must end at a key boundary.
    QVERIFY(classify_tensor_names({"xdecoder.conv_in.weight"}).empty());
  }

  void finds_key_prefixes() {
    auto prefix = [](const Names& names, const std::string& anchor) {
      return find_key_prefix(names, anchor).value_or("(none)");
    };
    QCOMPARE(prefix(kFluxBfl, "img_in.weight"), std::string());
    QCOMPARE(prefix(prefixed("model.diffusion_model.", kFluxBfl), "img_in.weight"),
             std::string("model.diffusion_model."));
    // The key itself wins over a prefixed copy (an all-in-one file that also holds the plain component).
    Names both = prefixed("vae.", kVaeBfl);
    both.insert(both.end(), kVaeBfl.begin(), kVaeBfl.end());
    QCOMPARE(prefix(both, "decoder.conv_in.weight"), std::string());
    QCOMPARE(prefix(kT5, "img_in.weight"), std::string("(none)"));
    QCOMPARE(prefix({"ximg_in.weight"}, "img_in.weight"), std::string("(none)"));
  }

  void describes_what_a_file_looks_like() {
    QVERIFY(has(describe_tensor_names(kVaeBfl), "an autoencoder (VAE"));
    QVERIFY(has(describe_tensor_names(kVaeBfl), "--vae"));
    QVERIFY(has(describe_tensor_names(kFluxDiffusers), "a FLUX transformer"));
    QVERIFY(has(describe_tensor_names(kFluxDiffusers), "--model"));
    QVERIFY(has(describe_tensor_names(kClip), "--clip"));
    QVERIFY(has(describe_tensor_names(kT5), "--t5"));
    // The kind the caller looks for is not offered back to it.
    QCOMPARE(describe_tensor_names(kT5, ComponentKind::T5Encoder), std::string());
    // The component holding most tensors is named.
    Names aio = prefixed("vae.", {"decoder.conv_in.weight"});
    for (const auto& n : prefixed("model.diffusion_model.", kFluxBfl)) aio.push_back(n);
    QVERIFY(has(describe_tensor_names(aio), "FLUX transformer"));
    QVERIFY(has(describe_tensor_names(aio, ComponentKind::FluxTransformer), "autoencoder"));
    // Not FLUX components.
    QVERIFY(has(describe_tensor_names({"lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight"}), "--lora"));
    QVERIFY(has(describe_tensor_names({"transformer.transformer_blocks.0.attn.to_q.lora_A.weight"}), "LoRA"));
    QVERIFY(has(describe_tensor_names({"model.diffusion_model.input_blocks.0.0.weight"}), "Stable Diffusion UNet"));
    QVERIFY(has(describe_tensor_names({"joint_blocks.0.x_block.attn.qkv.weight"}), "Stable Diffusion 3"));
    QCOMPARE(describe_tensor_names({"lm_head.weight"}), std::string());
  }

  // Every wrong-file message names the file, the component expected, what the file holds and the option to use.
  void wrong_file_messages() {
    struct Case {
      ComponentKind expected;
      Names names;
      std::vector<std::string> parts;
    };
    const std::vector<Case> cases{
        {ComponentKind::FluxTransformer,
         kVaeBfl,
         {"is not a FLUX transformer checkpoint", "looks like an autoencoder", "--vae"}},
        {ComponentKind::FluxTransformer, kClip, {"looks like a CLIP text encoder", "--clip"}},
        {ComponentKind::FluxTransformer, kT5, {"looks like a T5 encoder", "--t5"}},
        {ComponentKind::Autoencoder,
         kFluxBfl,
         {"is not an autoencoder checkpoint", "looks like a FLUX transformer", "--model"}},
        {ComponentKind::ClipText, kT5, {"is not a CLIP text encoder checkpoint", "looks like a T5 encoder", "--t5"}},
        {ComponentKind::T5Encoder,
         kClip,
         {"is not a T5 encoder checkpoint", "looks like a CLIP text encoder", "--clip"}},
    };
    for (const auto& c : cases) {
      const std::string msg =
          wrong_checkpoint_message("/models/x.safetensors", c.expected, "it has no tensor 'k'", c.names);
      QVERIFY2(has(msg, "'/models/x.safetensors'") && has(msg, "it has no tensor 'k'"), msg.c_str());
      QVERIFY2(has(msg, "First tensors: " + c.names.front()), msg.c_str());
      for (const auto& p : c.parts) QVERIFY2(has(msg, p), (p + " not in: " + msg).c_str());
    }
    // Nothing recognised: the reason and the first names, no guess.
    const std::string msg =
        wrong_checkpoint_message("a.safetensors", ComponentKind::T5Encoder, "why", {"lm_head.weight"});
    QVERIFY2(!has(msg, "looks like") && has(msg, "lm_head.weight"), msg.c_str());
    Names many;
    for (int i = 0; i < 9; ++i) many.push_back("t" + std::to_string(i));
    QVERIFY(has(wrong_checkpoint_message("a", ComponentKind::ClipText, "why", many), "(9 tensors)"));
  }

  void json_errors_name_the_file() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const std::string dir = tmp.path().toStdString();
    std::ofstream(dir + "/bad.json") << "{ not json";
    std::ofstream(dir + "/list.json") << "[1, 2]";
    std::ofstream(dir + "/ok.json") << R"({"a": 1})";
    auto message = [](const std::function<void()>& f) -> std::string {
      try {
        f();
      } catch (const dype::Error& e) {
        return e.what();
      }
      return "(no error)";
    };
    QCOMPARE(read_json_object(dir + "/ok.json").value("a", 0), 1);
    QCOMPARE(read_json(dir + "/list.json").size(), std::size_t{2});
    QVERIFY_EXCEPTION_THROWN(read_json(dir + "/missing.json"), dype::IoError);
    QVERIFY_EXCEPTION_THROWN(read_json(dir + "/bad.json"), dype::FormatError);
    QVERIFY_EXCEPTION_THROWN(read_json_object(dir + "/list.json"), dype::FormatError);
    std::string msg = message([&] { read_json(dir + "/bad.json"); });
    QVERIFY2(has(msg, dir + "/bad.json") && has(msg, "not valid JSON"), msg.c_str());
    msg = message([&] { read_json_object(dir + "/list.json"); });
    QVERIFY2(has(msg, dir + "/list.json") && has(msg, "not a JSON object"), msg.c_str());
    msg = message([&] { read_json(dir + "/missing.json"); });
    QVERIFY2(has(msg, dir + "/missing.json"), msg.c_str());
  }
};

QTEST_APPLESS_MAIN(TestCheckpointKind)
#include "test_checkpoint_kind.moc"
