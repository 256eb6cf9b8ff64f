// test-deps: pipeline
// LoRA on models/tiny-dev (issue 14), against an oracle that does not use the runtime path: for each key family
// (BFL/ComfyUI, kohya, diffusers/PEFT) the test writes a random LoRA for every linear layer of the tiny BF16
// transformer, and itself merges the same adapters into a float32 copy of the checkpoint, W' = W + s·(alpha/r)·B·A,
// with its own table of diffusers names and row ranges (q/k/v and proj_mlp parts of our fused layers, the swapped
// halves of norm_out). Generating from the merged file and generating with the LoRA applied at runtime must give
// the same latent up to float32 rounding; strength 0 must equal no LoRA bit for bit, on the same loaded pipeline.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "core/common/error.h"
#include "core/common/sha256.h"
#include "core/flux/loader.h"
#include "core/flux/lora.h"
#include "core/io/tensor_store.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/request_metadata.h"
#include "tests/support/error_of.h"
#include "tests/support/golden.h"
#include "tests/support/safetensors_writer.h"

using namespace dype;
namespace fs = std::filesystem;

namespace {

enum class Format { Bfl, Kohya, Diffusers };

std::string bytes_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.nbytes()));
}

// The diffusers parts of a fused BFL layer (module name without ".weight") in row order; {} for a 1:1 layer.
std::vector<std::string> split_parts(const std::string& m) {
  const auto dot = m.find('.', m.find('.') + 1);  // "double_blocks.N" | "single_blocks.N"
  const std::string block = m.substr(0, dot), rest = dot == std::string::npos ? "" : m.substr(dot + 1);
  const std::string n = block.substr(block.find('.') + 1);
  if (block.rfind("double_blocks.", 0) == 0 && rest == "img_attn.qkv") {
    const std::string p = "transformer_blocks." + n + ".attn.";
    return {p + "to_q", p + "to_k", p + "to_v"};
  }
  if (block.rfind("double_blocks.", 0) == 0 && rest == "txt_attn.qkv") {
    const std::string p = "transformer_blocks." + n + ".attn.";
    return {p + "add_q_proj", p + "add_k_proj", p + "add_v_proj"};
  }
  if (block.rfind("single_blocks.", 0) == 0 && rest == "linear1") {
    const std::string p = "single_transformer_blocks." + n + ".";
    return {p + "attn.to_q", p + "attn.to_k", p + "attn.to_v", p + "proj_mlp"};
  }
  return {};
}

// The diffusers name of a 1:1 BFL layer (the test's own table, written from the diffusers FluxTransformer2DModel).
std::string diffusers_name(const std::string& m) {
  static const std::map<std::string, std::string> top = {
      {"img_in", "x_embedder"},
      {"txt_in", "context_embedder"},
      {"time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"},
      {"time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"},
      {"guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"},
      {"guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"},
      {"vector_in.in_layer", "time_text_embed.text_embedder.linear_1"},
      {"vector_in.out_layer", "time_text_embed.text_embedder.linear_2"},
      {"final_layer.linear", "proj_out"},
      {"final_layer.adaLN_modulation.1", "norm_out.linear"},
  };
  if (auto it = top.find(m); it != top.end()) return it->second;
  static const std::map<std::string, std::string> dbl = {
      {"img_mod.lin", "norm1.linear"},        {"txt_mod.lin", "norm1_context.linear"},
      {"img_attn.proj", "attn.to_out.0"},     {"txt_attn.proj", "attn.to_add_out"},
      {"img_mlp.0", "ff.net.0.proj"},         {"img_mlp.2", "ff.net.2"},
      {"txt_mlp.0", "ff_context.net.0.proj"}, {"txt_mlp.2", "ff_context.net.2"},
  };
  static const std::map<std::string, std::string> sgl = {{"linear2", "proj_out"}, {"modulation.lin", "norm.linear"}};
  const auto d1 = m.find('.'), d2 = m.find('.', d1 + 1);
  const std::string n = m.substr(d1 + 1, d2 - d1 - 1), rest = m.substr(d2 + 1);
  if (m.rfind("double_blocks.", 0) == 0) return "transformer_blocks." + n + "." + dbl.at(rest);
  return "single_transformer_blocks." + n + "." + sgl.at(rest);
}

