// test-deps: text
// Text conditioning on bad input: malformed tokenizer files and mismatched / damaged encoder checkpoints raise
// typed errors whose messages name the file and the problem; invalid prompts and ids raise InvalidArgument.
// Also the SentencePiece reader on hand-built models whose segmentation follows from the unigram rules.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "core/text/clip_text_model.h"
#include "core/text/clip_tokenizer.h"
#include "core/text/sentencepiece_model.h"
#include "core/text/t5_encoder.h"
#include "core/text/t5_tokenizer.h"
#include "tests/support/golden.h"

using namespace dype;
using namespace dype::text;
namespace fs = std::filesystem;

namespace {

std::string tiny_dev() {
  // The golden tiny-dev model set; "" when the build found no golden folder.
  const std::string root = dype::test::golden_root();
  return root.empty() ? std::string() : root + "/models/tiny-dev";
}

// Why the tests that read real model files cannot run ("" when they can). A missing model set is a failure, not a
// skip: the golden data is part of the test setup (CI has it, and golden_data_present fails without it), and a
// skip would count checks that never ran as passed.
std::string tiny_dev_missing() {
  if (tiny_dev().empty())
    return "the golden tiny-dev model set is needed and ../shared/golden is missing (the build found no golden "
           "folder; see golden_data_present)";
  if (!fs::is_directory(tiny_dev())) return "the golden tiny-dev model set is needed and " + tiny_dev() + " is missing";
  return {};
}
#define REQUIRE_TINY_DEV() QVERIFY2(tiny_dev_missing().empty(), tiny_dev_missing().c_str())

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs f and checks that it throws E whose message contains every one of `parts`.
template <class E>
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      QVERIFY2(msg.find(p) != std::string::npos, ("message lacks '" + p + "': " + msg).c_str());
    return;
  } catch (const std::exception& e) {
    QFAIL((std::string("wrong exception type: ") + e.what()).c_str());
  }
  QFAIL("no exception thrown");
}

// --- a minimal protobuf writer for hand-made SentencePiece models ---
std::string varint(std::uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
  return s;
}
std::string field_bytes(int field, const std::string& b) { return varint(field << 3 | 2) + varint(b.size()) + b; }
std::string field_varint(int field, std::uint64_t v) { return varint(field << 3) + varint(v); }
std::string field_float(int field, float f) {
  std::string s = varint(field << 3 | 5);
  char b[4];
  std::memcpy(b, &f, 4);
  return s + std::string(b, 4);
}
std::string piece(const std::string& text, float score, int type = 1) {
  return field_bytes(1, field_bytes(1, text) + field_float(2, score) + field_varint(3, type));
}
const std::string kU2581 = "\xe2\x96\x81";

// <pad> </s> <unk> + pieces, unigram, no precompiled normaliser (identity), default whitespace handling.
std::string handmade_model(const std::string& extra_pieces, int model_type = 1, bool with_unk = true) {
  std::string m = piece("<pad>", 0, 3) + piece("</s>", 0, 3);
  if (with_unk) m += piece("<unk>", 0, 2);
  m += extra_pieces;
  m += field_bytes(2, field_varint(3, model_type));
  m += field_bytes(3, field_bytes(1, "identity"));
  return m;
}

}  // namespace

