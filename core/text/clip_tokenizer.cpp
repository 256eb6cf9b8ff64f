#include "core/text/clip_tokenizer.h"

#include <climits>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/common/error.h"
#include "core/text/unicode.h"

namespace fs = std::filesystem;

namespace dype::text {

namespace {

const char* const kBos = "<|startoftext|>";
const char* const kEos = "<|endoftext|>";
const std::u32string kBos32 = U"<|startoftext|>";
const std::u32string kEos32 = U"<|endoftext|>";
// The reference reads merges.txt[1 : 49152 - 256 - 2 + 1]: at most 48894 merges (all of CLIP's own file).
constexpr std::size_t kMaxMerges = 49152 - 256 - 2;

std::string read_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(std::string(what) + " '" + path + "' does not exist");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(std::string("cannot open ") + what + " '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Python str.split() on ASCII whitespace (merges.txt is ASCII-separated; \r of CRLF files goes too).
std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
  while (i < line.size()) {
    while (i < line.size() && ws(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !ws(line[j])) ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// The pattern is matched case-insensitively; on lower-cased text the only code point that still folds onto one
// of its ASCII letters is U+017F LATIN SMALL LETTER LONG S (-> 's').
char32_t fold(char32_t c) { return c == 0x17F ? U's' : c; }

bool matches_at(const std::u32string& s, std::size_t i, const std::u32string& lit) {
  if (i + lit.size() > s.size()) return false;
  for (std::size_t k = 0; k < lit.size(); ++k)
    if (fold(s[i + k]) != lit[k]) return false;
  return true;
}

// Length of the contraction ('s|'t|'re|'ve|'m|'ll|'d) at i, or 0.
std::size_t contraction_at(const std::u32string& s, std::size_t i) {
  if (s[i] != U'\'' || i + 1 >= s.size()) return 0;
  const char32_t a = fold(s[i + 1]);
  if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
  if (i + 2 < s.size()) {
    const char32_t b = fold(s[i + 2]);
    if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  }
  return 0;
}

}  // namespace

ClipTokenizer ClipTokenizer::load(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return load((fs::path(path) / "vocab.json").string(), (fs::path(path) / "merges.txt").string());
  }
  if (!fs::exists(path, ec)) throw IoError("CLIP tokenizer '" + path + "' does not exist");
  return load(path, (fs::path(path).parent_path() / "merges.txt").string());
}

ClipTokenizer ClipTokenizer::load(const std::string& vocab_json, const std::string& merges_txt) {
  ClipTokenizer tok;
  const std::string vocab_text = read_file(vocab_json, "CLIP vocabulary");
  const std::string merges_text = read_file(merges_txt, "CLIP merges file");

  // vocab.json: {"symbol": id, ...}
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(vocab_text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("CLIP vocabulary '" + vocab_json + "' is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object())
    throw FormatError("CLIP vocabulary '" + vocab_json + "' is not a JSON object of {\"symbol\": id} entries");
  tok.vocab_.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& v = it.value();
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > INT_MAX)
      throw FormatError("CLIP vocabulary '" + vocab_json + "': the id of '" + it.key() +
                        "' is not a non-negative integer (" + v.dump() + ")");
    tok.vocab_[it.key()] = v.get<std::int64_t>();
  }
  for (const char* special : {kBos, kEos}) {
    if (!tok.vocab_.count(special))
      throw FormatError("CLIP vocabulary '" + vocab_json + "' has no '" + special +
                        "' entry: this is not a CLIP tokenizer vocabulary");
  }
  tok.bos_id_ = tok.vocab_.at(kBos);
  tok.eos_id_ = tok.vocab_.at(kEos);
  tok.pad_id_ = tok.eos_id_;
  tok.unk_id_ = tok.eos_id_;

  // merges.txt: "#version: ..." then one "left right" pair per line, rank = line order.
  std::vector<std::string> lines;
  {
    std::size_t b = merges_text.find_first_not_of(" \t\r\n\v\f");
    std::size_t e = merges_text.find_last_not_of(" \t\r\n\v\f");
    const std::string body = b == std::string::npos ? std::string() : merges_text.substr(b, e - b + 1);
    std::size_t pos = 0;
    while (pos <= body.size() && !body.empty()) {
      const std::size_t nl = body.find('\n', pos);
      lines.push_back(body.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
  if (lines.empty() || lines[0].rfind("#version", 0) != 0)
    throw FormatError("CLIP merges file '" + merges_txt +
                      "' does not start with a '#version' line: this is not a BPE merges.txt");
  const std::size_t count = std::min(lines.size() - 1, kMaxMerges);
  tok.ranks_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto parts = split_ws(lines[i + 1]);
    if (parts.size() != 2)
      throw FormatError("CLIP merges file '" + merges_txt + "', line " + std::to_string(i + 2) +
                        ": expected two symbols separated by a space, got '" + lines[i + 1] + "'");
    tok.ranks_[parts[0] + " " + parts[1]] = static_cast<int>(i);  // a repeated pair keeps its last rank
  }

  // bytes_to_unicode(): printable bytes stand for themselves, the others map to U+0100.. in byte order.
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    std::string u;
    append_utf8(u, printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++));
    tok.byte_char_[b] = u;
  }
  return tok;
}

std::string ClipTokenizer::normalize(const std::string& prompt) const {
  std::u32string s = html_unescape(html_unescape(utf8_to_u32(prompt, "prompt")));
  // strip, collapse whitespace runs to one space, strip: done in one pass.
  std::u32string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char32_t c : s) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    out.push_back(c);
  }
  return u32_to_utf8(to_lower(out));
}

std::vector<std::string> ClipTokenizer::pieces(const std::string& prompt) const {
  const std::u32string s = utf8_to_u32(normalize(prompt), "prompt");
  std::vector<std::string> out;
  std::size_t i = 0;
  const std::size_t n = s.size();
  // <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
  while (i < n) {
    std::size_t len = 0;
    if (matches_at(s, i, kBos32)) {
      len = kBos32.size();
    } else if (matches_at(s, i, kEos32)) {
      len = kEos32.size();
    } else if ((len = contraction_at(s, i)) != 0) {
    } else if (is_letter(s[i])) {
      len = 1;
      while (i + len < n && is_letter(s[i + len])) ++len;
    } else if (is_number(s[i])) {
      len = 1;
    } else if (!is_space(s[i]) && !is_unmatched(s[i])) {
      auto other = [&](char32_t c) { return !is_space(c) && !is_unmatched(c) && !is_letter(c) && !is_number(c); };
      len = 1;
      while (i + len < n && other(s[i + len])) ++len;
    } else {
      ++i;  // whitespace (or a character no class matches) separates pieces and is dropped
      continue;
    }
    out.push_back(u32_to_utf8(s.substr(i, len)));
    i += len;
  }
  return out;
}

void ClipTokenizer::bpe(const std::string& piece, std::vector<std::string>& out) const {
  std::vector<std::string> word;
  word.reserve(piece.size());
  for (unsigned char b : piece) word.push_back(byte_char_[b]);
  if (word.empty()) return;
  word.back() += "</w>";
  std::vector<std::string> merged;
  while (word.size() > 1) {
    int best = INT_MAX;
    std::size_t best_i = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = ranks_.find(word[i] + " " + word[i + 1]);
      if (it != ranks_.end() && it->second < best) best = it->second, best_i = i;
    }
    if (best == INT_MAX) break;
    const std::string first = word[best_i], second = word[best_i + 1];
    // Merge every occurrence of the pair, left to right, without overlaps.
    merged.clear();
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(std::move(word[i]));
        i += 1;
      }
    }
    word.swap(merged);
  }
  for (auto& w : word) out.push_back(std::move(w));
}

