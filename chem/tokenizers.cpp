#include "chem/tokenizers.h"

#include <array>
#include <memory>
#include <set>

#include "chem/elements.h"
#include "chem/selfies/selfies.h"

namespace strand::chem {

using tokenize::Offset;
using tokenize::SpecialTokens;
using tokenize::TokenId;
using tokenize::TokenWriter;

namespace {

const std::vector<std::string> kSpecials = {"<pad>", "<unk>", "<bos>", "<eos>", "<mask>"};

SpecialTokens chem_specials() {
  SpecialTokens s;
  s.pad = ChemSpecialIds::kPad;
  s.unk = ChemSpecialIds::kUnk;
  s.bos = s.prefix = ChemSpecialIds::kBos;
  s.eos = s.suffix = ChemSpecialIds::kEos;
  s.mask = ChemSpecialIds::kMask;
  return s;
}

// Bracket atoms frequent in drug-like and natural-product SMILES (ChEMBL, ZINC, MoleculeNet);
// each is one token with brackets=atom.
const char* const kBracketAtoms[] = {
    "[nH]",   "[C@@H]", "[C@H]",  "[C@@]",  "[C@]",   "[O-]",   "[N+]",   "[n+]",   "[NH+]",  "[NH2+]", "[NH3+]",
    "[NH4+]", "[N-]",   "[n-]",   "[S+]",   "[S-]",   "[O+]",   "[o+]",   "[s+]",   "[nH+]",  "[Na+]",  "[K+]",
    "[Li+]",  "[Cl-]",  "[Br-]",  "[I-]",   "[F-]",   "[H]",    "[H+]",   "[2H]",   "[3H]",   "[13C]",  "[13CH3]",
    "[14C]",  "[18F]",  "[11C]",  "[125I]", "[123I]", "[Si]",   "[Se]",   "[se]",   "[te]",   "[B-]",   "[BH-]",
    "[BH3-]", "[BH4-]", "[P+]",   "[P@]",   "[P@@]",  "[S@]",   "[S@@]",  "[S@+]",  "[S@@+]", "[N@]",   "[N@@]",
    "[N@+]",  "[N@@+]", "[C-]",   "[c-]",   "[CH]",   "[CH2]",  "[CH-]",  "[CH2-]", "[OH]",   "[OH-]",  "[OH2+]",
    "[SH]",   "[SH-]",  "[NH]",   "[NH-]",  "[NH2]",  "[PH]",   "[Mg+2]", "[Ca+2]", "[Zn+2]", "[Fe+2]", "[Fe+3]",
    "[Cu+2]", "[Al+3]", "[Ba+2]", "[Sr+2]", "[Cs+]",  "[Rb+]",  "[Mg]",   "[Ca]",   "[Zn]",   "[Fe]",   "[Cu]",
    "[Al]",   "[Pt]",   "[Pt+2]", "[Co]",   "[Co+2]", "[Ni]",   "[Ni+2]", "[Mn]",   "[Mn+2]", "[Ag]",   "[Ag+]",
    "[Au]",   "[Hg]",   "[Hg+2]", "[Sn]",   "[As]",   "[Ge]",   "[Te]",   "[Ti]",   "[Cr]",   "[V]",    "[Zr]",
    "[Pd]",   "[Ru]",   "[Rh]",   "[Ir]",   "[Gd+3]", "[Tc]",   "[Bi]",   "[Sb]",   "[C]",    "[N]",    "[O]",
    "[S]",    "[c]",    "[n]",    "[Se-]"};

std::vector<std::string> smiles_vocabulary(bool split_brackets) {
  std::vector<std::string> v = kSpecials;
  for (const char* s : {"(", ")", "[", "]", ".", "=", "#", "-", "+", ":", "/", "\\", "$", "*", "@", "@@", "%", ">", "~"})
    v.emplace_back(s);
  for (char d = '0'; d <= '9'; ++d) v.emplace_back(1, d);
  for (int r = 10; r <= 99; ++r) v.push_back("%" + std::to_string(r));
  for (const char* s : {"B", "C", "N", "O", "P", "S", "F", "Cl", "Br", "I", "b", "c", "n", "o", "p", "s", "se", "as", "te", "si"})
    v.emplace_back(s);
  const std::set<std::string> have(v.begin(), v.end());
  for (const auto e : kElements)
    if (have.count(std::string(e)) == 0) v.emplace_back(e);
  if (!split_brackets)
    for (const char* s : kBracketAtoms) v.emplace_back(s);
  return v;
}

// Symbols beyond the robust alphabet that drug-like molecules need.
std::vector<std::string> selfies_extra() {
  std::vector<std::string> v;
  for (int l = 1; l <= 3; ++l) {
    const std::string n = std::to_string(l);
    v.push_back("[#Ring" + n + "]");
    for (const char* pair : {"-/", "-\\", "/-", "//", "/\\", "\\-", "\\/", "\\\\"}) v.push_back("[" + std::string(pair) + "Ring" + n + "]");
  }
  for (const char* bond : {"/", "\\"})
    for (const char* a : {"C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "C@@H1", "C@H1", "C@@", "C@", "NH1", "N+1", "O-1",
                          "S-1", "CH0", "Si", "Se", "B"})
      v.push_back("[" + std::string(bond) + a + "]");
  for (const char* a : {"C@@H1", "C@H1", "C@@", "C@", "S@", "S@@", "S@+1", "S@@+1", "=S@", "=S@@", "N@", "N@@", "N@+1", "N@@+1",
                        "P@", "P@@", "=P@", "=P@@", "Si@", "Si@@", "NH1", "NH1+1", "NH2+1", "NH3+1", "NH1-1", "=NH1+1", "=NH2+1",
                        "OH1+1", "=OH1+1", "OH0", "SH1", "SH1+1", "=SH1+1", "CH1", "CH2", "CH0", "=CH0", "CH1-1", "CH2-1",
                        "=CH1-1", "PH1", "PH2", "=PH1", "BH1-1", "BH2-1", "BH3-1", "SiH1", "SiH2", "SiH3", "SeH1", "#N+1",
                        "=N-1", "N-1", "=S-1", "O", "Si", "=Si", "Se", "=Se", "Te", "=Te", "As", "=As", "Ge", "Sn", "Na", "K",
                        "Li", "Mg", "Ca", "Zn", "Fe", "Cu", "Al", "Pt", "Co", "Ni", "Mn", "Ag", "Au", "Hg", "Ti", "Cr", "V",
                        "Zr", "Pd", "Ru", "Rh", "Ir", "Bi", "Sb", "Gd", "Tc", "Ba", "Sr", "Cs", "Rb", "Xe", "Na+1", "K+1",
                        "Li+1", "Mg+2", "Ca+2", "Zn+2", "Fe+2", "Fe+3", "Cu+1", "Cu+2", "Al+3", "Ba+2", "Sr+2", "Cs+1",
                        "Rb+1", "Ag+1", "Co+2", "Ni+2", "Mn+2", "Pt+2", "Hg+2", "Gd+3", "Cl-1", "Br-1", "I-1", "F-1", "H+1",
                        "H-1", "Se-1", "2H", "3H", "13C", "13CH3", "13CH2", "13CH1", "=13CH1", "14C", "18F", "11C", "11CH3",
                        "123I", "125I", "131I", "15N", "18O", "17O", "32P", "35S"})
    v.push_back("[" + std::string(a) + "]");
  return v;
}

std::vector<std::string> selfies_vocabulary() {
  std::vector<std::string> v = kSpecials;
  v.emplace_back("[nop]");
  v.emplace_back(".");
  std::set<std::string> have(v.begin(), v.end());
  for (const auto& s : selfies::robust_alphabet())
    if (have.insert(s).second) v.push_back(s);
  for (const auto& s : selfies_extra())
    if (have.insert(s).second) v.push_back(s);
  return v;
}

std::unordered_map<std::string, TokenId> index_of(const std::vector<std::string>& vocab) {
  std::unordered_map<std::string, TokenId> m;
  for (size_t i = 0; i < vocab.size(); ++i) m.emplace(vocab[i], static_cast<TokenId>(i));
  return m;
}

bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// ---------------------------------------------------------------------------------------------

SmilesTokenizer::SmilesTokenizer(bool split_brackets) : split_brackets_(split_brackets) {
  auto vocab = smiles_vocabulary(split_brackets);
  ids_ = index_of(vocab);
  init_vocabulary(std::move(vocab), chem_specials());
}

nlohmann::json SmilesTokenizer::options() const { return {{"brackets", split_brackets_ ? "split" : "atom"}}; }

TokenId SmilesTokenizer::id_of(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  return it == ids_.end() ? kUnk : it->second;
}

void SmilesTokenizer::encode_content(std::string_view text, TokenWriter& out) const {
  const size_t n = text.size();
  bool inside = false;  // between '[' and ']': two-letter elements are read here only
  size_t i = 0;
  const auto emit = [&](size_t len) {
    out.push(id_of(text.substr(i, len)), Offset{static_cast<int64_t>(i), static_cast<int64_t>(i + len)});
    i += len;
  };
  while (i < n) {
    const char c = text[i];
    if (c == '[' && !split_brackets_) {
      size_t j = i + 1;
      while (j < n && j < i + 24 && text[j] != ']' && text[j] != '[') ++j;
      if (j < n && text[j] == ']' && ids_.count(std::string(text.substr(i, j - i + 1))) != 0) {
        emit(j - i + 1);
        continue;
      }
    }
    if (c == '[' || c == ']') {
      inside = c == '[';
      emit(1);
    } else if (c == '%') {
      emit(i + 2 < n && is_digit(text[i + 1]) && is_digit(text[i + 2]) && text[i + 1] != '0' ? 3 : 1);
    } else if (c == '@') {
      emit(i + 1 < n && text[i + 1] == '@' ? 2 : 1);
    } else if (i + 1 < n && ((inside && (is_upper(c) || is_lower(c)) && is_lower(text[i + 1])) ||
                             (!inside && ((c == 'C' && text[i + 1] == 'l') || (c == 'B' && text[i + 1] == 'r')))) &&
               ids_.count(std::string(text.substr(i, 2))) != 0) {
      emit(2);
    } else {
      emit(1);
    }
  }
}

// ---------------------------------------------------------------------------------------------

SelfiesTokenizer::SelfiesTokenizer() {
  auto vocab = selfies_vocabulary();
  ids_ = index_of(vocab);
  init_vocabulary(std::move(vocab), chem_specials());
}

void SelfiesTokenizer::encode_content(std::string_view text, TokenWriter& out) const {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    size_t len = 1;
    TokenId id = kUnk;
    if (text[i] == '[') {
      size_t j = i + 1;
      while (j < n && j < i + 64 && text[j] != ']' && text[j] != '[') ++j;
      if (j < n && text[j] == ']') {
        len = j - i + 1;
        const auto it = ids_.find(std::string(text.substr(i, len)));
        if (it != ids_.end()) id = it->second;
      }
    } else if (text[i] == '.') {
      id = kDot;
    }
    out.push(id, Offset{static_cast<int64_t>(i), static_cast<int64_t>(i + len)});
    i += len;
  }
}

void register_tokenizers(tokenize::TokenizerRegistry& registry) {
  registry.add("smiles", "SMILES by regex symbols; bracket atoms whole when frequent (brackets=atom|split)",
               [](tokenize::TokenizerSpec& spec) -> std::unique_ptr<tokenize::Tokenizer> {
                 const bool split = spec.get_choice("brackets", "atom", {"atom", "split"}) == "split";
                 spec.finish({"brackets"});
                 return std::make_unique<SmilesTokenizer>(split);
               });
  registry.add("selfies", "SELFIES symbols (robust alphabet and common drug-like symbols)",
               [](tokenize::TokenizerSpec& spec) -> std::unique_ptr<tokenize::Tokenizer> {
                 spec.finish({});
                 return std::make_unique<SelfiesTokenizer>();
               });
}

}  // namespace strand::chem
