#pragma once
// The small part of Unicode the CLIP tokenizer needs, with Python's exact semantics (the reference tokenizer is
// Python): UTF-8 <-> code points, character classes, full lower-casing and HTML unescaping. Tables are generated
// from Python / the `regex` module by gen_unicode_tables.py, so no ICU dependency and no locale is involved.
#include <string>

namespace dype::text {

// Strict UTF-8 decoding (no overlongs, no surrogates, nothing above U+10FFFF). Throws InvalidArgument naming
// `what` (e.g. "prompt") and the byte offset of the first invalid sequence.
std::u32string utf8_to_u32(const std::string& s, const char* what = "text");
std::string u32_to_utf8(const std::u32string& s);
void append_utf8(std::string& out, char32_t cp);

bool is_letter(char32_t cp);  // regex \p{L}
bool is_number(char32_t cp);  // regex \p{N}
bool is_space(char32_t cp);   // Python str.isspace(): Unicode white space plus U+001C..U+001F
// Characters that none of the CLIP pattern's classes match under its case-insensitive matching (U+0345): the
// reference pre-tokeniser skips them like white space.
bool is_unmatched(char32_t cp);
bool is_cased(char32_t cp);  // Unicode Cased (as consulted by the final-sigma rule)
bool is_case_ignorable(char32_t cp);

// Python str.lower(): full lower-case mapping (U+0130 -> "i\u0307"), capital sigma -> final sigma at word ends.
std::u32string to_lower(const std::u32string& s);

// Python html.unescape(): numeric references (with the HTML5 replacements for invalid code points) and the
// HTML5 named references, including legacy names without ';' and longest-prefix matching.
std::u32string html_unescape(const std::u32string& s);

}  // namespace dype::text
