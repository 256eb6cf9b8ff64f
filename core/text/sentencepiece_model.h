#pragma once
// A self-contained reader and encoder for SentencePiece unigram models (`spiece.model`, as T5 uses).
//
// Why not libsentencepiece: Debian's libsentencepiece0 carries its own copy of protobuf 3.14 with exported
// symbols, while Debian's LibTorch loads the system libprotobuf 3.21. Both in one process crash at start-up
// (protobuf's static initialisers bind to the wrong copy). So we read the model's protobuf wire format ourselves
// and reproduce SentencePiece's encoder exactly: the precompiled normaliser (nmt_nfkc double-array trie),
// whitespace handling (dummy prefix, collapsing, U+2581), the optimised unigram Viterbi with its float/double
// score arithmetic and tie-breaking, user-defined symbols, unknown-run merging and byte fallback.
//
// Pure C++ (no LibTorch); thread-safe after construction.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dype::text {

class SentencePieceModel {
 public:
  enum class PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };
  struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::Normal;
  };

  // Parses a serialized ModelProto. Throws FormatError naming `label` (the file) for anything malformed or
  // unsupported (a non-unigram model, a model without <unk>, duplicate pieces, a broken normaliser blob, ...).
  static SentencePieceModel parse(std::string_view bytes, const std::string& label);
  // Movable, not copyable: the look-up tables view the piece strings in place.
  SentencePieceModel(SentencePieceModel&&) = default;
  SentencePieceModel& operator=(SentencePieceModel&&) = default;
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // The normalised text the model segments (U+2581 for spaces, dummy prefix, NFKC per the model's rules).
  // `utf8` must be valid UTF-8 (callers check).
  std::string normalize(std::string_view utf8) const;
  // (piece, id) of the prompt, as SentencePieceProcessor::Encode returns them.
  std::vector<std::pair<std::string, int>> encode(std::string_view utf8) const;

  int size() const { return static_cast<int>(pieces_.size()); }
  const Piece& piece(int id) const { return pieces_.at(id); }
  int piece_to_id(const std::string& piece) const;  // unk_id() for an unknown piece, as SentencePiece does
  int unk_id() const { return unk_id_; }
  const std::string& normalizer_name() const { return normalizer_name_; }

 private:
  SentencePieceModel() = default;
  // Longest normalisation rule at the start of `s`: (replacement, bytes consumed).
  std::pair<std::string_view, std::size_t> normalize_prefix(std::string_view s) const;
  std::vector<std::pair<std::string_view, int>> viterbi(std::string_view normalized) const;
  std::size_t user_defined_prefix(std::string_view s) const;  // length of the longest user symbol, 0 if none

  std::vector<Piece> pieces_;
  std::unordered_map<std::string_view, int> piece_ids_;     // normal / user-defined / unused pieces
  std::unordered_map<std::string_view, int> reserved_ids_;  // unknown / control / byte pieces
  std::vector<std::string> user_symbols_;
  std::size_t max_piece_bytes_ = 0;
  int unk_id_ = -1;
  float min_score_ = 0, max_score_ = 0;
  bool byte_fallback_ = false;
  bool treat_whitespace_as_suffix_ = false;
  // Normaliser.
  std::string normalizer_name_;
  bool add_dummy_prefix_ = true, remove_extra_whitespaces_ = true, escape_whitespaces_ = true;
  std::vector<std::uint32_t> trie_;  // darts-clone double array units
  std::string normalized_blob_;      // '\0'-separated replacement strings
};

}  // namespace dype::text
