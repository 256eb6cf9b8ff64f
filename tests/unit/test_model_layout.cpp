// test-deps: io
// Model layout detection on folders and files built by the test: component recognition from key names (with
// ComfyUI prefixes, all-in-one files; name lists alone are in test_checkpoint_kind), shape-derived hints,
// diffusers folders with broken parts, siblings of a single file, collections, the errors for paths that are not
// models, and where a loader finds one component given on its own (component_path / component_config).
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "core/common/error.h"
#include "core/io/checkpoint_kind.h"
#include "core/io/component_hints.h"
#include "core/io/model_layout.h"
#include "tests/support/safetensors_writer.h"

using namespace dype::io;
using dype::test::RawTensor;
namespace fs = std::filesystem;

namespace {

RawTensor zeros(const std::string& name, std::vector<std::int64_t> shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return {name, "BF16", std::move(shape), std::string(static_cast<std::size_t>(n) * 2, '\0')};
}

// A BFL flux transformer: hidden 96, head_dim 48 (2 heads), `depth` double and `single` single blocks,
// mlp hidden 288 (ratio 3), in 16, context 24, vec 40.
std::vector<RawTensor> flux_bfl(const std::string& p, int depth, int single, bool guidance) {
  std::vector<RawTensor> t{zeros(p + "img_in.weight", {96, 16}), zeros(p + "img_in.bias", {96}),
                           zeros(p + "txt_in.weight", {96, 24}), zeros(p + "vector_in.in_layer.weight", {96, 40}),
                           zeros(p + "final_layer.linear.weight", {16, 96})};
  for (int i = 0; i < depth; ++i) {
    const std::string b = p + "double_blocks." + std::to_string(i) + ".";
    t.push_back(zeros(b + "img_attn.qkv.weight", {288, 96}));
    t.push_back(zeros(b + "img_attn.qkv.bias", {288}));
    t.push_back(zeros(b + "img_attn.norm.query_norm.scale", {48}));
    t.push_back(zeros(b + "img_mlp.0.weight", {288, 96}));
  }
  for (int i = 0; i < single; ++i)
    t.push_back(zeros(p + "single_blocks." + std::to_string(i) + ".linear1.weight", {576, 96}));
  if (guidance) t.push_back(zeros(p + "guidance_in.in_layer.weight", {96, 256}));
  return t;
}

std::vector<RawTensor> flux_diffusers(bool guidance) {
  std::vector<RawTensor> t{zeros("x_embedder.weight", {96, 16}),
                           zeros("context_embedder.weight", {96, 24}),
                           zeros("time_text_embed.text_embedder.linear_1.weight", {96, 40}),
                           zeros("transformer_blocks.0.attn.to_q.weight", {96, 96}),
                           zeros("transformer_blocks.0.attn.norm_q.weight", {48}),
                           zeros("transformer_blocks.0.ff.net.0.proj.weight", {384, 96}),
                           zeros("single_transformer_blocks.0.attn.to_q.weight", {96, 96}),
                           zeros("single_transformer_blocks.1.attn.to_q.weight", {96, 96})};
  if (guidance) t.push_back(zeros("time_text_embed.guidance_embedder.linear_1.weight", {96, 256}));
  return t;
}

std::vector<RawTensor> vae_bfl(const std::string& p) {
  return {zeros(p + "encoder.conv_in.weight", {8, 3, 3, 3}),
          zeros(p + "encoder.down.0.block.0.conv1.weight", {8, 8, 3, 3}),
          zeros(p + "encoder.down.0.block.1.conv1.weight", {8, 8, 3, 3}),
          zeros(p + "encoder.down.1.block.0.conv1.weight", {8, 8, 3, 3}),
          zeros(p + "decoder.conv_in.weight", {8, 4, 3, 3}),
          zeros(p + "decoder.up.0.block.0.conv1.weight", {8, 8, 3, 3}),
          zeros(p + "decoder.up.1.block.0.conv1.weight", {8, 8, 3, 3}),
          zeros(p + "decoder.mid.block_1.conv1.weight", {8, 8, 3, 3}),
          zeros(p + "decoder.conv_out.weight", {3, 8, 3, 3})};
}

std::vector<RawTensor> clip(const std::string& p) {
  return {zeros(p + "text_model.embeddings.token_embedding.weight", {100, 16}),
          zeros(p + "text_model.embeddings.position_embedding.weight", {77, 16}),
          zeros(p + "text_model.encoder.layers.0.mlp.fc1.weight", {32, 16}),
          zeros(p + "text_model.final_layer_norm.weight", {16})};
}

std::vector<RawTensor> t5(const std::string& p) {
  return {zeros(p + "shared.weight", {50, 8}), zeros(p + "encoder.block.0.layer.0.SelfAttention.q.weight", {8, 8}),
          zeros(p + "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", {32, 2}),
          zeros(p + "encoder.block.0.layer.1.DenseReluDense.wi_0.weight", {20, 8}),
          zeros(p + "encoder.block.1.layer.0.SelfAttention.q.weight", {8, 8})};
}

std::vector<std::string> names_of(const std::vector<RawTensor>& t) {
  std::vector<std::string> out;
  for (const auto& x : t) out.push_back(x.name);
  return out;
}

template <typename... V>
std::vector<RawTensor> concat(V... parts) {
  std::vector<RawTensor> out;
  (out.insert(out.end(), parts.begin(), parts.end()), ...);
  return out;
}

std::string hint(const ComponentHints& h, const std::string& key) {
  for (const auto& [k, v] : h.items)
    if (k == key) return v;
  return "(absent)";
}

}  // namespace