std::vector<std::string> ClipTokenizer::symbols(const std::string& prompt) const {
  std::vector<std::string> out;
  for (const auto& p : pieces(prompt)) {
    if (p == kBos || p == kEos) {  // special tokens are not split (the reference's BPE cache holds them as is)
      out.push_back(p);
    } else {
      bpe(p, out);
    }
  }
  return out;
}

std::vector<std::string> ClipTokenizer::bpe_tokens(const std::string& prompt) const { return symbols(prompt); }

std::vector<std::int64_t> ClipTokenizer::encode(const std::string& prompt) const {
  std::vector<std::int64_t> ids{bos_id_};
  for (const auto& sym : symbols(prompt)) {
    auto it = vocab_.find(sym);
    ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
  }
  ids.push_back(eos_id_);
  return ids;
}

std::vector<std::int64_t> ClipTokenizer::encode_padded(const std::string& prompt, int max_length) const {
  if (max_length < 2)
    throw InvalidArgument("CLIP max_length must be at least 2 (BOS and EOS), got " + std::to_string(max_length));
  std::vector<std::int64_t> ids = encode(prompt);
  if (ids.size() > static_cast<std::size_t>(max_length)) {
    ids.resize(max_length);
    ids.back() = eos_id_;  // keep the first max_length-2 content ids, then EOS
  }
  ids.resize(max_length, pad_id_);
  return ids;
}

at::Tensor ClipTokenizer::encode_tensor(const std::string& prompt, int max_length) const {
  const auto ids = encode_padded(prompt, max_length);
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({1, max_length});  // [1, L]
}

}  // namespace dype::text
