#include "core/text/sentencepiece_model.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cstring>

#include "core/common/error.h"

namespace dype::text {

namespace {

constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK
constexpr float kUnkPenalty = 10.0f;
constexpr std::size_t kMaxTrieResults = 32;  // the normaliser looks at the first 32 matches only

// --- protobuf wire format (proto2), just what ModelProto needs ------------------------------------------------

class WireReader {
 public:
  WireReader(std::string_view data, const std::string& label, std::size_t base = 0)
      : data_(data), label_(label), base_(base) {}
  bool done() const { return pos_ >= data_.size(); }

  // Next field: number and wire type.
  std::pair<std::uint32_t, int> tag() {
    const std::uint64_t t = varint();
    const auto field = static_cast<std::uint32_t>(t >> 3);
    const int type = static_cast<int>(t & 7);
    if (field == 0) fail("field number 0");
    return {field, type};
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("truncated varint");
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
    return 0;
  }
  std::string_view bytes() {
    const std::uint64_t n = varint();
    if (n > data_.size() - pos_) fail("length-delimited field runs past the end");
    const std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  float fixed32_float() {
    if (data_.size() - pos_ < 4) fail("truncated fixed32");
    std::uint32_t u = 0;
    for (int i = 0; i < 4; ++i) u |= static_cast<std::uint32_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += 4;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  void skip(int type) {
    switch (type) {
      case 0: varint(); break;
      case 1:
        if (data_.size() - pos_ < 8) fail("truncated fixed64");
        pos_ += 8;
        break;
      case 2: bytes(); break;
      case 5:
        if (data_.size() - pos_ < 4) fail("truncated fixed32");
        pos_ += 4;
        break;
      default: fail("unsupported wire type " + std::to_string(type));
    }
  }
  void expect(int type, int want, std::uint32_t field) {
    if (type != want) fail("field " + std::to_string(field) + " has wire type " + std::to_string(type));
  }
  std::size_t offset() const { return base_ + pos_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("T5 tokenizer model '" + label_ + "' is not a valid SentencePiece model (" + what + " at byte " +
                      std::to_string(base_ + pos_) + ")");
  }

 private:
  std::string_view data_;
  const std::string& label_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

std::size_t one_char_len(unsigned char lead) { return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[lead >> 4]; }

// darts-clone double-array unit accessors.
bool unit_has_leaf(std::uint32_t u) { return ((u >> 8) & 1) == 1; }
std::uint32_t unit_value(std::uint32_t u) { return u & ((1U << 31) - 1); }
std::uint32_t unit_label(std::uint32_t u) { return u & ((1U << 31) | 0xFF); }
std::uint32_t unit_offset(std::uint32_t u) { return (u >> 10) << ((u & (1U << 9)) >> 6); }

}  // namespace

SentencePieceModel SentencePieceModel::parse(std::string_view bytes, const std::string& label) {
  SentencePieceModel m;
  int model_type = 1;  // UNIGRAM
  std::string charsmap;
  bool has_normalizer = false;
  WireReader top(bytes, label);
  while (!top.done()) {
    const auto [field, type] = top.tag();
    if (field == 1) {  // repeated SentencePiece pieces
      top.expect(type, 2, field);
      const std::size_t at = top.offset();
      WireReader r(top.bytes(), label, at);
      Piece p;
      while (!r.done()) {
        const auto [f, t] = r.tag();
        if (f == 1) {
          r.expect(t, 2, f);
          p.text = std::string(r.bytes());
        } else if (f == 2) {
          r.expect(t, 5, f);
          p.score = r.fixed32_float();
        } else if (f == 3) {
          r.expect(t, 0, f);
          const auto v = r.varint();
          if (v < 1 || v > 6) r.fail("unknown piece type " + std::to_string(v));
          p.type = static_cast<PieceType>(v);
        } else {
          r.skip(t);
        }
      }
      m.pieces_.push_back(std::move(p));
    } else if (field == 2) {  // TrainerSpec
      top.expect(type, 2, field);
      const std::size_t at = top.offset();
      WireReader r(top.bytes(), label, at);
      while (!r.done()) {
        const auto [f, t] = r.tag();
        if (f == 3 && t == 0)
          model_type = static_cast<int>(r.varint());
        else if (f == 24 && t == 0)
          m.treat_whitespace_as_suffix_ = r.varint() != 0;
        else if (f == 35 && t == 0)
          m.byte_fallback_ = r.varint() != 0;
        else
          r.skip(t);
      }
    } else if (field == 3) {  // NormalizerSpec
      top.expect(type, 2, field);
      has_normalizer = true;
      const std::size_t at = top.offset();
      WireReader r(top.bytes(), label, at);
      while (!r.done()) {
        const auto [f, t] = r.tag();
        if (f == 1 && t == 2)
          m.normalizer_name_ = std::string(r.bytes());
        else if (f == 2 && t == 2)
          charsmap = std::string(r.bytes());
        else if (f == 3 && t == 0)
          m.add_dummy_prefix_ = r.varint() != 0;
        else if (f == 4 && t == 0)
          m.remove_extra_whitespaces_ = r.varint() != 0;
        else if (f == 5 && t == 0)
          m.escape_whitespaces_ = r.varint() != 0;
        else
          r.skip(t);
      }
    } else {
      top.skip(type);
    }
  }

  auto fail = [&](const std::string& what) -> void {
    throw FormatError("T5 tokenizer model '" + label + "' is not a usable SentencePiece model: " + what);
  };
  if (m.pieces_.empty()) fail("it holds no pieces");
  if (!has_normalizer) fail("it has no normalizer spec");
  if (model_type != 1) {
    const char* names[] = {"?", "unigram", "BPE", "word", "char"};
    fail(std::string("model type ") + (model_type >= 1 && model_type <= 4 ? names[model_type] : "unknown") +
         " is not supported (T5 uses a unigram model)");
  }

  // Piece tables, with the checks SentencePiece makes at load time.
  m.min_score_ = FLT_MAX;
  m.max_score_ = FLT_MIN;  // sic: SentencePiece starts from the smallest positive float
  for (int i = 0; i < static_cast<int>(m.pieces_.size()); ++i) {
    const Piece& p = m.pieces_[i];
    if (p.text.empty()) fail("piece " + std::to_string(i) + " is empty");
    const bool normal = p.type == PieceType::Normal || p.type == PieceType::UserDefined || p.type == PieceType::Unused;
    auto& table = normal ? m.piece_ids_ : m.reserved_ids_;
    if (!table.emplace(std::string_view(p.text), i).second) fail("piece '" + p.text + "' is defined twice");
    if (p.type == PieceType::UserDefined) m.user_symbols_.push_back(p.text);
    if (p.type == PieceType::Unknown) {
      if (m.unk_id_ >= 0) fail("it defines <unk> twice");
      m.unk_id_ = i;
    }
    if (p.type == PieceType::Byte && !m.byte_fallback_) fail("byte piece '" + p.text + "' without byte_fallback");
    if (p.type == PieceType::Normal) {
      m.min_score_ = std::min(m.min_score_, p.score);
      m.max_score_ = std::max(m.max_score_, p.score);
    }
    if (normal) m.max_piece_bytes_ = std::max(m.max_piece_bytes_, p.text.size());
  }
  if (m.unk_id_ < 0) fail("it defines no unknown piece");
  if (m.piece_ids_.empty()) fail("it holds no normal pieces");
  if (m.byte_fallback_) {
    char name[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (!m.reserved_ids_.count(name)) fail(std::string("byte_fallback is set but piece ") + name + " is missing");
    }
  }

  // Precompiled normaliser: <uint32 trie size><double-array units><'\0'-separated replacements>.
  if (!charsmap.empty()) {
    if (charsmap.size() <= 4) fail("the normalizer blob is broken");
    std::uint32_t trie_bytes = 0;
    for (int i = 0; i < 4; ++i)
      trie_bytes |= static_cast<std::uint32_t>(static_cast<unsigned char>(charsmap[i])) << (8 * i);
    if (trie_bytes >= charsmap.size() || trie_bytes % 4 != 0 || trie_bytes == 0)
      fail("the normalizer trie size " + std::to_string(trie_bytes) + " does not fit its blob");
    m.trie_.resize(trie_bytes / 4);
    for (std::size_t i = 0; i < m.trie_.size(); ++i) {
      std::uint32_t u = 0;
      for (int k = 0; k < 4; ++k)
        u |= static_cast<std::uint32_t>(static_cast<unsigned char>(charsmap[4 + 4 * i + k])) << (8 * k);
      m.trie_[i] = u;
    }
    m.normalized_blob_ = charsmap.substr(4 + trie_bytes);
    m.normalized_blob_.push_back('\0');  // a last replacement without its terminator stays bounded
  }
  return m;
}

int SentencePieceModel::piece_to_id(const std::string& piece) const {
  if (auto it = reserved_ids_.find(piece); it != reserved_ids_.end()) return it->second;
  if (auto it = piece_ids_.find(piece); it != piece_ids_.end()) return it->second;
  return unk_id_;
}

std::size_t SentencePieceModel::user_defined_prefix(std::string_view s) const {
  std::size_t best = 0;
  for (const auto& u : user_symbols_)
    if (u.size() > best && s.compare(0, u.size(), u) == 0) best = u.size();
  return best;
}

std::pair<std::string_view, std::size_t> SentencePieceModel::normalize_prefix(std::string_view s) const {
  if (!user_symbols_.empty()) {
    if (const std::size_t n = user_defined_prefix(s)) return {s.substr(0, n), n};
  }
  std::size_t longest = 0;
  std::uint32_t value = 0;
  if (!trie_.empty()) {
    // darts-clone commonPrefixSearch over the bytes of s; only the first kMaxTrieResults matches count.
    std::size_t found = 0;
    std::size_t node = unit_offset(trie_[0]);
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      node ^= c;
      if (node >= trie_.size()) break;
      const std::uint32_t unit = trie_[node];
      if (unit_label(unit) != c) break;
      node ^= unit_offset(unit);
      if (unit_has_leaf(unit)) {
        if (node >= trie_.size()) break;
        if (found < kMaxTrieResults && (longest == 0 || i + 1 > longest)) {
          longest = i + 1;
          value = unit_value(trie_[node]);
        }
        ++found;
      }
    }
  }
  if (longest == 0) {
    const std::size_t n = std::min(one_char_len(static_cast<unsigned char>(s[0])), s.size());
    return {s.substr(0, n), n};
  }
  if (value >= normalized_blob_.size()) return {std::string_view(), longest};  // corrupt rule: maps to nothing
  const char* r = normalized_blob_.data() + value;
  return {std::string_view(r, std::strlen(r)), longest};
}

std::string SentencePieceModel::normalize(std::string_view input) const {
  std::string out;
  if (input.empty()) return out;
  if (remove_extra_whitespaces_) {  // leading spaces
    while (!input.empty()) {
      const auto p = normalize_prefix(input);
      if (p.first != " ") break;
      input.remove_prefix(p.second);
    }
  }
  if (input.empty()) return out;
  out.reserve(input.size() * 3);
  const std::string_view space = escape_whitespaces_ ? kSpaceSymbol : std::string_view(" ");
  if (!treat_whitespace_as_suffix_ && add_dummy_prefix_) out.append(space);
  bool prev_space = remove_extra_whitespaces_;
  while (!input.empty()) {
    const auto p = normalize_prefix(input);
    std::string_view sp = p.first;
    while (prev_space && !sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
    if (!sp.empty()) {
      for (char c : sp) {
        if (escape_whitespaces_ && c == ' ')
          out.append(kSpaceSymbol);
        else
          out.push_back(c);
      }
      prev_space = sp.back() == ' ';
    }
    input.remove_prefix(p.second);
    if (!remove_extra_whitespaces_) prev_space = false;
  }
  if (remove_extra_whitespaces_) {  // trailing spaces
    while (out.size() >= space.size() && out.compare(out.size() - space.size(), space.size(), space) == 0)
      out.resize(out.size() - space.size());
  }
  if (treat_whitespace_as_suffix_ && add_dummy_prefix_) out.append(space);
  return out;
}

std::vector<std::pair<std::string_view, int>> SentencePieceModel::viterbi(std::string_view s) const {
  // SentencePiece's optimised unigram Viterbi over byte positions. The arithmetic is kept as is: piece scores
  // enter as double (the user-symbol bonus makes the expression double), path scores are stored as float, and
  // a candidate replaces the stored path only when strictly better (first found wins ties).
  struct Best {
    int id = -1;
    float score = 0;
    int starts_at = -1;
  };
  const int size = static_cast<int>(s.size());
  const float unk_score = min_score_ - kUnkPenalty;
  std::vector<Best> best(size + 1);
  int start = 0;
  while (start < size) {
    const float till_here = best[start].score;
    bool has_single_node = false;
    const int mblen = std::min<int>(static_cast<int>(one_char_len(static_cast<unsigned char>(s[start]))), size - start);
    const std::size_t max_len = std::min<std::size_t>(max_piece_bytes_, size - start);
    for (std::size_t len = 1; len <= max_len; ++len) {  // pieces starting here, shortest first
      auto it = piece_ids_.find(s.substr(start, len));
      if (it == piece_ids_.end()) continue;
      const int id = it->second;
      const Piece& p = pieces_[id];
      if (p.type == PieceType::Unused) continue;
      Best& target = best[start + len];
      const double score = p.type == PieceType::UserDefined ? (static_cast<float>(len) * max_score_ - 0.1)
                                                            : static_cast<double>(p.score);
      const double candidate = score + till_here;
      if (target.starts_at == -1 || candidate > target.score) {
        target.score = static_cast<float>(candidate);
        target.starts_at = start;
        target.id = id;
      }
      if (!has_single_node && static_cast<int>(len) == mblen) has_single_node = true;
    }
    if (!has_single_node) {
      Best& target = best[start + mblen];
      const float candidate = unk_score + till_here;
      if (target.starts_at == -1 || candidate > target.score) {
        target.score = candidate;
        target.starts_at = start;
        target.id = unk_id_;
      }
    }
    start += mblen;
  }
  std::vector<std::pair<std::string_view, int>> out;
  for (int end = size; end > 0;) {
    const Best& b = best[end];
    out.emplace_back(s.substr(b.starts_at, end - b.starts_at), b.id);
    end = b.starts_at;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, int>> SentencePieceModel::encode(std::string_view utf8) const {
  const std::string normalized = normalize(utf8);
  std::vector<std::pair<std::string, int>> out;
  if (normalized.empty()) return out;
  bool prev_unk = false;
  for (const auto& [piece, id] : viterbi(normalized)) {
    const bool unk = id == unk_id_;
    if (unk && byte_fallback_) {
      char name[8];
      for (unsigned char b : piece) {
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        out.emplace_back(name, reserved_ids_.at(name));
      }
    } else if (unk && prev_unk) {
      out.back().first += piece;  // a run of unknown characters is one <unk>
    } else {
      out.emplace_back(std::string(piece), id);
    }
    prev_unk = unk;
  }
  return out;
}

}  // namespace dype::text
