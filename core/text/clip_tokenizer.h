#pragma once
// CLIP byte-level BPE tokenizer (OpenAI CLIP / Hugging Face CLIPTokenizer semantics without ftfy), read from a
// Hugging Face `vocab.json` + `merges.txt` pair. The exact recipe is in ../shared/golden/README.md ("Text
// conditioning"): HTML-unescape twice, whitespace clean-up, full lower-casing, the CLIP pre-tokenisation pattern,
// bytes -> printable "byte characters", `</w>` word ends, rank-ordered merges, BOS/EOS from the vocabulary.
//
//   auto tok = ClipTokenizer::load("models/tokenizer");   // folder with vocab.json + merges.txt
//   at::Tensor ids = tok.encode_tensor("a photo of a cat");  // [1, 77] int64, EOS-padded
//
// Thread-safe after construction (encode() is const and keeps no cache).
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace dype::text {

class ClipTokenizer {
 public:
  static constexpr int kDefaultMaxLength = 77;

  // `path`: a folder holding vocab.json and merges.txt, or the path of vocab.json (merges.txt beside it).
  // Throws IoError (missing/unreadable file) or FormatError (malformed file; the message names the file and,
  // where it applies, the line).
  static ClipTokenizer load(const std::string& path);
  static ClipTokenizer load(const std::string& vocab_json, const std::string& merges_txt);

  // [BOS] + BPE ids + [EOS], neither truncated nor padded. Throws InvalidArgument for non-UTF-8 input.
  std::vector<std::int64_t> encode(const std::string& prompt) const;
  // [BOS] + the first max_length-2 BPE ids + [EOS], right-padded with the pad id to `max_length`.
  std::vector<std::int64_t> encode_padded(const std::string& prompt, int max_length = kDefaultMaxLength) const;
  // encode_padded() as a [1, max_length] int64 tensor (CPU), ready for ClipTextModel::forward.
  at::Tensor encode_tensor(const std::string& prompt, int max_length = kDefaultMaxLength) const;

  // The cleaned, lower-cased text the pre-tokeniser sees (UTF-8).
  std::string normalize(const std::string& prompt) const;
  // The BPE symbols of the prompt, before the vocabulary look-up (e.g. "a</w>", "pho", "to</w>").
  std::vector<std::string> bpe_tokens(const std::string& prompt) const;

  std::int64_t bos_id() const { return bos_id_; }
  std::int64_t eos_id() const { return eos_id_; }
  std::int64_t pad_id() const { return pad_id_; }  // = EOS, as in CLIP
  std::int64_t unk_id() const { return unk_id_; }  // symbols missing from the vocabulary map here (= EOS)
  std::size_t vocab_size() const { return vocab_.size(); }
  std::size_t merge_count() const { return ranks_.size(); }

 private:
  ClipTokenizer() = default;
  // Appends the BPE symbols (UTF-8 byte characters, last one ending in </w>) of one pre-tokenised piece.
  void bpe(const std::string& piece_utf8, std::vector<std::string>& out) const;
  // Pieces after cleaning and pre-tokenisation; special tokens come back verbatim.
  std::vector<std::string> pieces(const std::string& prompt) const;
  std::vector<std::string> symbols(const std::string& prompt) const;

  std::unordered_map<std::string, std::int64_t> vocab_;
  std::unordered_map<std::string, int> ranks_;  // "left right" -> rank
  std::string byte_char_[256];                  // byte -> UTF-8 of its printable stand-in
  std::int64_t bos_id_ = 0, eos_id_ = 0, pad_id_ = 0, unk_id_ = 0;
};

}  // namespace dype::text