class TestTextErrors : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  std::string path(const std::string& name) { return (fs::path(tmp_.path().toStdString()) / name).string(); }

  // A CLIP tokenizer folder with the given files.
  std::string clip_dir(const std::string& name, const std::string& vocab, const std::string& merges) {
    const std::string d = path(name);
    fs::create_directories(d);
    write(d + "/vocab.json", vocab);
    write(d + "/merges.txt", merges);
    return d;
  }

 private slots:
  void initTestCase() { QVERIFY(tmp_.isValid()); }

  // ---- CLIP tokenizer files ----
  void clip_missing_files() {
    expect_error<IoError>([&] { ClipTokenizer::load(path("nowhere")); }, {"nowhere", "does not exist"});
    const std::string d = path("only_vocab");
    fs::create_directories(d);
    write(d + "/vocab.json", R"({"<|startoftext|>": 0, "<|endoftext|>": 1})");
    expect_error<IoError>([&] { ClipTokenizer::load(d); }, {d + "/merges.txt", "does not exist"});
  }

  void clip_malformed_vocab() {
    const std::string merges = "#version: 0.2\na b\n";
    std::string d = clip_dir("v1", "{\"a\": 1,", merges);
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/vocab.json", "not valid JSON"});
    d = clip_dir("v2", "[1, 2, 3]", merges);
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/vocab.json", "not a JSON object"});
    d = clip_dir("v3", R"({"<|startoftext|>": 0, "<|endoftext|>": "one"})", merges);
    expect_error<FormatError>([&] { ClipTokenizer::load(d); },
                              {d + "/vocab.json", "<|endoftext|>", "not a non-negative integer"});
    d = clip_dir("v4", R"({"<|startoftext|>": 0, "a": -4, "<|endoftext|>": 1})", merges);
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/vocab.json", "'a'"});
    d = clip_dir("v5", R"({"a": 0, "b": 1})", merges);
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/vocab.json", "<|startoftext|>", "not a CLIP"});
  }

  void clip_malformed_merges() {
    const std::string vocab = R"({"a": 0, "b": 1, "<|startoftext|>": 2, "<|endoftext|>": 3})";
    std::string d = clip_dir("m1", vocab, "a b\nb c\n");
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/merges.txt", "#version"});
    d = clip_dir("m2", vocab, "#version: 0.2\na b\nabc\nb c\n");
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/merges.txt", "line 3", "abc"});
    d = clip_dir("m3", vocab, "");
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/merges.txt"});
    // vocab.json and merges.txt swapped
    d = clip_dir("m4", "#version: 0.2\na b\n", vocab);
    expect_error<FormatError>([&] { ClipTokenizer::load(d); }, {d + "/vocab.json", "not valid JSON"});
  }

  void clip_bad_prompt_and_lengths() {
    const std::string d =
        clip_dir("ok", R"({"a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2})", "#version: 0.2\n");
    const auto tok = ClipTokenizer::load(d);
    QCOMPARE(tok.encode("a"), (std::vector<std::int64_t>{1, 0, 2}));
    QCOMPARE(tok.encode("b"), (std::vector<std::int64_t>{1, 2, 2}));  // missing symbol -> unk (= EOS)
    expect_error<InvalidArgument>([&] { tok.encode("caf\xC3"); }, {"prompt", "UTF-8", "byte offset 3"});
    expect_error<InvalidArgument>([&] { tok.encode("\xED\xA0\x80"); }, {"UTF-8"});  // a surrogate
    expect_error<InvalidArgument>([&] { tok.encode_padded("a", 1); }, {"max_length", "1"});
    QCOMPARE(tok.encode_padded("a a a", 4), (std::vector<std::int64_t>{1, 0, 0, 2}));  // truncation keeps EOS
  }

  // ---- T5 tokenizer files ----
  void t5_missing_and_garbage() {
    expect_error<IoError>([&] { T5Tokenizer::load(path("nothing/spiece.model")); }, {"nothing/spiece.model"});
    write(path("empty.model"), "");
    expect_error<FormatError>([&] { T5Tokenizer::load(path("empty.model")); }, {path("empty.model"), "empty"});
    write(path("text.model"), "this is not a sentencepiece model\n");
    expect_error<FormatError>([&] { T5Tokenizer::load(path("text.model")); }, {path("text.model"), "SentencePiece"});
    std::string noise;
    for (int i = 0; i < 4096; ++i) noise.push_back(static_cast<char>((i * 7919 + 13) % 251));
    write(path("noise.model"), noise);
    expect_error<FormatError>([&] { T5Tokenizer::load(path("noise.model")); }, {path("noise.model")});
    // A CLIP vocabulary given as the T5 model.
    write(path("vocab_as_spiece.model"), R"({"a": 0, "<|startoftext|>": 1})");
    expect_error<FormatError>([&] { T5Tokenizer::load(path("vocab_as_spiece.model")); },
                              {path("vocab_as_spiece.model")});
  }

  void t5_truncated_model() {
    REQUIRE_TINY_DEV();
    const std::string full = read(tiny_dev() + "/comfy/tokenizer_2/spiece.model");
    for (std::size_t cut : {std::size_t(1), std::size_t(100), full.size() / 2, full.size() - 3}) {
      const std::string p = path("cut" + std::to_string(cut) + ".model");
      write(p, full.substr(0, cut));
      expect_error<FormatError>([&] { T5Tokenizer::load(p); }, {p});
    }
  }

  void t5_model_structure_errors() {
    write(path("nounk.model"), handmade_model(piece(kU2581 + "a", -1), 1, /*with_unk=*/false));
    expect_error<FormatError>([&] { T5Tokenizer::load(path("nounk.model")); }, {path("nounk.model"), "unknown piece"});
    write(path("bpe.model"), handmade_model(piece(kU2581 + "a", -1), /*model_type=*/2));
    expect_error<FormatError>([&] { T5Tokenizer::load(path("bpe.model")); },
                              {path("bpe.model"), "BPE", "not supported"});
    write(path("dup.model"), handmade_model(piece("x", -1) + piece("x", -2)));
    expect_error<FormatError>([&] { T5Tokenizer::load(path("dup.model")); }, {path("dup.model"), "'x'", "twice"});
    // A SentencePiece model without T5's </s>.
    std::string m =
        piece("<pad>", 0, 3) + piece("<unk>", 0, 2) + piece("a", -1) + field_bytes(3, field_bytes(1, "identity"));
    write(path("noeos.model"), m);
    expect_error<FormatError>([&] { T5Tokenizer::load(path("noeos.model")); }, {path("noeos.model"), "</s>"});
  }

  // Segmentation of a hand-built unigram model, derived by hand from the Viterbi rule (highest total score).
  void sentencepiece_unigram_rules() {
    const std::string pieces = piece(kU2581 + "ab", -1.0f) + piece(kU2581, -2.0f) + piece("a", -3.0f) +
                               piece("b", -3.0f) + piece(kU2581 + "a", -2.5f) + piece("bb", -1.0f);
    write(path("hand.model"), handmade_model(pieces));
    const auto tok = T5Tokenizer::load(path("hand.model"));
    QCOMPARE(tok.eos_id(), 1);
    QCOMPARE(tok.pad_id(), 0);
    QCOMPARE(tok.unk_id(), 2);
    using V = std::vector<std::string>;
    // "▁ab" (-1) beats "▁a"+"b" (-5.5) and "▁"+"a"+"b" (-8).
    QCOMPARE(tok.pieces("ab"), (V{kU2581 + "ab"}));
    // Spaces collapse and trim; each word gets its ▁.
    QCOMPARE(tok.pieces("  ab    ab "), (V{kU2581 + "ab", kU2581 + "ab"}));
    // "▁abb": "▁ab"+"b" = -4 vs "▁a"+"bb" = -3.5 -> the latter.
    QCOMPARE(tok.pieces("abb"), (V{kU2581 + "a", "bb"}));
    // Unknown characters become <unk>; a run of them is one piece.
    QCOMPARE(tok.pieces("ab xyz"), (V{kU2581 + "ab", kU2581, "xyz"}));
    QCOMPARE(tok.encode("ab xyz"), (std::vector<std::int64_t>{3, 4, 2, 1}));
    QCOMPARE(tok.encode(""), (std::vector<std::int64_t>{1}));
    QCOMPARE(tok.encode("   "), (std::vector<std::int64_t>{1}));
    QCOMPARE(tok.encode_padded("ab ab ab", 3), (std::vector<std::int64_t>{3, 3, 1}));
    QCOMPARE(tok.encode_padded("ab", 4), (std::vector<std::int64_t>{3, 1, 0, 0}));
    expect_error<InvalidArgument>([&] { tok.encode("\xFF"); }, {"UTF-8"});
    expect_error<InvalidArgument>([&] { tok.encode_padded("ab", 0); }, {"max_length"});
  }

  // ---- encoder checkpoints ----
  void mismatched_encoder_files() {
    REQUIRE_TINY_DEV();
    const std::string c = tiny_dev() + "/comfy", d = tiny_dev() + "/diffusers";
    expect_error<ModelError>([&] { load_clip_text_model(c + "/t5xxl.safetensors"); },
                             {c + "/t5xxl.safetensors", "not a CLIP text encoder", "looks like a T5 encoder"});
    expect_error<ModelError>([&] { load_t5_encoder(c + "/clip_l.safetensors"); },
                             {c + "/clip_l.safetensors", "not a T5 encoder", "looks like a CLIP text encoder"});
    expect_error<ModelError>([&] { load_clip_text_model(c + "/flux.safetensors"); },
                             {c + "/flux.safetensors", "FLUX transformer"});
    expect_error<ModelError>([&] { load_t5_encoder(c + "/ae.safetensors"); }, {c + "/ae.safetensors", "autoencoder"});
    expect_error<ModelError>([&] { load_clip_text_model(d + "/text_encoder_2"); }, {"text_encoder_2", "T5 encoder"});
    expect_error<IoError>([&] { load_t5_encoder(c + "/t5xxl_missing.safetensors"); }, {"t5xxl_missing.safetensors"});
    write(path("garbage.safetensors"), "not a safetensors file at all");
    expect_error<FormatError>([&] { load_clip_text_model(path("garbage.safetensors")); },
                              {path("garbage.safetensors")});
  }

  // CLIP weights with a T5 config.json: the config names itself as the problem.
  void config_of_another_model() {
    REQUIRE_TINY_DEV();
    const std::string d = path("mixed_text_encoder");
    fs::create_directories(d);
    fs::copy_file(tiny_dev() + "/diffusers/text_encoder/model.safetensors", d + "/model.safetensors");
    fs::copy_file(tiny_dev() + "/diffusers/text_encoder_2/config.json", d + "/config.json");
    expect_error<ModelError>([&] { load_clip_text_model(d); }, {d + "/config.json", "'t5'", "not a CLIP"});
    // A CLIP config whose sizes do not match the weights: every mis-shaped tensor is listed.
    auto cfg = nlohmann::json::parse(read(tiny_dev() + "/diffusers/text_encoder/config.json"));
    cfg["hidden_size"] = 128;
    write(d + "/config.json", cfg.dump());
    expect_error<ModelError>([&] { load_clip_text_model(d); },
                             {d, "wrong shape", "text_model.embeddings.token_embedding.weight", "[49408, 64]"});
    cfg["hidden_size"] = 64;
    cfg["num_hidden_layers"] = 3;
    write(d + "/config.json", cfg.dump());
    expect_error<ModelError>([&] { load_clip_text_model(d); }, {"missing", "text_model.encoder.layers.2."});
  }

  // A checkpoint missing a tensor lists it; extra unknown tensors are listed too.
  void damaged_checkpoints() {
    REQUIRE_TINY_DEV();
    const auto store = io::TensorStore::open(tiny_dev() + "/comfy/clip_l.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> kept;
    for (const auto& n : store->names())
      if (n != "text_model.encoder.layers.1.mlp.fc2.weight") kept.emplace_back(n, store->tensor(n));
    io::save_safetensors(path("clip_missing.safetensors"), kept);
    expect_error<ModelError>([&] { load_clip_text_model(path("clip_missing.safetensors")); },
                             {path("clip_missing.safetensors"), "1 missing", "layers.1.mlp.fc2.weight"});
    kept.emplace_back("text_model.encoder.layers.1.mlp.fc2.weight",
                      store->tensor("text_model.encoder.layers.1.mlp.fc2.weight"));
    kept.emplace_back("text_model.encoder.layers.0.mlp.fc3.weight", at::zeros({2, 2}));
    io::save_safetensors(path("clip_extra.safetensors"), kept);
    expect_error<ModelError>([&] { load_clip_text_model(path("clip_extra.safetensors")); },
                             {"unexpected", "layers.0.mlp.fc3.weight"});
  }

  // Known harmless extras and aliases load: CLIP's projection / logit scale / position ids, T5's
  // encoder.embed_tokens alias and a full T5ForConditionalGeneration's decoder; a prefixed all-in-one file.
  void tolerated_layouts() {
    REQUIRE_TINY_DEV();
    c10::InferenceMode guard;
    auto clip_ref = load_clip_text_model(tiny_dev() + "/comfy/clip_l.safetensors");
    auto t5_ref = load_t5_encoder(tiny_dev() + "/comfy/t5xxl.safetensors");
    const at::Tensor ids = at::arange(77, at::kLong).view({1, 77}) * 31 % 2514;
    const at::Tensor tids = at::arange(40, at::kLong).view({1, 40}) * 17 % 1000;

    const auto clip_store = io::TensorStore::open(tiny_dev() + "/comfy/clip_l.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> t;
    for (const auto& n : clip_store->names())
      t.emplace_back("text_encoders.clip_l.transformer." + n, clip_store->tensor(n));
    t.emplace_back("text_encoders.clip_l.transformer.text_projection.weight", at::zeros({64, 64}));
    t.emplace_back("text_encoders.clip_l.logit_scale", at::zeros({}));
    t.emplace_back("text_encoders.clip_l.transformer.text_model.embeddings.position_ids",
                   at::arange(77, at::kLong).view({1, 77}));
    t.emplace_back("model.diffusion_model.img_in.weight", at::zeros({4, 4}));  // another component of the file
    io::save_safetensors(path("all_in_one.safetensors"), t);
    auto clip = load_clip_text_model(path("all_in_one.safetensors"));
    QVERIFY(at::equal(clip->forward(ids).pooled, clip_ref->forward(ids).pooled));

    const auto t5_store = io::TensorStore::open(tiny_dev() + "/comfy/t5xxl.safetensors");
    t.clear();
    for (const auto& n : t5_store->names())
      t.emplace_back(n == "shared.weight" ? "encoder.embed_tokens.weight" : n, t5_store->tensor(n));
    t.emplace_back("decoder.block.0.layer.0.SelfAttention.q.weight", at::zeros({32, 32}));
    t.emplace_back("lm_head.weight", at::zeros({4, 32}));
    io::save_safetensors(path("t5_alias.safetensors"), t);
    auto t5 = load_t5_encoder(path("t5_alias.safetensors"));
    QVERIFY(at::equal(t5->forward(tids), t5_ref->forward(tids)));
  }

  // ComfyUI "scaled fp8" files: weight * scale_weight, markers ignored.
  void scaled_weights() {
    REQUIRE_TINY_DEV();
    c10::InferenceMode guard;
    const auto store = io::TensorStore::open(tiny_dev() + "/comfy/t5xxl.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> t;
    for (const auto& n : store->names()) {
      at::Tensor w = store->tensor(n, at::kFloat);
      if (w.dim() == 2 && n.find("SelfAttention.q.") != std::string::npos) {
        t.emplace_back(n, w / 4);  // exact in float
        t.emplace_back(n.substr(0, n.size() - 7) + ".scale_weight", at::full({}, 4.0f));
        t.emplace_back(n.substr(0, n.size() - 7) + ".scale_input", at::full({}, 1.0f));
      } else {
        t.emplace_back(n, w);
      }
    }
    t.emplace_back("scaled_fp8", at::zeros({0}));
    io::save_safetensors(path("t5_scaled.safetensors"), t);
    const at::Tensor tids = at::arange(40, at::kLong).view({1, 40}) * 17 % 1000;
    auto a = load_t5_encoder(path("t5_scaled.safetensors"));
    auto b = load_t5_encoder(tiny_dev() + "/comfy/t5xxl.safetensors");
    QVERIFY(at::equal(a->forward(tids), b->forward(tids)));
  }

  void bad_ids() {
    ClipTextConfig cc;
    cc.vocab_size = 100, cc.hidden_size = 32, cc.intermediate_size = 64, cc.num_layers = 1, cc.num_heads = 2,
    cc.max_positions = 8;
    T5EncoderConfig tc;
    tc.vocab_size = 50, tc.d_model = 16, tc.d_kv = 8, tc.num_heads = 2, tc.d_ff = 32, tc.num_layers = 1;
    auto clip = make_random_clip_text_model(cc, 1);
    auto t5 = make_random_t5_encoder(tc, 1);
    c10::InferenceMode guard;
    expect_error<InvalidArgument>(
        [&] {
          clip->forward(at::full({1, 4}, 100, at::kLong));
        },
        {"token id 100", "[0, 100)"});
    expect_error<InvalidArgument>([&] { clip->forward(at::full({1, 4}, -1, at::kLong)); }, {"token id -1"});
    expect_error<InvalidArgument>([&] { clip->forward(at::zeros({1, 9}, at::kLong)); }, {"9 tokens", "at most 8"});
    expect_error<InvalidArgument>([&] { clip->forward(at::zeros({1, 4}, at::kFloat)); }, {"integer token ids"});
    expect_error<InvalidArgument>([&] { clip->forward(at::zeros({4}, at::kLong)); }, {"[B, L]"});
    expect_error<InvalidArgument>([&] { t5->forward(at::full({1, 4}, 50, at::kLong)); }, {"token id 50"});
    expect_error<InvalidArgument>([&] { t5->forward(at::zeros({1, 0}, at::kLong)); }, {"[B, L]"});
  }

  void bad_configs() {
    nlohmann::json j = {{"model_type", "clip_text_model"}, {"vocab_size", 10},       {"hidden_size", 30},
                        {"intermediate_size", 8},          {"num_hidden_layers", 1}, {"num_attention_heads", 4},
                        {"max_position_embeddings", 8}};
    expect_error<ModelError>([&] { ClipTextConfig::from_json(j, "cfg.json"); }, {"cfg.json", "not divisible"});
    j["num_attention_heads"] = 2;
    j["hidden_act"] = "swish";
    expect_error<ModelError>([&] { ClipTextConfig::from_json(j, "cfg.json"); }, {"cfg.json", "swish"});
    j.erase("vocab_size");
    expect_error<ModelError>([&] { ClipTextConfig::from_json(j, "cfg.json"); }, {"cfg.json", "vocab_size"});
    nlohmann::json t = {{"model_type", "t5"}, {"vocab_size", 10}, {"d_model", 8},    {"d_kv", 4},
                        {"num_heads", 2},     {"d_ff", 16},       {"num_layers", 1}, {"feed_forward_proj", "relu"}};
    expect_error<ModelError>([&] { T5EncoderConfig::from_json(t, "t5.json"); }, {"t5.json", "relu", "not supported"});
  }
};

QTEST_APPLESS_MAIN(TestTextErrors)
#include "test_text_errors.moc"
