// test-deps: io
// `dype info` (the built CLI, run as a process) on every folder and file under ../shared/golden/models: model
// folders and safetensors files are described as the tiny-dev README states; every other path gets a clear error.
#include <QProcess>
#include <QtTest>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/golden.h"
#include "tests/support/tiny_dev_readme.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The `dype` binary of this build: $DYPE_CLI, else <build>/app/dype beside <build>/tests/<this test>.
std::string dype_cli() {
  if (const char* env = std::getenv("DYPE_CLI")) return env;
  return (fs::canonical("/proc/self/exe").parent_path().parent_path() / "app" / "dype").string();
}

struct Run {
  int code = -1;
  std::string out, err;
};

Run run_dype(const QStringList& args) {
  QProcess p;
  p.start(QString::fromStdString(dype_cli()), args);
  Run r;
  if (!p.waitForStarted(30000) || !p.waitForFinished(120000)) {
    r.err = "could not run " + dype_cli();
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = p.readAllStandardOutput().toStdString();
  r.err = p.readAllStandardError().toStdString();
  return r;
}

std::string models() { return dype::test::golden_root() + "/models"; }
std::string tiny_dev() { return models() + "/tiny-dev"; }

}  // namespace

class TestCliInfo : public QObject {
  Q_OBJECT

 private:
  dype::test::TinyDevReadme readme_;

  std::map<std::string, json> described_;  // path -> `dype info --json` output (each path is run once)

  json info_json(const std::string& path) {
    auto it = described_.find(path);
    if (it != described_.end()) return it->second;
    const Run r = run_dype({"info", QString::fromStdString(path), "--json"});
    if (r.code != 0) throw std::runtime_error("dype info " + path + " exited " + std::to_string(r.code) + ": " + r.err);
    return described_[path] = json::parse(r.out);
  }

  // The file entry of a component, checked against the README table of `rel` (path under tiny-dev).
  void check_file(const json& file, const std::string& rel) {
    const auto& want = readme_.files.at(rel);
    std::int64_t params = 0, bytes = 0, f8 = 0;
    for (const auto& [name, shape] : want) {
      const std::int64_t n = dype::test::numel_of(shape);
      params += n;
      const bool is_f8 = rel.find("f8_e4m3") != std::string::npos && shape.size() >= 2;
      bytes += n * (is_f8 ? 1 : 2);
      f8 += is_f8;
    }
    QCOMPARE(file["tensors"].get<std::size_t>(), want.size());
    QCOMPARE(file["parameters"].get<std::int64_t>(), params);
    QCOMPARE(file["bytes"].get<std::int64_t>(), bytes);
    json dtypes = {{"BF16", static_cast<std::int64_t>(want.size()) - f8}};
    if (f8) dtypes["F8_E4M3"] = f8;
    QCOMPARE(file["dtypes"], dtypes);
  }

  static std::map<std::string, std::string> hints_of(const json& comp) {
    std::map<std::string, std::string> h;
    for (const auto& kv : comp["hints"]) h[kv[0].get<std::string>()] = kv[1].get<std::string>();
    return h;
  }

  void check_flux_hints(const json& comp) {
    const auto& hp = readme_.hyper.at("transformer");
    const auto h = hints_of(comp);
    for (const char* key :
         {"hidden_size", "num_heads", "depth", "depth_single_blocks", "in_channels", "context_in_dim", "vec_in_dim"})
      QCOMPARE(h.at(key), hp.at(key));
    QCOMPARE(h.at("mlp_ratio") + ".0", hp.at("mlp_ratio"));  // README writes 4.0, we print 4
    QCOMPARE(h.at("guidance_embed"), std::string(hp.at("guidance_embed") == "True" ? "yes" : "no"));
    QVERIFY(h.at("variant").rfind(hp.at("guidance_embed") == "True" ? "dev" : "schnell", 0) == 0);
    QCOMPARE(h.at("qkv_bias"), std::string(hp.at("qkv_bias") == "True" ? "yes" : "no"));
  }

