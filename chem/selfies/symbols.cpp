// SELFIES symbol utilities: splitting, length, alphabets and the index alphabet.
#include <string>

#include "chem/selfies/graph.h"
#include "chem/selfies/selfies.h"

namespace strand::chem::selfies {

const std::vector<std::string>& index_alphabet() {
  static const std::vector<std::string> symbols = {"[C]",       "[Ring1]",   "[Ring2]",    "[Branch1]",
                                                   "[=Branch1]", "[#Branch1]", "[Branch2]",  "[=Branch2]",
                                                   "[#Branch2]", "[O]",       "[N]",        "[=N]",
                                                   "[=C]",       "[#C]",      "[S]",        "[P]"};
  return symbols;
}

namespace detail {

int index_digit(std::string_view s) {
  const auto& alphabet = index_alphabet();
  for (size_t d = 0; d < alphabet.size(); ++d)
    if (alphabet[d] == s) return static_cast<int>(d);
  return 0;
}

void split_symbols(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  size_t left = s.find('[');
  while (left != std::string_view::npos && left < s.size()) {
    const size_t right = s.find(']', left + 1);
    if (right == std::string_view::npos)
      throw DecoderError("malformed SELFIES string: '[' at position " + std::to_string(left) + " has no closing ']' in '" +
                         std::string(s) + "'");
    out.push_back(s.substr(left, right - left + 1));
    left = right + 1;
    if (left < s.size() && s[left] == '.') {
      out.emplace_back(".");
      ++left;
    }
  }
}

}  // namespace detail

int64_t index_of_symbols(const std::vector<std::string>& symbols) {
  int64_t value = 0;
  for (const auto& s : symbols) value = value * 16 + detail::index_digit(s);
  return value;
}

std::vector<std::string> symbols_of_index(int64_t index) {
  if (index < 0) throw InputError("SELFIES index must be >= 0, got " + std::to_string(index));
  const auto& alphabet = index_alphabet();
  std::vector<std::string> out;
  do {
    out.insert(out.begin(), alphabet[static_cast<size_t>(index % 16)]);
    index /= 16;
  } while (index > 0);
  return out;
}

std::vector<std::string> split_selfies(std::string_view s) {
  std::vector<std::string_view> views;
  detail::split_symbols(s, views);
  return std::vector<std::string>(views.begin(), views.end());
}

int64_t len_selfies(std::string_view s) {
  int64_t n = 0;
  for (const char c : s) n += (c == '[' || c == '.') ? 1 : 0;
  return n;
}

std::set<std::string> alphabet(const std::vector<std::string>& strings) {
  std::set<std::string> out;
  for (const auto& s : strings)
    for (auto& symbol : split_selfies(s))
      if (symbol != ".") out.insert(std::move(symbol));
  return out;
}

}  // namespace strand::chem::selfies
