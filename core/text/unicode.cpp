#include "core/text/unicode.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/common/error.h"
#include "core/text/unicode_data.h"

namespace dype::text {

using namespace detail;

namespace {

bool in_ranges(const CodeRange* ranges, std::size_t count, char32_t cp) {
  const CodeRange* end = ranges + count;
  // First range whose start is above cp; the candidate is the one before it.
  const CodeRange* it = std::upper_bound(ranges, end, cp, [](char32_t c, const CodeRange& r) { return c < r.first; });
  if (it == ranges) return false;
  --it;
  return cp <= it->last;
}

constexpr char32_t kCapitalSigma = 0x3A3, kSmallSigma = 0x3C3, kFinalSigma = 0x3C2;

// Python's rule: \p{Cased} \p{Case_Ignorable}* SIGMA !(\p{Case_Ignorable}* \p{Cased})
bool is_final_sigma(const std::u32string& s, std::size_t i) {
  std::size_t j = i;
  bool before = false;
  while (j > 0) {
    --j;
    if (!is_case_ignorable(s[j])) {
      before = is_cased(s[j]);
      break;
    }
  }
  if (!before) return false;
  for (std::size_t k = i + 1; k < s.size(); ++k)
    if (!is_case_ignorable(s[k])) return !is_cased(s[k]);
  return true;
}

// --- html.unescape -------------------------------------------------------------------------------------------

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char32_t c) {
  if (is_ascii_digit(c)) return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  return static_cast<int>(c - 'A' + 10);
}

// Windows-1252 style replacements that HTML5 (and Python) apply to some numeric references.
char32_t invalid_charref(std::uint64_t num, bool& found) {
  static const char32_t k80[32] = {0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021,
                                   0x2C6,  0x2030, 0x160,  0x2039, 0x152,  0x8D,   0x17D,  0x8F,
                                   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                   0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};
  found = true;
  if (num == 0) return 0xFFFD;
  if (num == 0x0D) return '\r';
  if (num >= 0x80 && num <= 0x9F) return k80[num - 0x80];
  found = false;
  return 0;
}

// Code points that a numeric reference silently drops.
bool is_invalid_codepoint(std::uint64_t n) {
  return (n >= 0x1 && n <= 0x8) || n == 0xB || (n >= 0xE && n <= 0x1F) || (n >= 0x7F && n <= 0x9F) ||
         (n >= 0xFDD0 && n <= 0xFDEF) || (n <= 0x10FFFF && (n & 0xFFFE) == 0xFFFE);
}

void append_numeric(std::u32string& out, std::uint64_t num) {
  bool found = false;
  const char32_t repl = invalid_charref(num, found);
  if (found) {
    out.push_back(repl);
  } else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    out.push_back(0xFFFD);
  } else if (!is_invalid_codepoint(num)) {
    out.push_back(static_cast<char32_t>(num));
  }
}

const HtmlEntity* find_entity(const std::u32string& s, std::size_t begin, std::size_t len) {
  std::string name;
  for (std::size_t i = 0; i < len; ++i) {
    const char32_t c = s[begin + i];
    if (c >= 0x80) return nullptr;  // every entity name is ASCII
    name.push_back(static_cast<char>(c));
  }
  const HtmlEntity* end = kHtmlEntities + kHtmlEntitiesCount;
  const HtmlEntity* it = std::lower_bound(kHtmlEntities, end, name, [](const HtmlEntity& e, const std::string& n) {
    return std::strcmp(e.name, n.c_str()) < 0;
  });
  if (it != end && name == it->name) return it;
  return nullptr;
}

void append_entity(std::u32string& out, const HtmlEntity& e) {
  out.push_back(e.value[0]);
  if (e.value[1] != 0) out.push_back(e.value[1]);
}

bool is_name_char(char32_t c) {  // [^\t\n\f <&#;]
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' && c != ';';
}

}  // namespace

std::u32string utf8_to_u32(const std::string& s, const char* what) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto fail = [&](std::size_t at) {
    throw InvalidArgument(std::string(what) + " is not valid UTF-8 (bad byte sequence at byte offset " +
                          std::to_string(at) + ")");
  };
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07, min = 0x10000;
    else
      fail(i);
    if (i + len > n) fail(i);
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) fail(i);
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail(i);
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string u32_to_utf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) append_utf8(out, cp);
  return out;
}

