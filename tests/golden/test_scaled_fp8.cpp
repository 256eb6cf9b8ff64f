// test-deps: pipeline
// Stored-dtype weights and ComfyUI scaled fp8, end to end on models/tiny-dev (issue: real-size weights).
//
// The test quantises the tiny model's BF16 transformer and T5 itself — through the reference e4m3 table of the
// golden dtype case (H_safetensors_dtypes/e4m3_table), not through our decoder — into the published forms: a plain
// e4m3 cast, the legacy scaled form (`scaled_fp8` marker, `X.scale_weight`), the newer form (`X.weight_scale`,
// `X.comfy_quant`, `_quantization_metadata`) with per-tensor and per-row scales. Each file must generate what the
// BF16 original generates within fp8 error, keep its weights as float8 codes viewing the file mapping, and bad
// quantisation descriptions must be refused with messages that name the file and the tensor.
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "core/common/error.h"
#include "core/flux/loader.h"
#include "core/io/stored_weight.h"
#include "core/io/tensor_store.h"
#include "core/pipeline/flux_pipeline.h"
#include "core/pipeline/model_footprint.h"
#include "tests/support/error_of.h"
#include "tests/support/golden.h"
#include "tests/support/safetensors_writer.h"

using namespace dype;
namespace fs = std::filesystem;

namespace {

enum class Form { Plain, Legacy, ComfyQuant, ComfyQuantPerRow };

// Reference e4m3fn values of the 127 non-negative finite codes (0x00..0x7E), ascending with the code.
std::vector<float> positive_e4m3() {
  const at::Tensor table = test::load_case("H_safetensors_dtypes").expect("e4m3_table").contiguous();  // [256]
  const float* t = table.data_ptr<float>();
  return std::vector<float>(t, t + 127);
}

// Nearest e4m3 code of v (ties to the even code), clamped to ±448.
std::uint8_t encode_e4m3(float v, const std::vector<float>& pos) {
  const float a = std::min(std::fabs(v), pos.back());
  auto it = std::lower_bound(pos.begin(), pos.end(), a);
  std::size_t hi = static_cast<std::size_t>(it - pos.begin());
  std::size_t code = hi;
  if (hi > 0) {
    const float d_lo = a - pos[hi - 1], d_hi = hi < pos.size() ? pos[hi] - a : INFINITY;
    code = (d_lo < d_hi || (d_lo == d_hi && (hi - 1) % 2 == 0)) ? hi - 1 : hi;
  }
  return static_cast<std::uint8_t>(code | (std::signbit(v) && code != 0 ? 0x80 : 0));
}

std::string f32_bytes(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.numel()) * 4);
}

// Writes `src` (a BF16 safetensors file) to `dst` with every 2-D `.weight` quantised to e4m3 in `form`.
void quantise_file(const std::string& src, const std::string& dst, Form form, const std::vector<float>& pos) {
  auto store = io::TensorStore::open(src);
  std::vector<test::RawTensor> out;
  std::string layers_json;
  for (const auto& name : store->names()) {
    const io::TensorInfo* info = store->find(name);
    const at::Tensor raw = store->files()[0]->raw_bytes(name);
    const bool quantise =
        info->shape.size() == 2 && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    if (!quantise) {
      out.push_back({name, io::dtype_name(info->dtype), info->shape,
                     std::string(static_cast<const char*>(raw.data_ptr()), static_cast<std::size_t>(raw.numel()))});
      continue;
    }
    const at::Tensor w = store->tensor(name, at::kFloat);  // [rows, cols]
    at::Tensor scale;                                      // [] or [rows]
    if (form == Form::Plain)
      scale = at::ones({}, at::kFloat);
    else if (form == Form::ComfyQuantPerRow)
      scale = w.abs().amax(1).clamp_min(1e-12) / 448.0;
    else
      scale = (w.abs().max().clamp_min(1e-12) / 448.0).reshape({});
    const at::Tensor q = (w / (scale.dim() ? scale.unsqueeze(1) : scale)).contiguous();
    std::string codes(static_cast<std::size_t>(q.numel()), '\0');
    const float* qp = q.data_ptr<float>();
    for (std::int64_t i = 0; i < q.numel(); ++i)
      codes[static_cast<std::size_t>(i)] = static_cast<char>(encode_e4m3(qp[i], pos));
    out.push_back({name, "F8_E4M3", info->shape, codes});
    const std::string base = name.substr(0, name.size() - 7);
    std::vector<std::int64_t> scale_shape = scale.sizes().vec();
    if (form == Form::Legacy) out.push_back({base + ".scale_weight", "F32", scale_shape, f32_bytes(scale)});
    if (form == Form::ComfyQuant || form == Form::ComfyQuantPerRow) {
      out.push_back({base + ".weight_scale", "F32", scale_shape, f32_bytes(scale)});
      const std::string desc = R"({"format": "float8_e4m3fn"})";
      out.push_back({base + ".comfy_quant", "U8", {static_cast<std::int64_t>(desc.size())}, desc});
      layers_json +=
          std::string(layers_json.empty() ? "" : ",") + "\\\"" + base + "\\\":{\\\"format\\\":\\\"float8_e4m3fn\\\"}";
      out.push_back({base + ".input_scale", "F32", {}, f32_bytes(at::ones({}, at::kFloat))});
    }
  }
  if (form == Form::Legacy) out.push_back({"scaled_fp8", "F8_E4M3", {0}, ""});
  std::string data;
  for (const auto& t : out) data += t.bytes;
  const std::string meta =
      (form == Form::ComfyQuant || form == Form::ComfyQuantPerRow)
          ? R"({"_quantization_metadata":"{\"format_version\":\"1.0\",\"layers\":{)" + layers_json + "}}\"}"
          : "";
  test::write_file(dst, test::file_bytes(test::header_json(out, meta), data));
}

using test::error_of;

}  // namespace