 private slots:
  void initTestCase() {
    QVERIFY2(fs::exists(dype_cli()), ("dype CLI not built at " + dype_cli()).c_str());
    readme_ = dype::test::parse_tiny_dev_readme(tiny_dev() + "/README.md");
    QVERIFY(!readme_.files.empty());
  }

  // Every folder and safetensors file under models/ is described (exit 0); other files (one of each extension,
  // to keep the number of process starts down) are refused with an error naming them (exit 1).
  void every_path_under_models() {
    std::vector<fs::path> paths{models()};
    std::set<std::string> refused_extensions;
    for (const auto& e : fs::recursive_directory_iterator(models())) {
      const fs::path& p = e.path();
      const bool model_path =
          fs::is_directory(p) || p.extension() == ".safetensors" || p.filename() == "model_index.json";
      if (model_path || refused_extensions.insert(p.extension().string()).second) paths.push_back(p);
    }
    int described = 0, refused = 0;
    for (const auto& p : paths) {
      const bool model_path =
          fs::is_directory(p) || p.extension() == ".safetensors" || p.filename() == "model_index.json";
      if (model_path) {
        try {
          QVERIFY(info_json(p.string()).contains("layout"));
        } catch (const std::exception& e) {
          QFAIL(e.what());
        }
        ++described;
      } else {
        const Run r = run_dype({"info", QString::fromStdString(p.string())});
        QVERIFY2(r.code == 1, ("dype info " + p.string() + " exited " + std::to_string(r.code)).c_str());
        QVERIFY2(r.err.find("is not a model file") != std::string::npos && r.err.find(p.string()) != std::string::npos,
                 r.err.c_str());
        ++refused;
      }
    }
    qInfo("described %d model paths, refused %d other files", described, refused);
    QVERIFY(described >= 20);

    const json tiny = info_json(tiny_dev());
    QCOMPARE(tiny["layout"].get<std::string>(), std::string("folder of model folders"));
    QCOMPARE(tiny["children"].size(), std::size_t{2});
    std::map<std::string, std::string> child_layouts;
    for (const auto& c : tiny["children"])
      child_layouts[fs::path(c["path"].get<std::string>()).filename().string()] = c["layout"].get<std::string>();
    QCOMPARE(child_layouts.at("comfy"), std::string("folder of single-file components"));
    QCOMPARE(child_layouts.at("diffusers"), std::string("diffusers pipeline folder"));
    QCOMPARE(info_json(tiny_dev() + "/comfy")["components"].size(), std::size_t{7});  // 5 files + 2 tokenizers
    QCOMPARE(info_json(tiny_dev() + "/diffusers/transformer")["layout"].get<std::string>(),
             std::string("diffusers component folder"));
    QCOMPARE(info_json(tiny_dev() + "/comfy/tokenizer_2")["components"][0]["kind"].get<std::string>(),
             std::string("T5 tokenizer"));
  }

  void comfy_single_files() {
    const std::map<std::string, std::string> kinds = {{"flux.safetensors", "flux transformer"},
                                                      {"flux_f8_e4m3.safetensors", "flux transformer"},
                                                      {"ae.safetensors", "autoencoder"},
                                                      {"clip_l.safetensors", "CLIP text encoder"},
                                                      {"t5xxl.safetensors", "T5 encoder"}};
    for (const auto& [file, kind] : kinds) {
      const json j = info_json(tiny_dev() + "/comfy/" + file);
      QCOMPARE(j["layout"].get<std::string>(), std::string("single safetensors file"));
      QCOMPARE(j["components"].size(), std::size_t{1});
      const json& c = j["components"][0];
      QCOMPARE(c["kind"].get<std::string>(), kind);
      QCOMPARE(c["prefix"].get<std::string>(), std::string());
      QCOMPARE(c["files"].size(), std::size_t{1});
      check_file(c["files"][0], "comfy/" + file);
      if (kind == "flux transformer") check_flux_hints(c);
      // The other four files and both tokenizer folders are seen beside it.
      QCOMPARE(j["siblings"].size(), std::size_t{6});
    }
  }

