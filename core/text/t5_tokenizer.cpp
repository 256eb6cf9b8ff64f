#include "core/text/t5_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/common/error.h"
#include "core/text/sentencepiece_model.h"
#include "core/text/unicode.h"

namespace fs = std::filesystem;

namespace dype::text {

T5Tokenizer T5Tokenizer::load(const std::string& path) {
  std::error_code ec;
  std::string file = path;
  if (fs::is_directory(path, ec)) file = (fs::path(path) / "spiece.model").string();
  if (!fs::exists(file, ec)) throw IoError("T5 tokenizer model '" + file + "' does not exist");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError("cannot open T5 tokenizer model '" + file + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  if (bytes.empty()) throw FormatError("T5 tokenizer model '" + file + "' is empty: not a SentencePiece model");

  auto sp = std::make_shared<SentencePieceModel>(SentencePieceModel::parse(bytes, file));
  T5Tokenizer tok;
  tok.path_ = file;
  // The ids of the special pieces by name, as the Hugging Face tokenizer resolves them.
  auto special = [&](const char* name) -> std::int64_t {
    const int id = sp->piece_to_id(name);
    if (sp->piece(id).text != name)
      throw FormatError("T5 tokenizer model '" + file + "' has no '" + name + "' piece: not a T5 SentencePiece model");
    return id;
  };
  tok.eos_id_ = special("</s>");
  tok.pad_id_ = special("<pad>");
  tok.unk_id_ = sp->unk_id();
  tok.sp_ = std::move(sp);
  return tok;
}

int T5Tokenizer::vocab_size() const { return sp_->size(); }

std::vector<std::string> T5Tokenizer::pieces(const std::string& prompt) const {
  (void)utf8_to_u32(prompt, "prompt");  // reject invalid UTF-8 with a clear message
  std::vector<std::string> out;
  for (auto& [piece, id] : sp_->encode(prompt)) out.push_back(piece);
  return out;
}

std::vector<std::int64_t> T5Tokenizer::encode(const std::string& prompt) const {
  (void)utf8_to_u32(prompt, "prompt");
  std::vector<std::int64_t> out;
  for (auto& [piece, id] : sp_->encode(prompt)) out.push_back(id);
  out.push_back(eos_id_);
  return out;
}

std::vector<std::int64_t> T5Tokenizer::encode_padded(const std::string& prompt, int max_length) const {
  if (max_length < 1) throw InvalidArgument("T5 max_length must be at least 1, got " + std::to_string(max_length));
  std::vector<std::int64_t> ids = encode(prompt);
  if (ids.size() > static_cast<std::size_t>(max_length)) {
    ids.resize(max_length);
    ids.back() = eos_id_;  // keep the first max_length-1 ids, then EOS
  }
  ids.resize(max_length, pad_id_);
  return ids;
}

at::Tensor T5Tokenizer::encode_tensor(const std::string& prompt, int max_length) const {
  const auto ids = encode_padded(prompt, max_length);
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({1, max_length});  // [1, L]
}

}  // namespace dype::text
