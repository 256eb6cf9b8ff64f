#pragma once
// Generated Unicode tables (see gen_unicode_tables.py); internal to core/text, used by unicode.cpp.
#include <cstddef>
#include <cstdint>

namespace dype::text::detail {

struct CodeRange {
  char32_t first, last;  // inclusive
};

// Code points first, first+stride, ..., last lower-case to cp + delta.
struct LowerRun {
  char32_t first, last;
  std::int32_t stride, delta;
};

// Code points whose lower-case form is several code points (U+0130 -> "i\u0307").
struct LowerMulti {
  char32_t cp;
  std::int32_t count;
  char32_t lower[3];
};

struct HtmlEntity {
  const char* name;   // without the leading '&', with the trailing ';' where it has one
  char32_t value[2];  // one or two code points (0 = unused)
};

extern const CodeRange kLetterRanges[];
extern const std::size_t kLetterRangesCount;
extern const CodeRange kNumberRanges[];
extern const std::size_t kNumberRangesCount;
extern const CodeRange kSpaceRanges[];
extern const std::size_t kSpaceRangesCount;
extern const CodeRange kUnmatchedRanges[];
extern const std::size_t kUnmatchedRangesCount;
extern const CodeRange kCasedRanges[];
extern const std::size_t kCasedRangesCount;
extern const CodeRange kCaseIgnorableRanges[];
extern const std::size_t kCaseIgnorableRangesCount;
extern const LowerRun kLowerRuns[];
extern const std::size_t kLowerRunsCount;
extern const LowerMulti kLowerMulti[];
extern const std::size_t kLowerMultiCount;
extern const HtmlEntity kHtmlEntities[];  // sorted by name (byte order)
extern const std::size_t kHtmlEntitiesCount;

}  // namespace dype::text::detail
