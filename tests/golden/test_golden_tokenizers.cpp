// test-deps: text
// Golden case E_tokenizers (CLIP BPE and T5 SentencePiece ids for 16 edge-case prompts, exact) from both model
// layouts' tokenizer files, plus the ids stored as inputs of the D_text_encoders_* cases.
#include <QtTest>
#include <string>
#include <vector>

#include "core/text/clip_tokenizer.h"
#include "core/text/t5_tokenizer.h"
#include "tests/support/golden.h"

using dype::text::ClipTokenizer;
using dype::text::T5Tokenizer;

namespace {

std::vector<std::int64_t> ids_of(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous().reshape({-1});
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

std::string bytes_of(const at::Tensor& t) {
  at::Tensor c = t.contiguous().reshape({-1});
  return std::string(reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), static_cast<std::size_t>(c.numel()));
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

QString show(const std::vector<std::int64_t>& v) {
  QStringList parts;
  for (auto x : v) parts << QString::number(x);
  return "[" + parts.join(",") + "]";
}

QString show(const std::vector<std::string>& v) {
  QStringList parts;
  for (const auto& x : v) parts << QString::fromStdString(x);
  return "[" + parts.join(" | ") + "]";
}

// Compares and, on mismatch, prints both sequences (QCOMPARE on vectors would only say "different").
#define COMPARE_SEQ(actual, expected, what)                                                                            \
  do {                                                                                                                 \
    const auto a_ = (actual);                                                                                          \
    const auto e_ = (expected);                                                                                        \
    if (a_ != e_) QFAIL(qPrintable(QString("%1 differ\n   actual: %2\n expected: %3").arg(what, show(a_), show(e_)))); \
  } while (0)

}  // namespace

class TestGoldenTokenizers : public QObject {
  Q_OBJECT

  dype::test::GoldenCase case_;
  std::map<std::string, ClipTokenizer> clip_;
  std::map<std::string, T5Tokenizer> t5_;

 private slots:
  void initTestCase() {
    case_ = dype::test::load_case("E_tokenizers");
    for (const char* layout : {"comfy", "diffusers"}) {
      const std::string dir = case_.model_dir() + "/" + layout;
      clip_.emplace(layout, ClipTokenizer::load(dir + "/tokenizer"));
      t5_.emplace(layout, T5Tokenizer::load(dir + "/tokenizer_2"));
    }
  }

  void special_ids_come_from_the_files() {
    const auto& p = case_.json["params"];
    for (const auto& [layout, tok] : clip_) {
      QCOMPARE(tok.bos_id(), p["clip_bos_id"].get<std::int64_t>());
      QCOMPARE(tok.eos_id(), p["clip_eos_id"].get<std::int64_t>());
      QCOMPARE(tok.pad_id(), p["clip_pad_id"].get<std::int64_t>());
      QCOMPARE(tok.vocab_size(), std::size_t(2514));
      QCOMPARE(tok.merge_count(), std::size_t(2000));
    }
    for (const auto& [layout, tok] : t5_) {
      QCOMPARE(tok.eos_id(), p["t5_eos_id"].get<std::int64_t>());
      QCOMPARE(tok.pad_id(), p["t5_pad_id"].get<std::int64_t>());
      QCOMPARE(tok.unk_id(), p["t5_unk_id"].get<std::int64_t>());
    }
  }

  void prompt_data() {
    QTest::addColumn<QString>("layout");
    QTest::addColumn<int>("index");
    const auto& prompts = case_.json["prompts"];
    for (const char* layout : {"comfy", "diffusers"})
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        const std::string id = prompts[i]["id"].get<std::string>() + "_" + prompts[i]["label"].get<std::string>();
        QTest::newRow((std::string(layout) + "/" + id).c_str()) << QString(layout) << int(i);
      }
  }