std::string underscored(std::string s) {
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

struct Lora {
  std::vector<test::RawTensor> tensors;
  std::map<std::string, at::Tensor> delta;  // BFL module -> (alpha/r)·B·A [out, in] float32 (strength 1)
};

// A random rank-`r` LoRA in `format` on every linear layer of the BFL checkpoint `store`, and its merged deltas.
Lora make_lora(const io::TensorStore& store, Format format, std::int64_t r, std::uint64_t seed) {
  at::manual_seed(seed);
  const std::int64_t hidden = store.find("img_in.weight")->shape[0];
  Lora lora;
  auto bf16 = [](at::IntArrayRef shape) { return (at::randn(shape) * 0.15).to(at::kBFloat16); };
  auto add = [&](const std::string& stem, const char* down, const char* up, const at::Tensor& a, const at::Tensor& b) {
    lora.tensors.push_back({stem + down, "BF16", a.sizes().vec(), bytes_of(a)});
    lora.tensors.push_back({stem + up, "BF16", b.sizes().vec(), bytes_of(b)});
  };
  int layer = 0;
  for (const auto& name : store.names()) {
    const io::TensorInfo* info = store.find(name);
    if (info->shape.size() != 2 || name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
    const std::string m = name.substr(0, name.size() - 7);
    const std::int64_t out = info->shape[0], in = info->shape[1];
    at::Tensor delta = at::zeros({out, in});
    if (format == Format::Diffusers) {
      const std::vector<std::string> parts = split_parts(m);
      if (!parts.empty()) {
        std::int64_t row = 0;
        for (std::size_t i = 0; i < parts.size(); ++i) {
          const std::int64_t rows = i + 1 < parts.size() ? hidden : out - row;
          const at::Tensor a = bf16({r, in}), b = bf16({rows, r});
          add("transformer." + parts[i], ".lora_A.weight", ".lora_B.weight", a, b);
          delta.narrow(0, row, rows).add_(at::matmul(b.to(at::kFloat), a.to(at::kFloat)));
          row += rows;
        }
      } else {
        const at::Tensor a = bf16({r, in}), b = bf16({out, r});
        add("transformer." + diffusers_name(m), ".lora_A.weight", ".lora_B.weight", a, b);
        at::Tensor bb = b.to(at::kFloat);
        if (m == "final_layer.adaLN_modulation.1")  // diffusers (scale, shift) rows -> BFL (shift, scale)
          bb = at::cat({bb.narrow(0, out / 2, out / 2), bb.narrow(0, 0, out / 2)});
        delta = at::matmul(bb, a.to(at::kFloat));
      }
    } else {
      const at::Tensor a = bf16({r, in}), b = bf16({out, r});
      // kohya always carries alpha; the BFL file on every other layer, so both scale paths are exercised.
      const bool with_alpha = format == Format::Kohya || layer++ % 2 == 0;
      const float alpha = with_alpha ? 2.0f : static_cast<float>(r);
      const std::string stem = format == Format::Kohya ? "lora_unet_" + underscored(m) : "diffusion_model." + m;
      if (format == Format::Kohya)
        add(stem, ".lora_down.weight", ".lora_up.weight", a, b);
      else
        add(stem, ".lora_A.weight", ".lora_B.weight", a, b);
      if (with_alpha) lora.tensors.push_back({stem + ".alpha", "F32", {}, test::le_bytes(std::vector<float>{alpha})});
      delta = at::matmul(b.to(at::kFloat), a.to(at::kFloat)) * (alpha / static_cast<double>(r));
    }
    lora.delta[m] = delta;
  }
  return lora;
}

// The checkpoint as float32 with W' = W + Σ strength·delta for each (lora, strength).
void write_merged(const io::TensorStore& store, const std::vector<std::pair<const Lora*, double>>& loras,
                  const std::string& path) {
  std::vector<test::RawTensor> out;
  for (const auto& name : store.names()) {
    at::Tensor w = store.tensor(name, at::kFloat).clone();
    const std::string m = name.size() > 7 ? name.substr(0, name.size() - 7) : "";
    for (const auto& [lora, s] : loras)
      if (auto it = lora->delta.find(m); it != lora->delta.end() && name.compare(name.size() - 7, 7, ".weight") == 0)
        w += s * it->second;
    out.push_back({name, "F32", w.sizes().vec(), bytes_of(w)});
  }
  test::write_safetensors(path, out);
}

using test::error_of;

}  // namespace

class TestLora : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::string comfy_;
  std::shared_ptr<const io::TensorStore> store_;
  at::Tensor reference_latent_;

  std::string file(const std::string& name) const { return (fs::path(tmp_.path().toStdString()) / name).string(); }

  ModelPaths paths_for(const std::string& transformer) const {
    ModelPaths p;
    p.model = transformer;
    p.vae = comfy_ + "/ae.safetensors";
    p.clip = comfy_ + "/clip_l.safetensors";
    p.t5 = comfy_ + "/t5xxl.safetensors";
    p.tokenizers = comfy_;
    return p;
  }

  static GenerationRequest request() {
    GenerationRequest r;
    r.prompt = "a lighthouse at dusk";
    r.width = 256;
    r.height = 256;
    r.steps = 4;
    r.seed = 7;
    r.preview_every = 0;
    return r;
  }

  at::Tensor latent_of(const std::string& transformer, const std::vector<LoraRef>& loras = {}) {
    auto pipe = FluxPipeline::load(paths_for(transformer), LoadOptions{});
    GenerationRequest r = request();
    r.loras = loras;
    return pipe->generate(r).latent;
  }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    comfy_ = test::golden_root() + "/models/tiny-dev/comfy";
    store_ = io::TensorStore::open(comfy_ + "/flux.safetensors");
    reference_latent_ = latent_of(comfy_ + "/flux.safetensors");
  }

  void sha256_known_values() {
    QCOMPARE(sha256_hex("", 0), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    QCOMPARE(sha256_hex("abc", 3), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const std::string two_blocks =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 56 bytes: padding spills
    QCOMPARE(sha256_hex(two_blocks.data(), two_blocks.size()),
             std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    const std::string million(1000000, 'a');
    test::write_file(file("a.bin"), million);
    QCOMPARE(sha256_file_hex(file("a.bin")),
             std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  }

  void runtime_lora_equals_merged_checkpoint_data() {
    QTest::addColumn<int>("format");
    QTest::addColumn<double>("strength");
    QTest::newRow("BFL/ComfyUI lora_A/lora_B, alpha on half") << int(Format::Bfl) << 0.8;
    QTest::newRow("kohya lora_down/lora_up + alpha") << int(Format::Kohya) << 1.0;
    QTest::newRow("diffusers/PEFT split q/k/v, proj_mlp") << int(Format::Diffusers) << 0.6;
  }
  void runtime_lora_equals_merged_checkpoint() {
    QFETCH(int, format);
    QFETCH(double, strength);
    const std::string tag = std::to_string(format);
    const Lora lora = make_lora(*store_, Format(format), 4, 100 + format);
    test::write_safetensors(file("lora" + tag + ".safetensors"), lora.tensors);
    write_merged(*store_, {{&lora, strength}}, file("merged" + tag + ".safetensors"));

    const at::Tensor merged = latent_of(file("merged" + tag + ".safetensors"));
    const at::Tensor runtime =
        latent_of(comfy_ + "/flux.safetensors", {{file("lora" + tag + ".safetensors"), strength, ""}});
    const double r = test::rel_l2(runtime, merged), effect = test::rel_l2(merged, reference_latent_);
    qInfo("%s: rel_l2(runtime, merged) %.3g; LoRA effect rel_l2(merged, no LoRA) %.3g", QTest::currentDataTag(), r,
          effect);
    QVERIFY2(effect > 1e-2, std::to_string(effect).c_str());  // the adapters really change the image
    QVERIFY2(std::isfinite(r) && r <= 1e-5, std::to_string(r).c_str());
  }

  void several_loras_at_once() {
    const Lora a = make_lora(*store_, Format::Bfl, 4, 7), b = make_lora(*store_, Format::Diffusers, 8, 8);
    test::write_safetensors(file("two_a.safetensors"), a.tensors);
    test::write_safetensors(file("two_b.safetensors"), b.tensors);
    write_merged(*store_, {{&a, 0.5}, {&b, -0.7}}, file("two_merged.safetensors"));
    const at::Tensor merged = latent_of(file("two_merged.safetensors"));
    const at::Tensor runtime = latent_of(comfy_ + "/flux.safetensors",
                                         {{file("two_a.safetensors"), 0.5, ""}, {file("two_b.safetensors"), -0.7, ""}});
    const double r = test::rel_l2(runtime, merged);
    qInfo("BFL 0.5 + diffusers -0.7: rel_l2(runtime, merged) %.3g", r);
    QVERIFY2(std::isfinite(r) && r <= 1e-5, std::to_string(r).c_str());
  }

  void strength_zero_and_switching_without_reload() {
    const Lora lora = make_lora(*store_, Format::Kohya, 4, 3);
    const std::string path = file("switch.safetensors");
    test::write_safetensors(path, lora.tensors);
    auto pipe = FluxPipeline::load(paths_for(comfy_ + "/flux.safetensors"), LoadOptions{});
    GenerationRequest r = request();
    r.loras = {{path, 0.0, ""}};
    const GenerationResult zero = pipe->generate(r);
    QVERIFY(at::equal(zero.latent, reference_latent_));  // strength 0: the term is not computed at all
    QCOMPARE(zero.request.loras.size(), std::size_t(1));
    QCOMPARE(zero.request.loras[0].sha256, sha256_file_hex(path));
    r.loras = {{path, 1.0, ""}};
    const at::Tensor on = pipe->generate(r).latent;
    QVERIFY(test::rel_l2(on, reference_latent_) > 1e-2);
    r.loras = {{path, 0.5, ""}};  // re-weighted on the loaded model
    const at::Tensor half = pipe->generate(r).latent;
    QVERIFY(!at::equal(half, on));
    r.loras.clear();  // removed: exactly the model without LoRA again
    QVERIFY(at::equal(pipe->generate(r).latent, reference_latent_));
    r.loras = {{path, 1.0, ""}};
    QVERIFY(at::equal(pipe->generate(r).latent, on));
  }

  void metadata_round_trip() {
    const std::string path = file("lora0.safetensors");
    if (!fs::exists(path)) test::write_safetensors(path, make_lora(*store_, Format::Bfl, 4, 1).tensors);
    GenerationResult res;
    res.request = request();
    res.request.loras = {{path, 0.75, sha256_file_hex(path)}};
    res.model_label = "tiny";
    const auto chunks = png_metadata(res, "test");
    std::map<std::string, std::string> text;
    for (const auto& c : chunks) text[c.key] = c.value;
    QVERIFY2(text["parameters"].find("Lora hashes: \"lora0: " + res.request.loras[0].sha256.substr(0, 12)) !=
                 std::string::npos,
             text["parameters"].c_str());
    QVERIFY(text[kPngJsonKey].find("\"file\":\"lora0.safetensors\"") != std::string::npos);
    const GenerationRequest back = request_from_png_text(text);
    QCOMPARE(back.loras.size(), std::size_t(1));
    QVERIFY(back.loras[0] == res.request.loras[0]);
    QVERIFY(missing_lora_files(back).empty());
    GenerationRequest moved = back;
    moved.loras[0].path = file("gone.safetensors");
    QCOMPARE(missing_lora_files(moved), std::vector<std::string>{file("gone.safetensors")});
  }

  void unmatched_keys_are_listed() {
    Lora lora = make_lora(*store_, Format::Bfl, 4, 5);
    const at::Tensor a = at::zeros({4, 128}, at::kBFloat16);
    lora.tensors.push_back(
        {"diffusion_model.double_blocks.99.img_attn.qkv.lora_A.weight", "BF16", {4, 128}, bytes_of(a)});
    lora.tensors.push_back(
        {"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", "BF16", {4, 128}, bytes_of(a)});
    const std::string path = file("unmatched.safetensors");
    test::write_safetensors(path, lora.tensors);
    auto model = flux::load_flux(comfy_ + "/flux.safetensors");
    std::string msg = error_of([&] { flux::load_lora(path, *model); });
    qInfo("%s", msg.c_str());
    QVERIFY2(msg.find("2 of") != std::string::npos &&
                 msg.find("double_blocks.99.img_attn.qkv.lora_A") != std::string::npos &&
                 msg.find("lora_te1_text_model_encoder_layers_0_mlp_fc1") != std::string::npos &&
                 msg.find("unmatched.safetensors") != std::string::npos &&
                 msg.find("Text-encoder") != std::string::npos,
             msg.c_str());
    // The pipeline refuses it before any work, with the same message.
    auto pipe = FluxPipeline::load(paths_for(comfy_ + "/flux.safetensors"), LoadOptions{});
    GenerationRequest r = request();
    r.loras = {{path, 1.0, ""}};
    QVERIFY(error_of([&] { pipe->generate(r); }).find("double_blocks.99") != std::string::npos);
    // A rank mismatch between A and B, and an A without its B.
    std::vector<test::RawTensor> bad = {
        {"diffusion_model.img_in.lora_A.weight", "BF16", {4, 64}, bytes_of(at::zeros({4, 64}, at::kBFloat16))},
        {"diffusion_model.img_in.lora_B.weight", "BF16", {128, 3}, bytes_of(at::zeros({128, 3}, at::kBFloat16))},
        {"diffusion_model.txt_in.lora_A.weight", "BF16", {4, 32}, bytes_of(at::zeros({4, 32}, at::kBFloat16))},
    };
    test::write_safetensors(file("bad.safetensors"), bad);
    msg = error_of([&] { flux::load_lora(file("bad.safetensors"), *model); });
    qInfo("%s", msg.c_str());
    QVERIFY2(msg.find("img_in") != std::string::npos && msg.find("[128, 3]") != std::string::npos &&
                 msg.find("txt_in: a down/A matrix without its up/B") != std::string::npos,
             msg.c_str());
  }
};

QTEST_GUILESS_MAIN(TestLora)
#include "test_lora.moc"