bool is_letter(char32_t cp) { return in_ranges(kLetterRanges, kLetterRangesCount, cp); }
bool is_number(char32_t cp) { return in_ranges(kNumberRanges, kNumberRangesCount, cp); }
bool is_space(char32_t cp) { return in_ranges(kSpaceRanges, kSpaceRangesCount, cp); }
bool is_unmatched(char32_t cp) { return in_ranges(kUnmatchedRanges, kUnmatchedRangesCount, cp); }
bool is_cased(char32_t cp) { return in_ranges(kCasedRanges, kCasedRangesCount, cp); }
bool is_case_ignorable(char32_t cp) { return in_ranges(kCaseIgnorableRanges, kCaseIgnorableRangesCount, cp); }

std::u32string to_lower(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  const LowerRun* runs_end = kLowerRuns + kLowerRunsCount;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t cp = s[i];
    if (cp < 0x80) {  // fast path
      out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      continue;
    }
    if (cp == kCapitalSigma) {
      out.push_back(is_final_sigma(s, i) ? kFinalSigma : kSmallSigma);
      continue;
    }
    bool done = false;
    for (std::size_t m = 0; m < kLowerMultiCount && !done; ++m) {
      if (kLowerMulti[m].cp != cp) continue;
      for (int k = 0; k < kLowerMulti[m].count; ++k) out.push_back(kLowerMulti[m].lower[k]);
      done = true;
    }
    if (done) continue;
    const LowerRun* it =
        std::upper_bound(kLowerRuns, runs_end, cp, [](char32_t c, const LowerRun& r) { return c < r.first; });
    if (it != kLowerRuns) {
      --it;
      if (cp <= it->last && (cp - it->first) % static_cast<char32_t>(it->stride) == 0) {
        out.push_back(static_cast<char32_t>(static_cast<std::int64_t>(cp) + it->delta));
        continue;
      }
    }
    out.push_back(cp);
  }
  return out;
}

std::u32string html_unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    const std::size_t b = i + 1;  // first character after '&'
    if (b < n && s[b] == U'#') {
      // &#[0-9]+;?  or  &#[xX][0-9a-fA-F]+;?  (decimal tried first, as in the reference pattern)
      std::size_t j = b + 1;
      std::uint64_t num = 0;
      const std::uint64_t cap = 0x110000;  // anything larger becomes U+FFFD anyway
      if (j < n && is_ascii_digit(s[j])) {
        while (j < n && is_ascii_digit(s[j])) num = std::min(cap, num * 10 + (s[j++] - '0'));
      } else if (j + 1 < n && (s[j] == U'x' || s[j] == U'X') && is_ascii_hex(s[j + 1])) {
        ++j;
        while (j < n && is_ascii_hex(s[j])) num = std::min(cap, num * 16 + hex_value(s[j++]));
      } else {
        out.push_back(s[i++]);  // '&#' without digits is left as it is
        continue;
      }
      if (j < n && s[j] == U';') ++j;
      append_numeric(out, num);
      i = j;
      continue;
    }
    // &[^\t\n\f <&#;]{1,32};?
    std::size_t j = b;
    while (j < n && j - b < 32 && is_name_char(s[j])) ++j;
    if (j == b) {
      out.push_back(s[i++]);
      continue;
    }
    if (j < n && s[j] == U';') ++j;
    const std::size_t len = j - b;
    if (const HtmlEntity* e = find_entity(s, b, len)) {
      append_entity(out, *e);
    } else {
      // Longest prefix (at least 2 characters) that is a name; the rest of the match is kept verbatim.
      bool found = false;
      for (std::size_t x = len - 1; x >= 2 && x < len; --x) {
        if (const HtmlEntity* p = find_entity(s, b, x)) {
          append_entity(out, *p);
          out.append(s, b + x, len - x);
          found = true;
          break;
        }
      }
      if (!found) out.append(s, i, j - i);
    }
    i = j;
  }
  return out;
}

}  // namespace dype::text
