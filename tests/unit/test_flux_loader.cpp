// test-deps: io dype flux
// FLUX transformer loading: layouts (BFL, prefixed, diffusers, sharded), strictness and its messages, config
// inference and validation, zero-copy loading, storage dtypes. Uses small checkpoints written by the test itself.
#include <c10/core/InferenceMode.h>
#include <unistd.h>

#include <QtTest>
#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/flux/config.h"
#include "core/flux/loader.h"
#include "core/flux/model.h"
#include "core/io/safetensors.h"

using namespace dype;
using namespace dype::flux;
namespace fs = std::filesystem;

namespace {

using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

FluxConfig small_config() {
  FluxConfig c;
  c.in_channels = 16;
  c.out_channels = 12;
  c.vec_in_dim = 12;
  c.context_in_dim = 8;
  c.hidden_size = 64;
  c.num_heads = 2;  // head dim 32 -> axes 4/14/14
  c.axes_dim = {4, 14, 14};
  c.mlp_ratio = 2.0;
  c.depth = 2;
  c.depth_single_blocks = 3;
  return c;
}

Tensors params_of(Flux& m, at::ScalarType dtype = at::kFloat) {
  Tensors out;
  for (const auto& kv : m->named_parameters()) out.emplace_back(kv.key(), kv.value().to(dtype));
  return out;
}

at::Tensor get(const Tensors& ts, const std::string& name) {
  for (const auto& [n, t] : ts)
    if (n == name) return t;
  throw std::runtime_error("test: no tensor " + name);
}

// The diffusers layout of a BFL state dict, written independently of the loader's mapping (as diffusers'
// conversion script does it: split fused tensors, swap the final (shift, scale) halves).
Tensors to_diffusers(const Tensors& bfl, const FluxConfig& c) {
  const std::int64_t h = c.hidden_size;
  Tensors d;
  auto put = [&](const std::string& dn, const std::string& bn) {
    for (const char* leaf : {".weight", ".bias"}) d.emplace_back(dn + leaf, get(bfl, bn + leaf));
  };
  put("x_embedder", "img_in");
  put("context_embedder", "txt_in");
  put("time_text_embed.timestep_embedder.linear_1", "time_in.in_layer");
  put("time_text_embed.timestep_embedder.linear_2", "time_in.out_layer");
  put("time_text_embed.text_embedder.linear_1", "vector_in.in_layer");
  put("time_text_embed.text_embedder.linear_2", "vector_in.out_layer");
  if (c.guidance_embed) {
    put("time_text_embed.guidance_embedder.linear_1", "guidance_in.in_layer");
    put("time_text_embed.guidance_embedder.linear_2", "guidance_in.out_layer");
  }
  put("proj_out", "final_layer.linear");
  for (const char* leaf : {".weight", ".bias"}) {
    auto ss = get(bfl, std::string("final_layer.adaLN_modulation.1") + leaf).chunk(2, 0);  // shift, scale
    d.emplace_back(std::string("norm_out.linear") + leaf, at::cat({ss[1], ss[0]}, 0));
  }
  for (std::int64_t i = 0; i < c.depth; ++i) {
    const std::string b = "double_blocks." + std::to_string(i) + ".",
                      t = "transformer_blocks." + std::to_string(i) + ".";
    put(t + "norm1.linear", b + "img_mod.lin");
    put(t + "norm1_context.linear", b + "txt_mod.lin");
    put(t + "attn.to_out.0", b + "img_attn.proj");
    put(t + "attn.to_add_out", b + "txt_attn.proj");
    put(t + "ff.net.0.proj", b + "img_mlp.0");
    put(t + "ff.net.2", b + "img_mlp.2");
    put(t + "ff_context.net.0.proj", b + "txt_mlp.0");
    put(t + "ff_context.net.2", b + "txt_mlp.2");
    d.emplace_back(t + "attn.norm_q.weight", get(bfl, b + "img_attn.norm.query_norm.scale"));
    d.emplace_back(t + "attn.norm_k.weight", get(bfl, b + "img_attn.norm.key_norm.scale"));
    d.emplace_back(t + "attn.norm_added_q.weight", get(bfl, b + "txt_attn.norm.query_norm.scale"));
    d.emplace_back(t + "attn.norm_added_k.weight", get(bfl, b + "txt_attn.norm.key_norm.scale"));
    for (const char* leaf : {".weight", ".bias"}) {
      auto img = get(bfl, b + "img_attn.qkv" + leaf).chunk(3, 0);
      auto txt = get(bfl, b + "txt_attn.qkv" + leaf).chunk(3, 0);
      const char* names[] = {"to_q", "to_k", "to_v"};
      const char* added[] = {"add_q_proj", "add_k_proj", "add_v_proj"};
      for (int j = 0; j < 3; ++j) {
        d.emplace_back(t + "attn." + names[j] + leaf, img[j].clone());
        d.emplace_back(t + "attn." + added[j] + leaf, txt[j].clone());
      }
    }
  }
  for (std::int64_t i = 0; i < c.depth_single_blocks; ++i) {
    const std::string b = "single_blocks." + std::to_string(i) + ".",
                      t = "single_transformer_blocks." + std::to_string(i) + ".";
    put(t + "proj_out", b + "linear2");
    put(t + "norm.linear", b + "modulation.lin");
    d.emplace_back(t + "attn.norm_q.weight", get(bfl, b + "norm.query_norm.scale"));
    d.emplace_back(t + "attn.norm_k.weight", get(bfl, b + "norm.key_norm.scale"));
    for (const char* leaf : {".weight", ".bias"}) {
      auto l1 = get(bfl, b + "linear1" + leaf).split_with_sizes({h, h, h, c.mlp_hidden_dim()}, 0);
      d.emplace_back(t + "attn.to_q" + leaf, l1[0].clone());
      d.emplace_back(t + "attn.to_k" + leaf, l1[1].clone());
      d.emplace_back(t + "attn.to_v" + leaf, l1[2].clone());
      d.emplace_back(t + "proj_mlp" + leaf, l1[3].clone());
    }
  }
  return d;
}

// Identity rotation table for L tokens (keeps these tests independent of the DyPE maths).
at::Tensor identity_pe(std::int64_t L, std::int64_t head_dim) {
  return at::eye(2).reshape({1, 1, 1, 1, 2, 2}).expand({1, 1, L, head_dim / 2, 2, 2}).contiguous();
}

at::Tensor run(Flux& m, std::uint64_t seed = 3) {
  c10::InferenceMode guard;
  const auto& c = m->config();
  auto gen = at::detail::createCPUGenerator(seed);
  const at::Tensor img = at::randn({1, 6, c.in_channels}, gen), txt = at::randn({1, 4, c.context_in_dim}, gen);
  const at::Tensor y = at::randn({1, c.vec_in_dim}, gen);
  const at::Tensor t = at::full({1}, 0.7), g = at::full({1}, 3.5);
  return m->forward(img, txt, t, y, c.guidance_embed ? g : at::Tensor(), identity_pe(10, c.head_dim()));
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no ModelError thrown)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

class TestFluxLoader : public QObject {
  Q_OBJECT
  fs::path dir_;
  Flux reference_{nullptr};
  Tensors bfl_;

