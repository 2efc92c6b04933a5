#include <cctype>
#include <string>

#include "chem/selfies/graph.h"
#include "chem/selfies/selfies.h"

namespace strand::chem::selfies {
namespace {

// selfies 2.2.0 get_preset_constraints("default"). 2.2.0 changed C+1 (5 -> 3), P+1 (6 -> 4),
// P-1 (4 -> 6) and S+1 (7 -> 5) from 2.1.
const std::map<std::string, int, std::less<>>& default_table() {
  static const std::map<std::string, int, std::less<>> table = {
      {"H", 1},   {"F", 1},   {"Cl", 1},  {"Br", 1}, {"I", 1},   {"B", 3},   {"B+1", 2}, {"B-1", 4},
      {"O", 2},   {"O+1", 3}, {"O-1", 1}, {"N", 3},  {"N+1", 4}, {"N-1", 2}, {"C", 4},   {"C+1", 3},
      {"C-1", 3}, {"P", 5},   {"P+1", 4}, {"P-1", 6}, {"S", 6},  {"S+1", 5}, {"S-1", 5}, {"?", 8}};
  return table;
}

std::string key_of(std::string_view element, int charge) {
  if (charge == 0) return std::string(element);
  return std::string(element) + (charge > 0 ? "+" : "-") + std::to_string(charge > 0 ? charge : -charge);
}

void check_entry(const std::string& key, int value) {
  if (value < 0 || value > 255)
    throw ConfigError("SELFIES constraints: '" + key + "' = " + std::to_string(value) +
                      ": a bonding capacity must be between 0 and 255");
  if (key == "?") return;
  size_t i = 0;
  while (i < key.size() && std::isalpha(static_cast<unsigned char>(key[i])) != 0) ++i;
  const std::string element = key.substr(0, i);
  bool ok = detail::is_element(element);
  if (ok && i < key.size()) {
    ok = (key[i] == '+' || key[i] == '-') && i + 1 < key.size() && key[i + 1] != '0';
    for (size_t j = i + 1; ok && j < key.size(); ++j) ok = std::isdigit(static_cast<unsigned char>(key[j])) != 0;
  }
  if (!ok)
    throw ConfigError("SELFIES constraints: bad key '" + key +
                      "' (expected '?', an element such as 'N', or an ion such as 'N+1' or 'Fe+2')");
}

}  // namespace

Constraints::Constraints() : table_(default_table()) { index(); }

void Constraints::index() {
  neutral_.fill(-1);
  for (const auto& [key, value] : table_) {
    const int slot = detail::element_slot(key);
    if (slot >= 0) neutral_[static_cast<size_t>(slot)] = static_cast<int16_t>(value);
  }
}

Constraints Constraints::preset(std::string_view name) {
  Constraints c;
  if (name == "default") return c;
  if (name == "octet_rule") {
    for (const auto& [k, v] : std::map<std::string, int>{{"S", 2}, {"S+1", 3}, {"S-1", 1}, {"P", 3}, {"P+1", 4}, {"P-1", 2}})
      c.table_[k] = v;
    c.index();
    return c;
  }
  if (name == "hypervalent") {
    for (const auto& [k, v] : std::map<std::string, int>{{"Cl", 7}, {"Br", 7}, {"I", 7}, {"N", 5}}) c.table_[k] = v;
    c.index();
    return c;
  }
  throw ConfigError("unknown SELFIES constraints preset '" + std::string(name) +
                    "' (presets: default, octet_rule, hypervalent)");
}

Constraints Constraints::from_table(const std::map<std::string, int>& table) {
  if (table.count("?") == 0) throw ConfigError("SELFIES constraints: the table has no '?' entry (the capacity of every other atom)");
  for (const auto& [k, v] : table) check_entry(k, v);
  Constraints c;
  c.table_ = std::map<std::string, int, std::less<>>(table.begin(), table.end());
  c.fallback_ = table.at("?");
  c.index();
  return c;
}

Constraints Constraints::parse(std::string_view spec) {
  const std::string s(spec);
  const size_t semi = s.find(';');
  Constraints c = preset(s.substr(0, semi));
  for (size_t start = semi; start != std::string::npos && start < s.size();) {
    const size_t end = s.find(';', start + 1);
    const std::string item = s.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    start = end;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    int value = -1;
    try {
      size_t used = 0;
      if (eq != std::string::npos) value = std::stoi(item.substr(eq + 1), &used);
      if (eq == std::string::npos || used != item.size() - eq - 1) value = -1;
    } catch (const std::exception&) {
      value = -1;
    }
    if (value < 0) throw ConfigError("SELFIES constraints '" + s + "': expected KEY=CAPACITY, found '" + item + "'");
    c = c.with(item.substr(0, eq), value);
  }
  return c;
}

int Constraints::capacity(std::string_view element, int charge) const {
  if (charge == 0) {
    const int slot = detail::element_slot(element);
    if (slot >= 0) {
      const int value = neutral_[static_cast<size_t>(slot)];
      return value >= 0 ? value : fallback_;
    }
  }
  const auto it = charge == 0 ? table_.find(element) : table_.find(key_of(element, charge));
  return it == table_.end() ? fallback_ : it->second;
}

Constraints Constraints::with(const std::string& key, int value) const {
  check_entry(key, value);
  Constraints c = *this;
  c.table_[key] = value;
  if (key == "?") c.fallback_ = value;
  c.index();
  return c;
}

std::set<std::string> robust_alphabet(const Constraints& constraints) {
  std::set<std::string> out;
  for (const auto& [key, cap] : constraints.table()) {
    if (key == "?") continue;
    const char* bonds[] = {"", "=", "#"};
    for (int order = 1; order <= 3 && order <= cap; ++order) out.insert("[" + std::string(bonds[order - 1]) + key + "]");
  }
  for (int l = 1; l <= 3; ++l) {
    const std::string n = std::to_string(l);
    for (const char* b : {"", "="}) out.insert("[" + std::string(b) + "Ring" + n + "]");
    for (const char* b : {"", "=", "#"}) out.insert("[" + std::string(b) + "Branch" + n + "]");
  }
  for (const auto& s : index_alphabet()) out.insert(s);
  return out;
}

}  // namespace strand::chem::selfies
