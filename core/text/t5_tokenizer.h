#pragma once
// T5 tokenizer: SentencePiece (`spiece.model`, unigram, with its built-in nmt_nfkc normaliser; read and run by
// our own SentencePieceModel, see sentencepiece_model.h for why) plus the Hugging Face T5Tokenizer conventions
// FLUX relies on: EOS (</s>) appended, no BOS, pad with <pad> (0) to max_length,
// truncation that keeps the EOS. FLUX uses max_length 512 for dev and 256 for schnell.
//
//   auto tok = T5Tokenizer::load("models/tokenizer_2");        // folder with spiece.model, or the file
//   at::Tensor ids = tok.encode_tensor("a photo of a cat", 512);  // [1, 512] int64
//
// Thread-safe after construction.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dype::text {

class SentencePieceModel;

class T5Tokenizer {
 public:
  static constexpr int kDevMaxLength = 512;
  static constexpr int kSchnellMaxLength = 256;

  // `path`: spiece.model or a folder holding it. Throws IoError (missing/unreadable) or FormatError (not a
  // SentencePiece model, or one without the </s> / <pad> pieces); the message names the file.
  static T5Tokenizer load(const std::string& path);

  // SentencePiece ids of the raw prompt + [EOS]; neither truncated nor padded. InvalidArgument for non-UTF-8.
  std::vector<std::int64_t> encode(const std::string& prompt) const;
  // The first max_length-1 ids + [EOS], right-padded with the pad id to `max_length`.
  std::vector<std::int64_t> encode_padded(const std::string& prompt, int max_length) const;
  // encode_padded() as a [1, max_length] int64 tensor (CPU), ready for T5Encoder::forward.
  at::Tensor encode_tensor(const std::string& prompt, int max_length) const;
  // SentencePiece pieces of the prompt (without EOS), e.g. "▁a", "▁photo".
  std::vector<std::string> pieces(const std::string& prompt) const;

  std::int64_t eos_id() const { return eos_id_; }
  std::int64_t pad_id() const { return pad_id_; }
  std::int64_t unk_id() const { return unk_id_; }
  int vocab_size() const;
  const std::string& path() const { return path_; }

 private:
  T5Tokenizer() = default;
  std::shared_ptr<const SentencePieceModel> sp_;
  std::string path_;
  std::int64_t eos_id_ = 1, pad_id_ = 0, unk_id_ = 2;
};

}  // namespace dype::text
