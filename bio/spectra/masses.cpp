#include "bio/spectra/masses.h"

#include <charconv>
#include <cmath>
#include <string>

#include "libseq/core/error.h"

namespace strand::bio::spectra {
namespace {

struct StandardResidue {
  char letter;
  double mass;
};
// Monoisotopic residue masses (Casanovo v5 configuration; denovo.md §1.5).
constexpr StandardResidue kStandard[] = {
    {'G', 57.021464},  {'A', 71.037114},  {'S', 87.032028},  {'P', 97.052764},  {'V', 99.068414},
    {'T', 101.047670}, {'C', 103.009185}, {'L', 113.084064}, {'I', 113.084064}, {'N', 114.042927},
    {'D', 115.026943}, {'Q', 128.058578}, {'K', 128.094963}, {'E', 129.042593}, {'M', 131.040485},
    {'H', 137.058912}, {'F', 147.068414}, {'R', 156.101111}, {'Y', 163.063329}, {'W', 186.079313}};

/// Mass shifts written as deltas match a modification to within this (deltas are often written
/// with three decimals).
constexpr double kDeltaTolerance = 0.01;

double standard_mass(char letter) {
  for (const auto& r : kStandard)
    if (r.letter == letter) return r.mass;
  return -1;
}

/// A signed decimal ("+15.995", "-17.027") at s[i]; advances i past it. False if there is none.
bool read_delta(std::string_view s, size_t& i, double& value) {
  if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
  const double sign = s[i] == '-' ? -1 : 1;
  const char* begin = s.data() + i + 1;
  double magnitude = 0;
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), magnitude, std::chars_format::fixed);
  if (ec != std::errc() || end == begin || !std::isfinite(magnitude)) return false;
  value = sign * magnitude;
  i = static_cast<size_t>(end - s.data());
  return true;
}

/// A whole string that is one signed decimal ("+25.980265").
bool whole_delta(std::string_view s, double& value) {
  size_t i = 0;
  return read_delta(s, i, value) && i == s.size();
}

}  // namespace

ResidueTable::ResidueTable(const std::vector<Modification>& modifications, bool merge_isoleucine)
    : merge_isoleucine_(merge_isoleucine) {
  for (int& t : plain_) t = -1;
  const auto add = [this](std::string token, char amino_acid, double mass) {
    if (find(token) >= 0) throw ConfigError("residue table: token '" + token + "' is defined twice");
    residues_.push_back({std::move(token), amino_acid, mass});
    return static_cast<int>(residues_.size()) - 1;
  };
  for (const auto& m : modifications) {
    if (m.target == '^') continue;
    if (standard_mass(m.target) < 0)
      throw ConfigError("residue table: modification '" + m.name + "' targets '" + std::string(1, m.target) +
                        "', which is not one of the 20 standard residues");
    if (merge_isoleucine && m.target == 'I')
      throw ConfigError("residue table: modification '" + m.name + "' targets I, which is read as L (I is merged)");
  }
  // Standard residues, each as its fixed modification when it has one.
  std::vector<int> fixed_of(26, -1);
  for (size_t k = 0; k < modifications.size(); ++k) {
    const auto& m = modifications[k];
    if (!m.fixed || m.target == '^') continue;
    int& slot = fixed_of[static_cast<size_t>(m.target - 'A')];
    if (slot >= 0) throw ConfigError("residue table: residue " + std::string(1, m.target) + " has two fixed modifications");
    slot = static_cast<int>(k);
  }
  token_of_mod_.assign(modifications.size(), -1);
  for (const auto& r : kStandard) {
    if (merge_isoleucine && r.letter == 'I') continue;
    const int fixed = fixed_of[static_cast<size_t>(r.letter - 'A')];
    const int token = fixed < 0 ? add(std::string(1, r.letter), r.letter, r.mass)
                                : add(std::string(1, r.letter) + "[" + modifications[static_cast<size_t>(fixed)].name + "]",
                                      r.letter, r.mass + modifications[static_cast<size_t>(fixed)].delta);
    plain_[r.letter - 'A'] = token;
    if (fixed >= 0) token_of_mod_[static_cast<size_t>(fixed)] = token;
  }
  if (merge_isoleucine) plain_['I' - 'A'] = plain_['L' - 'A'];
  for (size_t k = 0; k < modifications.size(); ++k) {
    const auto& m = modifications[k];
    if (m.fixed && m.target != '^') continue;
    token_of_mod_[k] = m.target == '^' ? add("[" + m.name + "]-", 0, m.delta)
                                       : add(std::string(1, m.target) + "[" + m.name + "]", m.target,
                                             standard_mass(m.target) + m.delta);
  }
  modifications_ = modifications;
}

std::vector<Modification> ResidueTable::casanovo_modifications() {
  return {{"Carbamidomethyl", 'C', 57.021464, true}, {"Oxidation", 'M', 15.994915, false},
          {"Deamidated", 'N', 0.984016, false},      {"Deamidated", 'Q', 0.984016, false},
          {"Acetyl", '^', 42.010565, false},         {"Carbamyl", '^', 43.005814, false},
          {"Ammonia-loss", '^', -17.026549, false},  {"+25.980265", '^', 25.980265, false}};
}

ResidueTable ResidueTable::casanovo() { return ResidueTable(casanovo_modifications(), true); }

int ResidueTable::find(std::string_view token) const {
  for (size_t i = 0; i < residues_.size(); ++i)
    if (residues_[i].token == token) return static_cast<int>(i);
  return -1;
}