class TestModelLayout : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;
  std::string root() const { return tmp_.path().toStdString(); }
  void write(const std::string& rel, const std::vector<RawTensor>& t) {
    fs::create_directories(fs::path(root() + "/" + rel).parent_path());
    dype::test::write_safetensors(root() + "/" + rel, t);
  }
  void text(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(root() + "/" + rel).parent_path());
    dype::test::write_file(root() + "/" + rel, content);
  }
  static const ModelComponent* role(const ModelLayout& m, const std::string& r) {
    for (const auto& c : m.components)
      if (c.role == r) return &c;
    return nullptr;
  }

 private slots:
  void initTestCase() { QVERIFY(tmp_.isValid()); }

  void classifies_single_components() {
    auto one = [](const std::vector<RawTensor>& t) {
      const auto g = classify_tensor_names(names_of(t));
      return g.size() == 1 ? g[0] : ComponentGuess{};
    };
    ComponentGuess g = one(flux_bfl("", 2, 1, true));
    QCOMPARE(g.kind, ComponentKind::FluxTransformer);
    QCOMPARE(g.layout, KeyLayout::Bfl);
    QCOMPARE(g.prefix, std::string());
    QCOMPARE(g.tensor_count, flux_bfl("", 2, 1, true).size());
    g = one(flux_bfl("model.diffusion_model.", 2, 1, false));
    QCOMPARE(g.kind, ComponentKind::FluxTransformer);
    QCOMPARE(g.prefix, std::string("model.diffusion_model."));
    g = one(flux_diffusers(true));
    QCOMPARE(g.kind, ComponentKind::FluxTransformer);
    QCOMPARE(g.layout, KeyLayout::Diffusers);
    g = one(vae_bfl(""));
    QCOMPARE(g.kind, ComponentKind::Autoencoder);
    QCOMPARE(g.layout, KeyLayout::Bfl);
    g = one({zeros("decoder.conv_in.weight", {8, 4, 3, 3}),
             zeros("decoder.mid_block.resnets.0.conv1.weight", {8, 8, 3, 3})});
    QCOMPARE(g.kind, ComponentKind::Autoencoder);
    QCOMPARE(g.layout, KeyLayout::Diffusers);
    g = one(clip("cond_stage_model.transformer."));
    QCOMPARE(g.kind, ComponentKind::ClipText);
    QCOMPARE(g.prefix, std::string("cond_stage_model.transformer."));
    g = one(t5(""));
    QCOMPARE(g.kind, ComponentKind::T5Encoder);
    QCOMPARE(g.tensor_count, std::size_t{5});
    // Not a FLUX component: nothing recognised; a lone single-block key is not a diffusers double block.
    QVERIFY(classify_tensor_names({"model.layers.0.weight", "lm_head.weight"}).empty());
    QVERIFY(classify_tensor_names({"single_transformer_blocks.0.attn.to_q.weight"}).empty());
  }

  void classifies_all_in_one_checkpoints() {
    const auto all = concat(flux_bfl("model.diffusion_model.", 1, 1, true), vae_bfl("vae."),
                            clip("text_encoders.clip_l.transformer."), t5("text_encoders.t5xxl.transformer."));
    const auto g = classify_tensor_names(names_of(all));
    QCOMPARE(g.size(), std::size_t{4});
    std::map<ComponentKind, ComponentGuess> by_kind;
    for (const auto& x : g) by_kind[x.kind] = x;
    QCOMPARE(by_kind[ComponentKind::FluxTransformer].prefix, std::string("model.diffusion_model."));
    QCOMPARE(by_kind[ComponentKind::FluxTransformer].tensor_count, flux_bfl("", 1, 1, true).size());
    QCOMPARE(by_kind[ComponentKind::Autoencoder].prefix, std::string("vae."));
    QCOMPARE(by_kind[ComponentKind::Autoencoder].tensor_count, vae_bfl("").size());
    QCOMPARE(by_kind[ComponentKind::ClipText].tensor_count, std::size_t{4});
    QCOMPARE(by_kind[ComponentKind::T5Encoder].prefix, std::string("text_encoders.t5xxl.transformer."));
    QCOMPARE(by_kind[ComponentKind::T5Encoder].tensor_count, std::size_t{5});

    write("aio/all_in_one.safetensors", all);
    const ModelLayout m = detect_model_layout(root() + "/aio/all_in_one.safetensors");
    QCOMPARE(m.kind, LayoutKind::SingleFile);
    QCOMPARE(m.components.size(), std::size_t{4});
    QVERIFY(m.find(ComponentKind::T5Encoder) != nullptr);
    QCOMPARE(m.find(ComponentKind::Autoencoder)->prefix, std::string("vae."));
  }

  void hints_come_from_shapes() {
    write("hints/flux.safetensors", flux_bfl("model.diffusion_model.", 3, 2, false));
    auto store = TensorStore::open(root() + "/hints/flux.safetensors");
    const auto g = classify_tensor_names(store->names()).at(0);
    const ComponentHints h = infer_hints(*store, g);
    QCOMPARE(hint(h, "hidden_size"), std::string("96"));
    QCOMPARE(hint(h, "head_dim"), std::string("48"));
    QCOMPARE(hint(h, "num_heads"), std::string("2"));
    QCOMPARE(hint(h, "depth"), std::string("3"));
    QCOMPARE(hint(h, "depth_single_blocks"), std::string("2"));
    QCOMPARE(hint(h, "mlp_ratio"), std::string("3"));
    QCOMPARE(hint(h, "in_channels"), std::string("16"));
    QCOMPARE(hint(h, "context_in_dim"), std::string("24"));
    QCOMPARE(hint(h, "vec_in_dim"), std::string("40"));
    QCOMPARE(hint(h, "qkv_bias"), std::string("yes"));
    QVERIFY(hint(h, "variant").rfind("schnell", 0) == 0);

    write("hints/dflux.safetensors", flux_diffusers(true));
    auto ds = TensorStore::open(root() + "/hints/dflux.safetensors");
    const ComponentHints dh = infer_hints(*ds, classify_tensor_names(ds->names()).at(0));
    QCOMPARE(hint(dh, "depth"), std::string("1"));
    QCOMPARE(hint(dh, "depth_single_blocks"), std::string("2"));
    QCOMPARE(hint(dh, "mlp_ratio"), std::string("4"));
    QVERIFY(hint(dh, "variant").rfind("dev", 0) == 0);

    write("hints/vae.safetensors", vae_bfl(""));
    auto vs = TensorStore::open(root() + "/hints/vae.safetensors");
    const ComponentHints vh = infer_hints(*vs, classify_tensor_names(vs->names()).at(0));
    QCOMPARE(hint(vh, "latent_channels"), std::string("4"));
    QCOMPARE(hint(vh, "base_channels"), std::string("8"));
    QCOMPARE(hint(vh, "levels"), std::string("2"));
    QCOMPARE(hint(vh, "res_blocks"), std::string("2"));
    QCOMPARE(hint(vh, "spatial_factor"), std::string("2"));

    write("hints/t5.safetensors", t5(""));
    auto ts = TensorStore::open(root() + "/hints/t5.safetensors");
    const ComponentHints th = infer_hints(*ts, classify_tensor_names(ts->names()).at(0));
    QCOMPARE(hint(th, "num_layers"), std::string("2"));
    QCOMPARE(hint(th, "num_heads"), std::string("2"));
    QCOMPARE(hint(th, "d_ff"), std::string("20"));

    // config.json cross-check: one disagreement reported with both numbers.
    text("hints/config.json",
         R"({"num_layers": 19, "num_single_layers": 2, "guidance_embeds": false, "attention_head_dim": 48})");
    const auto mism = check_config(root() + "/hints/config.json", ComponentKind::FluxTransformer, h);
    QCOMPARE(mism.size(), std::size_t{1});
    QVERIFY2(mism[0].find("num_layers = 19") != std::string::npos && mism[0].find("depth = 3") != std::string::npos,
             mism[0].c_str());
  }

  void diffusers_folder_with_problems() {
    const std::string d = "pipe";
    text(d + "/model_index.json", R"({"_class_name": "FluxPipeline", "_diffusers_version": "0.30.0",
      "transformer": ["diffusers", "FluxTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"],
      "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "T5EncoderModel"],
      "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "T5TokenizerFast"],
      "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"], "image_encoder": [null, null],
      "feature_extractor": ["transformers", "CLIPImageProcessor"]})");
    text(d + "/feature_extractor/preprocessor_config.json", "{}");
    write(d + "/transformer/diffusion_pytorch_model.safetensors", flux_diffusers(true));
    text(d + "/transformer/config.json", R"({"num_layers": 1, "num_single_layers": 2})");
    write(d + "/vae/diffusion_pytorch_model.safetensors", t5(""));  // wrong content
    write(d + "/text_encoder/model.safetensors", clip(""));
    // text_encoder_2 missing entirely
    text(d + "/tokenizer/vocab.json", "{}");
    text(d + "/tokenizer/merges.txt", "#version: 0.2\n");
    text(d + "/tokenizer_2/tokenizer_config.json", "{}");  // no spiece.model
    text(d + "/scheduler/scheduler_config.json", "{}");

    const ModelLayout m = detect_model_layout(root() + "/" + d);
    QCOMPARE(m.kind, LayoutKind::DiffusersPipeline);
    QCOMPARE(m.pipeline_class, std::string("FluxPipeline"));
    QCOMPARE(m.components.size(), std::size_t{8});           // [null, null] entries are not components
    QVERIFY(role(m, "feature_extractor")->problem.empty());  // not used by FLUX: a note, not a problem
    QVERIFY(role(m, "feature_extractor")->note.find("not used by FLUX") != std::string::npos);
    QCOMPARE(m.components.front().role, std::string("transformer"));  // ordered by kind
    const ModelComponent* tr = role(m, "transformer");
    QCOMPARE(tr->kind, ComponentKind::FluxTransformer);
    QCOMPARE(tr->layout, KeyLayout::Diffusers);
    QVERIFY(tr->problem.empty());
    QCOMPARE(tr->config_file, root() + "/" + d + "/transformer/config.json");
    QVERIFY(role(m, "vae")->problem.find("names AutoencoderKL but the weights hold a T5 encoder") != std::string::npos);
    QVERIFY(role(m, "text_encoder")->problem.empty());
    QVERIFY(role(m, "text_encoder_2")->problem.find("subfolder 'text_encoder_2' is missing") != std::string::npos);
    QVERIFY(role(m, "tokenizer")->problem.empty());
    QCOMPARE(role(m, "tokenizer")->kind, ComponentKind::ClipTokenizer);
    QVERIFY(role(m, "tokenizer_2")->problem.find("spiece.model is missing") != std::string::npos);
    QVERIFY(role(m, "scheduler")->problem.empty());
    QVERIFY(m.find(ComponentKind::T5Encoder) == nullptr);
    QVERIFY(m.find(ComponentKind::Autoencoder) == nullptr);  // only components without problems are found
    QCOMPARE(m.find(ComponentKind::ClipText)->role, std::string("text_encoder"));
    // model_index.json itself, and a component folder on its own.
    QCOMPARE(detect_model_layout(root() + "/" + d + "/model_index.json").kind, LayoutKind::DiffusersPipeline);
    const ModelLayout comp = detect_model_layout(root() + "/" + d + "/transformer");
    QCOMPARE(comp.kind, LayoutKind::DiffusersComponent);
    QCOMPARE(comp.components.at(0).kind, ComponentKind::FluxTransformer);
    QCOMPARE(detect_model_layout(root() + "/" + d + "/tokenizer").kind, LayoutKind::TokenizerFolder);
    QCOMPARE(detect_model_layout(root() + "/" + d + "/scheduler").kind, LayoutKind::SchedulerFolder);
  }

  void single_file_sees_its_siblings() {
    write("comfy/flux1-schnell.safetensors", flux_bfl("", 1, 1, false));
    write("comfy/ae.safetensors", vae_bfl(""));
    write("comfy/clip_l.safetensors", clip(""));
    write("comfy/t5xxl_fp16.safetensors", t5(""));
    text("comfy/tokenizer_2/spiece.model", "x");
    text("comfy/notes.txt", "not a model");
    const ModelLayout m = detect_model_layout(root() + "/comfy/flux1-schnell.safetensors");
    QCOMPARE(m.kind, LayoutKind::SingleFile);
    QCOMPARE(m.components.size(), std::size_t{1});
    QCOMPARE(m.components[0].kind, ComponentKind::FluxTransformer);
    QCOMPARE(m.siblings.size(), std::size_t{4});
    QCOMPARE(m.find(ComponentKind::Autoencoder)->path, root() + "/comfy/ae.safetensors");
    QCOMPARE(m.find(ComponentKind::T5Encoder)->path, root() + "/comfy/t5xxl_fp16.safetensors");
    QCOMPARE(m.find(ComponentKind::T5Tokenizer)->path, root() + "/comfy/tokenizer_2");
    QVERIFY(m.find(ComponentKind::ClipTokenizer) == nullptr);

    const ModelLayout folder = detect_model_layout(root() + "/comfy");
    QCOMPARE(folder.kind, LayoutKind::FileFolder);
    QCOMPARE(folder.components.size(), std::size_t{5});  // four files + the tokenizer folder

    // A corrupt sibling is reported, not thrown.
    dype::test::write_file(root() + "/comfy/broken.safetensors", "tiny");
    const ModelLayout again = detect_model_layout(root() + "/comfy");
    bool saw_broken = false;
    for (const auto& c : again.components)
      if (c.role == "broken.safetensors") saw_broken = c.problem.find("too short for a header") != std::string::npos;
    QVERIFY(saw_broken);
    fs::remove(root() + "/comfy/broken.safetensors");
  }

  void sharded_components() {
    write("sharded/transformer/diffusion_pytorch_model-00001-of-00002.safetensors", flux_diffusers(true));
    write("sharded/transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
          {zeros("norm_out.linear.weight", {192, 96})});
    std::string map;
    for (const auto& t : flux_diffusers(true))
      map += "\"" + t.name + "\":\"diffusion_pytorch_model-00001-of-00002.safetensors\",";
    map += "\"norm_out.linear.weight\":\"diffusion_pytorch_model-00002-of-00002.safetensors\"";
    text("sharded/transformer/diffusion_pytorch_model.safetensors.index.json", "{\"weight_map\":{" + map + "}}");
    text("sharded/transformer/config.json", "{}");
    const ModelLayout idx =
        detect_model_layout(root() + "/sharded/transformer/diffusion_pytorch_model.safetensors.index.json");
    QCOMPARE(idx.kind, LayoutKind::ShardedIndex);
    QCOMPARE(idx.components.size(), std::size_t{1});
    QCOMPARE(idx.components[0].kind, ComponentKind::FluxTransformer);
    QVERIFY(idx.siblings.empty());  // its shards are part of it, not siblings
    const ModelLayout folder = detect_model_layout(root() + "/sharded/transformer/");  // trailing slash
    QCOMPARE(folder.kind, LayoutKind::DiffusersComponent);
    QCOMPARE(folder.components.at(0).role, std::string("transformer"));
    QCOMPARE(folder.components.at(0).weight_files.size(), std::size_t{1});  // the index
    QCOMPARE(folder.components.at(0).contents.at(0).tensor_count, flux_diffusers(true).size() + 1);
  }

  void collections_and_errors() {
    fs::create_directories(root() + "/shelf/empty");
    fs::create_directories(root() + "/shelf/models");
    write("shelf/models/one/flux.safetensors", flux_bfl("", 1, 1, true));
    const ModelLayout m = detect_model_layout(root() + "/shelf");
    QCOMPARE(m.kind, LayoutKind::ModelCollection);
    QCOMPARE(m.children.size(), std::size_t{1});  // "empty" holds nothing and is not listed
    QCOMPARE(m.children[0].first, root() + "/shelf/models");
    QCOMPARE(m.children[0].second, LayoutKind::ModelCollection);

    try {
      detect_model_layout(root() + "/shelf/empty");
      QFAIL("no error for an empty folder");
    } catch (const dype::FormatError& e) {
      QVERIFY(std::string(e.what()).find("holds no model") != std::string::npos);
    }
    text("shelf/README.md", "# hello");
    try {
      detect_model_layout(root() + "/shelf/README.md");
      QFAIL("no error for a text file");
    } catch (const dype::FormatError& e) {
      QVERIFY(std::string(e.what()).find("is not a model file") != std::string::npos);
    }
    QVERIFY_EXCEPTION_THROWN(detect_model_layout(root() + "/shelf/missing"), dype::IoError);
    text("bad_index/model_index.json", "{ not json");
    QVERIFY_EXCEPTION_THROWN(detect_model_layout(root() + "/bad_index"), dype::FormatError);
  }

  void component_given_on_its_own() {
    const std::string p = root() + "/alone";
    text("alone/pipe/model_index.json", R"({"_class_name": "FluxPipeline"})");
    write("alone/pipe/vae/diffusion_pytorch_model.safetensors", vae_bfl(""));
    text("alone/pipe/vae/config.json", R"({"_class_name": "AutoencoderKL"})");
    // A pipeline folder stands for its subfolder; files and other folders stand for themselves.
    QCOMPARE(component_path(p + "/pipe", "vae", "autoencoder"), p + "/pipe/vae");
    QCOMPARE(component_path(p + "/pipe/vae", "vae", "autoencoder"), p + "/pipe/vae");
    const std::string file = p + "/pipe/vae/diffusion_pytorch_model.safetensors";
    QCOMPARE(component_path(file, "vae", "autoencoder"), file);
    try {
      component_path(p + "/pipe", "transformer", "FLUX transformer");
      QFAIL("no error for a missing subfolder");
    } catch (const dype::IoError& e) {
      QVERIFY2(std::string(e.what()).find("has no transformer/ sub-folder") != std::string::npos, e.what());
    }
    try {
      component_path(p + "/nowhere.safetensors", "vae", "autoencoder");
      QFAIL("no error for a missing path");
    } catch (const dype::IoError& e) {
      QVERIFY2(
          std::string(e.what()).find("autoencoder '" + p + "/nowhere.safetensors' does not exist") != std::string::npos,
          e.what());
    }
    // config.json: inside a folder always; beside a file only when it names the expected class.
    QCOMPARE(component_config(p + "/pipe/vae", "").value_or("(none)"), p + "/pipe/vae/config.json");
    QCOMPARE(component_config(file, "AutoencoderKL").value_or("(none)"), p + "/pipe/vae/config.json");
    QCOMPARE(component_config(file, "FluxTransformer2DModel").value_or("(none)"), std::string("(none)"));
    QCOMPARE(component_config(file, "").value_or("(none)"), std::string("(none)"));
    QCOMPARE(component_config(p + "/pipe/vae/missing", "").value_or("(none)"), std::string("(none)"));
  }
};

QTEST_APPLESS_MAIN(TestModelLayout)
#include "test_model_layout.moc"