  std::string write(const std::string& name, const Tensors& ts) {
    const std::string p = (dir_ / name).string();
    fs::create_directories(fs::path(p).parent_path());
    io::save_safetensors(p, ts);
    return p;
  }

 private slots:
  void initTestCase() {
    dir_ = fs::temp_directory_path() / ("dype_test_flux_loader_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    reference_ = make_random_flux(small_config(), 11);
    bfl_ = params_of(reference_);
  }
  void cleanupTestCase() { fs::remove_all(dir_); }

  void presets_and_parameter_count() {
    // FLUX.1-dev has 11,901,408,320 transformer parameters (diffusers' FluxTransformer2DModel.num_parameters()).
    QCOMPARE(FluxConfig::dev().parameter_count(), std::int64_t{11901408320});
    QCOMPARE(FluxConfig::dev().head_dim(), 128);
    QVERIFY(!FluxConfig::schnell().guidance_embed);
    QCOMPARE(FluxConfig::dev().parameter_count() - FluxConfig::schnell().parameter_count(),
             std::int64_t{256 * 3072 + 3072 + 3072 * 3072 + 3072});
    std::int64_t n = 0;
    for (const auto& [name, t] : bfl_) n += t.numel();
    QCOMPARE(small_config().parameter_count(), n);
  }

  void config_validation_messages() {
    FluxConfig c = small_config();
    c.num_heads = 3;
    auto msg = error_of([&] { c.validate("x.safetensors"); });
    QVERIFY2(contains(msg, "64") && contains(msg, "3 heads") && contains(msg, "x.safetensors"), msg.c_str());
    c = small_config();
    c.axes_dim = {4, 14, 12};
    msg = error_of([&] { c.validate(); });
    QVERIFY2(contains(msg, "sum to 30") && contains(msg, "head dim is 32"), msg.c_str());
    c = small_config();
    c.axes_dim = {5, 13, 14};
    msg = error_of([&] { c.validate(); });
    QVERIFY2(contains(msg, "even"), msg.c_str());
  }

  void config_from_diffusers_json() {
    nlohmann::json j = {{"_class_name", "FluxTransformer2DModel"},
                        {"attention_head_dim", 32},
                        {"num_attention_heads", 2},
                        {"num_layers", 1},
                        {"num_single_layers", 4},
                        {"joint_attention_dim", 8},
                        {"pooled_projection_dim", 12},
                        {"in_channels", 16},
                        {"out_channels", nullptr},
                        {"guidance_embeds", false},
                        {"axes_dims_rope", {4, 14, 14}},
                        {"patch_size", 1}};
    const FluxConfig c = flux_config_from_diffusers(j, "config.json");
    QCOMPARE(c.hidden_size, 64);
    QCOMPARE(c.out_channels, 16);  // null -> in_channels
    QCOMPARE(c.depth, 1);
    QCOMPARE(c.depth_single_blocks, 4);
    QVERIFY(!c.guidance_embed);
    j["patch_size"] = 2;
    auto msg = error_of([&] { flux_config_from_diffusers(j, "config.json"); });
    QVERIFY2(contains(msg, "patch_size 2"), msg.c_str());
    j["patch_size"] = 1;
    j["_class_name"] = "SD3Transformer2DModel";
    msg = error_of([&] { flux_config_from_diffusers(j, "config.json"); });
    QVERIFY2(contains(msg, "SD3Transformer2DModel"), msg.c_str());
  }

  void zero_copy_when_dtype_matches() {
    const std::string path = write("f32/flux.safetensors", bfl_);
    auto store = io::TensorStore::open(path);
    FluxCheckpointInfo info;
    Flux m = load_flux(store, {}, &info);
    QCOMPARE(info.layout, FluxLayout::BFL);
    QVERIFY2(info.config == small_config(), info.config.describe().c_str());
    const auto params = m->named_parameters();
    QCOMPARE(static_cast<std::size_t>(params.size()), bfl_.size());
    for (const auto& kv : params) {
      // A view of the mapping: the very address the store hands out for that tensor.
      QVERIFY2(kv.value().data_ptr() == store->tensor(kv.key()).data_ptr(), kv.key().c_str());
      QVERIFY(at::equal(kv.value(), get(bfl_, kv.key())));
    }
    QVERIFY(at::equal(run(m), run(reference_)));
  }

  void bf16_file_converted_or_kept() {
    const std::string path = write("bf16/flux.safetensors", params_of(reference_, at::kBFloat16));
    auto store = io::TensorStore::open(path);
    Flux converted = load_flux(store);
    const at::Tensor w = converted->img_in->weight();
    QCOMPARE(w.scalar_type(), at::kFloat);
    QVERIFY(w.data_ptr() != store->tensor("img_in.weight").data_ptr());  // a converted copy
    FluxLoadOptions keep;
    keep.keep_storage_dtype = true;
    Flux kept = load_flux(store, keep);
    QCOMPARE(kept->img_in->weight().scalar_type(), at::kBFloat16);
    QVERIFY(kept->img_in->weight().data_ptr() == store->tensor("img_in.weight").data_ptr());
    QVERIFY(kept->parameter_bytes() * 2 == converted->parameter_bytes());
    // Upcasting bf16 is exact, so per-layer upcast and load-time conversion compute the same numbers.
    const at::Tensor a = run(converted), b = run(kept);
    QCOMPARE(b.scalar_type(), at::kFloat);
    QVERIFY(at::equal(a, b));
  }

  void missing_key_is_reported() {
    Tensors ts;
    for (const auto& kv : bfl_)
      if (kv.first != "double_blocks.1.txt_mlp.2.bias") ts.push_back(kv);
    const std::string path = write("missing/flux.safetensors", ts);
    const auto msg = error_of([&] { load_flux(path); });
    qInfo("%s", msg.c_str());
    QVERIFY2(contains(msg, "1 missing") && contains(msg, "double_blocks.1.txt_mlp.2.bias [64]") &&
                 contains(msg, path) && contains(msg, "incomplete download"),
             msg.c_str());
  }

  void wrong_shape_is_reported() {
    Tensors ts = bfl_;
    for (auto& [n, t] : ts)
      if (n == "single_blocks.2.linear2.weight") t = at::zeros({64, 100});
    const auto msg = error_of([&] { load_flux(write("shape/flux.safetensors", ts)); });
    QVERIFY2(contains(msg, "1 with the wrong shape") && contains(msg, "single_blocks.2.linear2.weight") &&
                 contains(msg, "checkpoint has [64, 100], model expects [64, 192]") && contains(msg, "variant"),
             msg.c_str());
  }

  void unexpected_key_is_reported() {
    Tensors ts = bfl_;
    ts.emplace_back("double_blocks.0.img_attn.lora_up.weight", at::zeros({4, 64}));
    const auto msg = error_of([&] { load_flux(write("unexpected/flux.safetensors", ts)); });
    QVERIFY2(contains(msg, "1 unexpected") && contains(msg, "double_blocks.0.img_attn.lora_up.weight"), msg.c_str());
  }

  void wrong_file_kind_is_named() {
    auto msg = error_of([&] {
      load_flux(write("kind/ae.safetensors", {{"decoder.conv_in.weight", at::zeros({4, 4, 3, 3})},
                                              {"encoder.conv_in.weight", at::zeros({4, 3, 3, 3})}}));
    });
    QVERIFY2(contains(msg, "not a FLUX transformer") && contains(msg, "autoencoder"), msg.c_str());
    msg = error_of([&] {
      load_flux(write("kind/clip.safetensors", {{"text_model.embeddings.token_embedding.weight", at::zeros({9, 4})}}));
    });
    QVERIFY2(contains(msg, "CLIP"), msg.c_str());
    msg = error_of([&] {
      load_flux(write("kind/t5.safetensors", {{"shared.weight", at::zeros({9, 4})},
                                              {"encoder.block.0.layer.0.SelfAttention.q.weight", at::zeros({4, 4})}}));
    });
    QVERIFY2(contains(msg, "T5"), msg.c_str());
    // Not a safetensors file at all, and no file.
    const fs::path junk = dir_ / "kind" / "junk.safetensors";
    std::ofstream(junk) << "this is not a checkpoint";
    QVERIFY_EXCEPTION_THROWN(load_flux(junk.string()), FormatError);
    QVERIFY_EXCEPTION_THROWN(load_flux((dir_ / "nowhere.safetensors").string()), IoError);
  }

  void comfy_prefixed_checkpoint() {
    Tensors ts;
    for (const auto& [n, t] : bfl_) ts.emplace_back("model.diffusion_model." + n, t);
    ts.emplace_back("first_stage_model.decoder.conv_in.weight", at::zeros({4, 4, 3, 3}));  // other component
    FluxCheckpointInfo info;
    Flux m = load_flux(write("prefixed/all_in_one.safetensors", ts), {}, &info);
    QCOMPARE(info.prefix, std::string("model.diffusion_model."));
    QVERIFY(at::equal(run(m), run(reference_)));
  }

  void diffusers_folder_single_and_sharded() {
    const FluxConfig c = small_config();
    const Tensors d = to_diffusers(bfl_, c);
    nlohmann::json cfg = {{"_class_name", "FluxTransformer2DModel"},
                          {"attention_head_dim", 32},
                          {"num_attention_heads", 2},
                          {"num_layers", 2},
                          {"num_single_layers", 3},
                          {"joint_attention_dim", 8},
                          {"pooled_projection_dim", 12},
                          {"in_channels", 16},
                          {"out_channels", 12},
                          {"guidance_embeds", true},
                          {"axes_dims_rope", {4, 14, 14}}};
    // Whole folder with config.json: mlp_ratio is not in diffusers' config (always 4 there), so pass ours.
    write("diffusers/transformer/diffusion_pytorch_model.safetensors", d);
    std::ofstream(dir_ / "diffusers/transformer/config.json") << cfg.dump();
    FluxLoadOptions o;
    o.config = c;
    FluxCheckpointInfo info;
    Flux m = load_flux((dir_ / "diffusers/transformer").string(), o, &info);
    QCOMPARE(info.layout, FluxLayout::Diffusers);
    QVERIFY(at::equal(run(m), run(reference_)));
    for (const auto& kv : m->named_parameters()) QVERIFY2(at::equal(kv.value(), get(bfl_, kv.key())), kv.key().c_str());

    // config.json with the default mlp ratio 4 contradicts the weights: reported as shape errors.
    const auto msg = error_of([&] { load_flux((dir_ / "diffusers/transformer").string()); });
    QVERIFY2(contains(msg, "wrong shape") && contains(msg, "img_mlp.0.weight") && contains(msg, "config.json"),
             msg.c_str());

    // No config.json: inferred from the diffusers shapes. Sharded in two files with an index.
    Tensors a(d.begin(), d.begin() + d.size() / 2), b(d.begin() + d.size() / 2, d.end());
    write("sharded/model-00001-of-00002.safetensors", a);
    write("sharded/model-00002-of-00002.safetensors", b);
    nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
    for (const auto& [n, t] : a) index["weight_map"][n] = "model-00001-of-00002.safetensors";
    for (const auto& [n, t] : b) index["weight_map"][n] = "model-00002-of-00002.safetensors";
    std::ofstream(dir_ / "sharded/diffusion_pytorch_model.safetensors.index.json") << index.dump();
    Flux s = load_flux((dir_ / "sharded").string(), {}, &info);
    QCOMPARE(info.config_source, std::string("tensor shapes"));
    QVERIFY2(info.config == c, info.config.describe().c_str());
    QVERIFY(at::equal(run(s), run(reference_)));
  }

  void diffusers_missing_part_is_named() {
    Tensors d;
    for (const auto& kv : to_diffusers(bfl_, small_config()))
      if (kv.first != "single_transformer_blocks.1.proj_mlp.bias") d.push_back(kv);
    const auto msg = error_of([&] { load_flux(write("diffusers_missing/model.safetensors", d)); });
    qInfo("%s", msg.c_str());
    QVERIFY2(contains(msg, "single_blocks.1.linear1.bias") &&
                 contains(msg, "single_transformer_blocks.1.proj_mlp.bias") && contains(msg, "diffusers"),
             msg.c_str());
  }

  void schnell_layout_is_inferred() {
    FluxConfig c = small_config();
    c.guidance_embed = false;
    Flux schnell = make_random_flux(c, 5);
    FluxCheckpointInfo info;
    Flux m = load_flux(write("schnell/flux.safetensors", params_of(schnell)), {}, &info);
    QVERIFY(!info.config.guidance_embed);
    QVERIFY(!m->guidance_in);
    QVERIFY(at::equal(run(m), run(schnell)));
    // A dev model needs guidance.
    c10::InferenceMode guard;
    const auto& rc = reference_->config();
    bool threw = false;
    try {
      reference_->forward(at::zeros({1, 6, rc.in_channels}), at::zeros({1, 4, rc.context_in_dim}), at::full({1}, 0.5),
                          at::zeros({1, rc.vec_in_dim}), at::Tensor(), identity_pe(10, rc.head_dim()));
    } catch (const InvalidArgument& e) {
      threw = contains(e.what(), "guidance");
    }
    QVERIFY(threw);
  }

  void bad_input_shapes_are_invalid_arguments() {
    c10::InferenceMode guard;
    const auto& rc = reference_->config();
    QVERIFY_EXCEPTION_THROWN(
        reference_->forward(at::zeros({1, 6, rc.in_channels + 1}), at::zeros({1, 4, rc.context_in_dim}),
                            at::full({1}, 0.5), at::zeros({1, rc.vec_in_dim}), at::full({1}, 3.5),
                            identity_pe(10, rc.head_dim())),
        InvalidArgument);
    QVERIFY_EXCEPTION_THROWN(
        reference_->forward(at::zeros({1, 6, rc.in_channels}), at::zeros({1, 4, rc.context_in_dim}), at::full({1}, 0.5),
                            at::zeros({1, rc.vec_in_dim}), at::full({1}, 3.5), identity_pe(9, rc.head_dim())),
        InvalidArgument);
  }
};

QTEST_APPLESS_MAIN(TestFluxLoader)
#include "test_flux_loader.moc"