  void prompt() {
    QFETCH(QString, layout);
    QFETCH(int, index);
    const auto& p = case_.json["prompts"][index];
    const std::string id = p["id"].get<std::string>();
    const std::string prompt = bytes_of(case_.input(id + ".utf8"));
    // The three spellings of the prompt in the case agree (guards the test itself).
    QCOMPARE(prompt, p["prompt"].get<std::string>());
    QCOMPARE(prompt, from_hex(p["utf8_hex"].get<std::string>()));

    const ClipTokenizer& clip = clip_.at(layout.toStdString());
    const T5Tokenizer& t5 = t5_.at(layout.toStdString());

    QCOMPARE(clip.normalize(prompt), p["clip_normalized"].get<std::string>());
    COMPARE_SEQ(clip.bpe_tokens(prompt), p["clip_bpe_tokens"].get<std::vector<std::string>>(), "CLIP BPE symbols");
    COMPARE_SEQ(clip.encode(prompt), ids_of(case_.expect(id + ".clip_full")), "clip_full");
    COMPARE_SEQ(clip.encode_padded(prompt, 77), ids_of(case_.expect(id + ".clip_77")), "clip_77");
    const at::Tensor t = clip.encode_tensor(prompt);
    QCOMPARE(t.sizes().vec(), (std::vector<std::int64_t>{1, 77}));
    COMPARE_SEQ(ids_of(t), ids_of(case_.expect(id + ".clip_77")), "clip_77 tensor");

    COMPARE_SEQ(t5.pieces(prompt), p["t5_pieces"].get<std::vector<std::string>>(), "T5 pieces");
    COMPARE_SEQ(t5.encode(prompt), ids_of(case_.expect(id + ".t5_full")), "t5_full");
    for (int n : case_.json["params"]["t5_max_lengths"].get<std::vector<int>>()) {
      const std::string key = id + ".t5_" + std::to_string(n);
      COMPARE_SEQ(t5.encode_padded(prompt, n), ids_of(case_.expect(key)), key.c_str());
      COMPARE_SEQ(ids_of(t5.encode_tensor(prompt, n)), ids_of(case_.expect(key)), key.c_str());
    }
  }

  // The encoder cases store the padded ids of their prompt: our tokenizers must produce exactly those.
  void encoder_case_inputs_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("layout");
    for (const char* name : {"D_text_encoders_simple", "D_text_encoders_cjk_emoji", "D_text_encoders_very_long"})
      for (const char* layout : {"comfy", "diffusers"})
        QTest::newRow((std::string(name) + "/" + layout).c_str()) << QString(name) << QString(layout);
  }

  void encoder_case_inputs() {
    QFETCH(QString, name);
    QFETCH(QString, layout);
    const auto c = dype::test::load_case(name.toStdString());
    const std::string prompt = from_hex(c.json["prompt_utf8_hex"].get<std::string>());
    QCOMPARE(prompt, c.json["prompt"].get<std::string>());
    const auto& params = c.json["params"];
    const at::Tensor clip_ids =
        clip_.at(layout.toStdString()).encode_tensor(prompt, params["clip_max_length"].get<int>());
    const at::Tensor t5_ids = t5_.at(layout.toStdString()).encode_tensor(prompt, params["t5_max_length"].get<int>());
    QCOMPARE(clip_ids.sizes().vec(), c.input("clip_ids").sizes().vec());
    QCOMPARE(t5_ids.sizes().vec(), c.input("t5_ids").sizes().vec());
    COMPARE_SEQ(ids_of(clip_ids), ids_of(c.input("clip_ids")), "clip_ids");
    COMPARE_SEQ(ids_of(t5_ids), ids_of(c.input("t5_ids")), "t5_ids");
    // The pooled index the case documents is the first EOS.
    const auto ids = ids_of(clip_ids);
    const auto first_eos = std::find(ids.begin(), ids.end(), clip_.at(layout.toStdString()).eos_id()) - ids.begin();
    QCOMPARE(static_cast<int>(first_eos), params["clip_pooled_index"].get<int>());
  }
};

QTEST_APPLESS_MAIN(TestGoldenTokenizers)
#include "test_golden_tokenizers.moc"