class TestScaledFp8 : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::string comfy_;
  std::vector<float> pos_;
  at::Tensor reference_latent_;

  // A copy of the tiny ComfyUI set whose transformer and T5 are quantised in `form`.
  std::string make_set(const std::string& name, Form form) {
    const fs::path dir = fs::path(tmp_.path().toStdString()) / name;
    fs::create_directories(dir);
    for (const char* f : {"ae.safetensors", "clip_l.safetensors"}) fs::copy_file(fs::path(comfy_) / f, dir / f);
    for (const char* d : {"tokenizer", "tokenizer_2"})
      fs::copy(fs::path(comfy_) / d, dir / d, fs::copy_options::recursive);
    quantise_file(comfy_ + "/flux.safetensors", (dir / "flux.safetensors").string(), form, pos_);
    quantise_file(comfy_ + "/t5xxl.safetensors", (dir / "t5xxl.safetensors").string(), form, pos_);
    return (dir / "flux.safetensors").string();
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

  at::Tensor latent_of(const std::string& model) {
    ModelPaths paths;
    paths.model = model;
    auto pipe = FluxPipeline::load(paths, LoadOptions{});
    return pipe->generate(request()).latent;
  }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    comfy_ = test::golden_root() + "/models/tiny-dev/comfy";
    pos_ = positive_e4m3();
    QCOMPARE(pos_.back(), 448.0f);
    reference_latent_ = latent_of(comfy_ + "/flux.safetensors");
  }

  void decode_matches_the_reference_table_with_scales() {
    const at::Tensor table = test::load_case("H_safetensors_dtypes").expect("e4m3_table");  // [256]
    const at::Tensor codes = at::arange(0, 256, at::kInt).to(at::kByte).reshape({16, 16});
    const at::Tensor plain = io::decode_float8(codes, io::DType::F8_E4M3);
    QVERIFY(at::allclose(plain.reshape({-1}), table, 0, 0, /*equal_nan=*/true));
    const at::Tensor row_scale = at::linspace(0.5, 2.0, 16, at::kFloat);
    const at::Tensor scaled = io::decode_float8(codes, io::DType::F8_E4M3, at::kFloat, row_scale);
    QVERIFY(at::allclose(scaled, table.reshape({16, 16}) * row_scale.unsqueeze(1), 0, 0, true));
    const at::Tensor bf = io::decode_float8(codes, io::DType::F8_E4M3, at::kBFloat16, at::full({}, 0.25));
    QCOMPARE(bf.scalar_type(), at::kBFloat16);
    QVERIFY(
        at::allclose(bf.to(at::kFloat), (table.reshape({16, 16}) * 0.25).to(at::kBFloat16).to(at::kFloat), 0, 0, true));
  }

  void scaled_forms_generate_what_bf16_generates_data() {
    QTest::addColumn<int>("form");
    QTest::addColumn<double>("tolerance");
    QTest::newRow("plain e4m3 cast") << int(Form::Plain) << 0.025;
    QTest::newRow("legacy scaled_fp8") << int(Form::Legacy) << 0.02;
    QTest::newRow("comfy_quant per tensor") << int(Form::ComfyQuant) << 0.02;
    QTest::newRow("comfy_quant per row") << int(Form::ComfyQuantPerRow) << 0.02;
  }
  void scaled_forms_generate_what_bf16_generates() {
    QFETCH(int, form);
    QFETCH(double, tolerance);
    const std::string model = make_set("set" + std::to_string(form), Form(form));
    const at::Tensor latent = latent_of(model);
    const double r = test::rel_l2(latent, reference_latent_);
    qInfo("%s: latent rel_l2 vs BF16 %.4f", QTest::currentDataTag(), r);
    QVERIFY2(std::isfinite(r) && r <= tolerance, std::to_string(r).c_str());
  }

  void t5_in_a_dtype_mix_loads() {
    // Real T5 files mix dtypes (fp8 matrices, bf16 norms, f16 or f32 tables): each weight is read in its own.
    const fs::path dir = fs::path(tmp_.path().toStdString()) / "mix";
    fs::create_directories(dir);
    auto store = io::TensorStore::open(comfy_ + "/t5xxl.safetensors");
    std::vector<test::RawTensor> out;
    int i = 0;
    for (const auto& name : store->names()) {
      const at::Tensor w = store->tensor(name, at::kFloat);
      const at::Tensor raw = store->files()[0]->raw_bytes(name);
      std::string bytes(static_cast<const char*>(raw.data_ptr()), static_cast<std::size_t>(raw.numel()));
      std::string dtype = "BF16";
      switch (w.dim() == 2 ? i++ % 3 : -1) {
        case 0: dtype = "F32", bytes = f32_bytes(w); break;
        case 1: {
          const at::Tensor h = w.to(at::kHalf).contiguous();
          dtype = "F16",
          bytes = std::string(static_cast<const char*>(h.data_ptr()), static_cast<std::size_t>(h.numel()) * 2);
          break;
        }
        case 2: {
          const float* p = w.contiguous().data_ptr<float>();
          dtype = "F8_E4M3", bytes.assign(static_cast<std::size_t>(w.numel()), '\0');
          for (std::int64_t k = 0; k < w.numel(); ++k)
            bytes[static_cast<std::size_t>(k)] = static_cast<char>(encode_e4m3(p[k], pos_));
          break;
        }
        default: break;
      }
      out.push_back({name, dtype, w.sizes().vec(), bytes});
    }
    std::string data;
    for (const auto& t : out) data += t.bytes;
    const std::string t5 = (dir / "t5xxl_mix.safetensors").string();
    test::write_file(t5, test::file_bytes(test::header_json(out), data));
    ModelPaths paths;
    paths.model = comfy_ + "/flux.safetensors";
    paths.t5 = t5;
    auto pipe = FluxPipeline::load(paths, LoadOptions{});
    const double r = test::rel_l2(pipe->generate(request()).latent, reference_latent_);
    qInfo("T5 in F32 / F16 / F8_E4M3 / BF16: latent rel_l2 vs BF16 %.4f", r);
    QVERIFY2(std::isfinite(r) && r <= 0.02, std::to_string(r).c_str());
  }

  void fp8_weights_stay_fp8_views_of_the_file() {
    const std::string model = make_set("views", Form::ComfyQuant);
    auto store = io::TensorStore::open(model);
    flux::FluxLoadOptions o;
    o.keep_storage_dtype = true;
    flux::Flux m = flux::load_flux(store, o);
    const io::StoredWeight& w = m->double_blocks[0]->img_attn->qkv->stored_weight();
    QVERIFY(w.scale.defined());
    QCOMPARE(w.scale.dim(), 0);
    if (w.codes) {  // LibTorch without float8 types: the codes themselves, not a decoded copy
      QCOMPARE(w.data.scalar_type(), at::kByte);
      QVERIFY(w.data.data_ptr() == store->stored("double_blocks.0.img_attn.qkv.weight").data_ptr());
    }
    // 1 byte per matrix element in memory, as in the file (BF16 original: 2).
    const ModelFootprint fp = [&] {
      ModelPaths p;
      p.model = model;
      return model_footprint(p, LoadOptions{});
    }();
    QVERIFY(fp.transformer.resident_bytes < fp.transformer.file_bytes + 4096);
    QVERIFY(fp.transformer.layer_temp_bytes > 0);
  }

  void text_encoders_released_and_prompt_cached() {
    // Release policy: after encoding the text encoders are gone; the same prompt again comes from the cache
    // (no reload), a new prompt maps them again — and every result equals a run that kept them.
    ModelPaths paths;
    paths.model = comfy_ + "/flux.safetensors";
    LoadOptions release;
    release.text_encoders = TextEncoderPolicy::Release;
    auto pipe = FluxPipeline::load(paths, release);
    QVERIFY(pipe->text_encoders_loaded());
    GenerationRequest r = request();
    const GenerationResult first = pipe->generate(r);
    QVERIFY(!first.prompt_from_cache);
    QVERIFY(!pipe->text_encoders_loaded());
    QVERIFY(at::equal(first.latent, reference_latent_));
    r.seed = 8;
    const GenerationResult again = pipe->generate(r);
    QVERIFY(again.prompt_from_cache);
    QVERIFY(!pipe->text_encoders_loaded());
    r.prompt = "a harbour at dawn";
    const GenerationResult other = pipe->generate(r);
    QVERIFY(!other.prompt_from_cache);
    LoadOptions keep;
    keep.text_encoders = TextEncoderPolicy::Keep;
    auto kept = FluxPipeline::load(paths, keep);
    const GenerationResult expect = kept->generate(r);
    QVERIFY(kept->text_encoders_loaded());
    QVERIFY(at::equal(other.latent, expect.latent));
    QVERIFY(pipe->estimate(r).release_text_encoders);
    QVERIFY(!kept->estimate(r).release_text_encoders);
  }

  void bad_quantisation_is_refused_with_names() {
    const fs::path dir = fs::path(tmp_.path().toStdString()) / "bad";
    fs::create_directories(dir);
    const std::string src = make_set("bad_src", Form::Legacy);
    auto store = io::TensorStore::open(src);
    auto rewrite = [&](const std::string& file, const std::function<bool(test::RawTensor&)>& edit,
                       std::vector<test::RawTensor> extra = {}) {
      std::vector<test::RawTensor> ts;
      for (const auto& n : store->names()) {
        const io::TensorInfo* i = store->find(n);
        const at::Tensor raw = store->files()[0]->raw_bytes(n);
        test::RawTensor t{n, io::dtype_name(i->dtype), i->shape,
                          std::string(static_cast<const char*>(raw.data_ptr()), static_cast<std::size_t>(raw.numel()))};
        if (edit(t)) ts.push_back(t);
      }
      for (auto& e : extra) ts.push_back(e);
      std::string data;
      for (const auto& t : ts) data += t.bytes;
      const std::string path = (dir / file).string();
      test::write_file(path, test::file_bytes(test::header_json(ts), data));
      return path;
    };
    auto load = [](const std::string& path) { flux::load_flux(path); };

    // Scales without the marker: the file was altered.
    std::string msg = error_of(
        [&] { load(rewrite("no_marker.safetensors", [](test::RawTensor& t) { return t.name != "scaled_fp8"; })); });
    QVERIFY2(msg.find("scaled_fp8") != std::string::npos && msg.find("no_marker.safetensors") != std::string::npos,
             msg.c_str());
    // A scale that fits neither one value nor one per row.
    msg = error_of([&] {
      load(rewrite("bad_scale.safetensors", [](test::RawTensor& t) {
        if (t.name == "img_in.scale_weight") {
          t.shape = {2};
          t.bytes = f32_bytes(at::ones({2}));
        }
        return true;
      }));
    });
    QVERIFY2(msg.find("img_in.scale_weight") != std::string::npos && msg.find("per row") != std::string::npos,
             msg.c_str());
    // A layer format this version does not compute.
    const std::string int8 = R"({"format": "int8_tensorwise"})";
    msg = error_of([&] {
      load(rewrite("int8.safetensors", [](test::RawTensor&) { return true; },
                   {{"img_in.comfy_quant", "U8", {static_cast<std::int64_t>(int8.size())}, int8}}));
    });
    QVERIFY2(msg.find("int8_tensorwise") != std::string::npos && msg.find("img_in.comfy_quant") != std::string::npos,
             msg.c_str());
    // Tensors of another quantisation scheme.
    msg = error_of([&] {
      load(rewrite("nvfp4.safetensors", [](test::RawTensor&) { return true; },
                   {{"img_in.weight_scale_2", "F32", {}, f32_bytes(at::ones({}))}}));
    });
    QVERIFY2(msg.find("img_in.weight_scale_2") != std::string::npos, msg.c_str());
    // An integer weight where a float one belongs.
    msg = error_of([&] {
      load(rewrite("int_weight.safetensors", [](test::RawTensor& t) {
        if (t.name == "img_in.weight") t.dtype = "I8";
        return t.name != "img_in.scale_weight";
      }));
    });
    QVERIFY2(msg.find("img_in.weight") != std::string::npos && msg.find("floating-point") != std::string::npos,
             msg.c_str());
    // An fp8 dtype the reader does not know.
    msg = error_of([&] {
      load(rewrite("e8m0.safetensors", [](test::RawTensor& t) {
        if (t.name == "img_in.weight") t.dtype = "F8_E8M0";
        return true;
      }));
    });
    QVERIFY2(msg.find("F8_E8M0") != std::string::npos && msg.find("img_in.weight") != std::string::npos, msg.c_str());
  }
};

QTEST_GUILESS_MAIN(TestScaledFp8)
#include "test_scaled_fp8.moc"
