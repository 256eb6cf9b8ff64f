#pragma once
// Small string helpers shared by core (C++17 has no std::string::starts_with / ends_with).
#include <cctype>
#include <string>

namespace dype {

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ASCII lower case (names, file extensions, captions); bytes of UTF-8 sequences are left as they are.
inline std::string to_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace dype