int ResidueTable::modified_token(char residue, std::string_view name, double delta, bool by_name) const {
  for (size_t k = 0; k < modifications_.size(); ++k) {
    const auto& m = modifications_[k];
    if (m.target != residue) continue;
    if (by_name ? m.name == name : std::abs(m.delta - delta) <= kDeltaTolerance) return token_of_mod_[k];
  }
  return -1;
}

int ResidueTable::n_terminal_token(std::string_view name, double delta, bool by_name) const {
  return modified_token('^', name, delta, by_name);
}

std::vector<int> ResidueTable::parse(std::string_view peptide) const {
  const auto fail = [&](size_t at, const std::string& problem) -> void {
    throw InputError("peptide '" + std::string(peptide) + "' at position " + std::to_string(at + 1) + ": " + problem);
  };
  std::vector<int> out;
  if (peptide.empty()) fail(0, "empty peptide");
  size_t i = 0;
  // A bracketed modification name or mass ("[Oxidation]", "[+15.995]") at s[i] for `target`.
  const auto bracketed = [&](char target) {
    const size_t close = peptide.find(']', i);
    if (close == std::string_view::npos) fail(i, "'[' without a closing ']'");
    const std::string_view name = peptide.substr(i + 1, close - i - 1);
    int token = modified_token(target, name, 0, true);
    double delta = 0;
    if (token < 0 && whole_delta(name, delta)) token = modified_token(target, name, delta, false);
    if (token < 0)
      fail(i, "unknown modification '" + std::string(name) + "' of " +
                  (target == '^' ? std::string("the N-terminus") : "residue " + std::string(1, target)));
    i = close + 1;
    return token;
  };
  // Mass deltas in a row ("+43.006-17.027") at s[i] for `target`, matched by their sum.
  const auto deltas = [&](char target) {
    const size_t start = i;
    double sum = 0;
    double delta = 0;
    while (read_delta(peptide, i, delta)) sum += delta;
    const int token = modified_token(target, {}, sum, false);
    if (token < 0)
      fail(start, "no modification of " + (target == '^' ? std::string("the N-terminus") : "residue " + std::string(1, target)) +
                      " has the mass shift " + std::string(peptide.substr(start, i - start)));
    return token;
  };
  if (peptide[0] == '[') {
    const int token = bracketed('^');
    if (i >= peptide.size() || peptide[i] != '-') fail(i, "expected '-' after an N-terminal modification");
    ++i;
    out.push_back(token);
  } else if (peptide[0] == '+' || peptide[0] == '-') {
    out.push_back(deltas('^'));
  }
  while (i < peptide.size()) {
    const char c = peptide[i];
    if (c < 'A' || c > 'Z') fail(i, std::string("expected a residue letter, found '") + c + "'");
    const char letter = merge_isoleucine_ && c == 'I' ? 'L' : c;
    ++i;
    if (i < peptide.size() && peptide[i] == '[') {
      out.push_back(bracketed(letter));
    } else if (i < peptide.size() && (peptide[i] == '+' || peptide[i] == '-')) {
      out.push_back(deltas(letter));
    } else {
      const int token = plain_[letter - 'A'];
      if (token < 0) fail(i - 1, std::string("unknown residue '") + c + "'");
      out.push_back(token);
    }
  }
  if (out.size() == 1 && residues_[static_cast<size_t>(out[0])].amino_acid == 0) fail(i, "no residues after the N-terminal modification");
  return out;
}

std::string ResidueTable::format(const std::vector<int>& tokens) const {
  std::string s;
  for (const int t : tokens) s += residues_.at(static_cast<size_t>(t)).token;
  return s;
}

double ResidueTable::residue_sum(const std::vector<int>& tokens) const {
  double sum = 0;
  for (const int t : tokens) sum += residues_.at(static_cast<size_t>(t)).mass;
  return sum;
}

std::vector<double> ResidueTable::b_ions(const std::vector<int>& tokens, int charge) const {
  std::vector<double> out;
  double prefix = 0;
  size_t residues = 0;
  for (const int t : tokens) residues += residues_.at(static_cast<size_t>(t)).amino_acid != 0 ? 1 : 0;
  size_t seen = 0;
  for (const int t : tokens) {
    const Residue& r = residues_.at(static_cast<size_t>(t));
    prefix += r.mass;
    if (r.amino_acid == 0) continue;
    if (++seen == residues) break;
    out.push_back(mz_of(prefix, charge));
  }
  return out;
}

std::vector<double> ResidueTable::y_ions(const std::vector<int>& tokens, int charge) const {
  std::vector<double> out;
  double suffix = 0;
  for (size_t k = tokens.size(); k-- > 1;) {
    const Residue& r = residues_.at(static_cast<size_t>(tokens[k]));
    suffix += r.mass;
    if (residues_.at(static_cast<size_t>(tokens[k - 1])).amino_acid == 0) break;  // only the N-terminal mod is left
    out.push_back(mz_of(suffix + kWater, charge));
  }
  return out;
}

bool precursor_matches(double calc_mass, double observed_mz, int charge, double tolerance_ppm, int min_isotope,
                       int max_isotope) {
  if (charge <= 0 || observed_mz <= 0) return false;
  const double calc_mz = mz_of(calc_mass, charge);
  for (int k = min_isotope; k <= max_isotope; ++k) {
    const double shifted = observed_mz - k * kIsotopeSpacing / charge;
    if (std::abs(calc_mz - shifted) / observed_mz * 1e6 <= tolerance_ppm) return true;
  }
  return false;
}

}  // namespace strand::bio::spectra
