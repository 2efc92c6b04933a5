// Text helpers shared by the spectrum readers (internal to bio/spectra).
#pragma once

#include <charconv>
#include <cmath>
#include <string_view>
#include <system_error>

namespace strand::bio::spectra::detail {

inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/// `s` without leading and trailing whitespace.
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

/// A finite decimal number filling the whole of `s` (surrounding whitespace and one leading '+'
/// allowed).
inline bool parse_double(std::string_view s, double& value) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(value);
}

}  // namespace strand::bio::spectra::detail