  void diffusers_folder() {
    const json j = info_json(tiny_dev() + "/diffusers");
    QCOMPARE(j["layout"].get<std::string>(), std::string("diffusers pipeline folder"));
    QCOMPARE(j["pipeline_class"].get<std::string>(), std::string("FluxPipeline"));
    std::map<std::string, json> by_role;
    for (const auto& c : j["components"]) {
      QVERIFY2(c["problem"].get<std::string>().empty(), c["problem"].get<std::string>().c_str());
      by_role[c["role"].get<std::string>()] = c;
    }
    QCOMPARE(by_role.size(), std::size_t{7});
    const std::map<std::string, std::pair<std::string, std::string>> expect = {
        {"transformer", {"flux transformer", "transformer/diffusion_pytorch_model.safetensors"}},
        {"vae", {"autoencoder", "vae/diffusion_pytorch_model.safetensors"}},
        {"text_encoder", {"CLIP text encoder", "text_encoder/model.safetensors"}},
        {"text_encoder_2", {"T5 encoder", "text_encoder_2/model.safetensors"}},
        {"tokenizer", {"CLIP tokenizer", ""}},
        {"tokenizer_2", {"T5 tokenizer", ""}},
        {"scheduler", {"scheduler", ""}}};
    for (const auto& [role, kf] : expect) {
      const json& c = by_role.at(role);
      QCOMPARE(c["kind"].get<std::string>(), kf.first);
      if (kf.second.empty()) continue;
      QCOMPARE(c["files"].size(), std::size_t{1});
      check_file(c["files"][0], "diffusers/" + kf.second);
      QVERIFY2(c["config_mismatches"].empty(), c["config_mismatches"].dump().c_str());
    }
    QCOMPARE(by_role.at("transformer")["key_layout"].get<std::string>(), std::string("diffusers keys"));
    QCOMPARE(by_role.at("vae")["key_layout"].get<std::string>(), std::string("diffusers keys"));
    check_flux_hints(by_role.at("transformer"));
    const auto vae = hints_of(by_role.at("vae"));
    QCOMPARE(vae.at("latent_channels"), readme_.hyper.at("autoencoder").at("z_channels"));
    QCOMPARE(vae.at("base_channels"), readme_.hyper.at("autoencoder").at("ch"));
    QCOMPARE(vae.at("spatial_factor"), std::string("8"));  // README: spatial factor 8

    // The human-readable form says the same.
    const Run text = run_dype({"info", QString::fromStdString(tiny_dev() + "/diffusers")});
    QCOMPARE(text.code, 0);
    for (const char* s :
         {"diffusers pipeline folder (FluxPipeline)", "transformer [FluxTransformer2DModel]: flux transformer",
          "variant dev", "config.json agrees with the weights", "112 tensors, dtypes BF16 x112"})
      QVERIFY2(text.out.find(s) != std::string::npos, (std::string(s) + " not in:\n" + text.out).c_str());
  }

  void errors_are_clear() {
    const Run missing = run_dype({"info", QString::fromStdString(models() + "/no-such-model")});
    QCOMPARE(missing.code, 1);
    QVERIFY2(missing.err.find("does not exist") != std::string::npos, missing.err.c_str());
    const Run none = run_dype({"info"});
    QCOMPARE(none.code, 1);
    QVERIFY(none.err.find("exactly one PATH") != std::string::npos);
    const Run bad_opt = run_dype({"info", QString::fromStdString(models()), "--jsn"});
    QCOMPARE(bad_opt.code, 1);
    QVERIFY(bad_opt.err.find("jsn") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestCliInfo)
#include "test_cli_info.moc"
