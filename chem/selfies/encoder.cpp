// SMILES -> SELFIES with selfies 2.2.0 semantics: the reference's own SMILES reading (not RDKit's:
// ring closures do not cross '.', '*' and '$' are unsupported, only @ and @@ chirality), its
// kekulization, its chirality correction for ring bonds, and its symbol writing. Branches are
// written with an explicit stack, so nesting depth costs heap, not stack.
#include <algorithm>
#include <iterator>
#include <map>
#include <string>

#include "chem/selfies/graph.h"
#include "chem/selfies/selfies.h"

namespace strand::chem::selfies {
namespace {

using detail::Atom;
using detail::Bond;
using detail::MolGraph;
using detail::Provenance;

[[noreturn]] void parse_error(std::string_view smiles, size_t position, const std::string& problem) {
  throw EncoderError("invalid SMILES '" + std::string(smiles) + "' at position " + std::to_string(position) + ": " +
                     problem);
}

enum class TokenKind { Atom, Branch, Ring, Dot };

struct Token {
  TokenKind kind;
  char bond = 0;        ///< bond character before the symbol, 0 if none
  size_t bond_pos = 0;  ///< its position
  size_t start = 0;     ///< position of the symbol
  std::string text;     ///< the symbol (atom text, "(", ")", ring label, ".")
  int64_t bond_index = -1;  ///< index of the bond character in the token sequence
  int64_t index = 0;        ///< index of the symbol in the token sequence
};

bool is_bond_char(char c) { return c == '-' || c == '/' || c == '\\' || c == ':' || c == '=' || c == '#'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  int64_t counter = 0;
  size_t i = 0;
  while (i < s.size()) {
    Token t{};
    if (s[i] == '.') {
      t.kind = TokenKind::Dot;
      t.start = i;
      t.text = ".";
      t.index = counter++;
      out.push_back(t);
      ++i;
      continue;
    }
    if (is_bond_char(s[i])) {
      t.bond = s[i];
      t.bond_pos = i;
      t.bond_index = counter++;
      ++i;
    }
    if (i == s.size()) parse_error(s, i - 1, "a bond character with no atom after it");
    t.start = i;
    if (is_alpha(s[i])) {
      const bool two = i + 1 < s.size() && ((s[i] == 'B' && s[i + 1] == 'r') || (s[i] == 'C' && s[i + 1] == 'l'));
      t.kind = TokenKind::Atom;
      t.text = std::string(s.substr(i, two ? 2 : 1));
    } else if (s[i] == '[') {
      const size_t close = s.find(']', i + 1);
      if (close == std::string_view::npos) parse_error(s, i, "'[' without a closing ']'");
      t.kind = TokenKind::Atom;
      t.text = std::string(s.substr(i, close - i + 1));
    } else if (s[i] == '(' || s[i] == ')') {
      if (t.bond != 0) parse_error(s, t.bond_pos, std::string("a bond character before '") + s[i] + "'");
      t.kind = TokenKind::Branch;
      t.text = std::string(1, s[i]);
    } else if (is_digit(s[i])) {
      t.kind = TokenKind::Ring;
      t.text = std::string(1, s[i]);
    } else if (s[i] == '%') {
      if (!(i + 2 < s.size() && is_digit(s[i + 1]) && is_digit(s[i + 2])))
        parse_error(s, i, "'%' must be followed by a two-digit ring number, found '" + std::string(s.substr(i + 1, 2)) + "'");
      t.kind = TokenKind::Ring;
      t.text = std::string(s.substr(i, 3));
    } else {
      const std::string what = s[i] == '*'   ? "the wildcard atom '*' is not supported"
                               : s[i] == '$' ? "the quadruple bond '$' is not supported"
                                             : std::string("unexpected character '") + s[i] + "'";
      parse_error(s, i, what);
    }
    t.index = counter++;
    i = t.start + t.text.size();
    out.push_back(std::move(t));
  }
  return out;
}

double order_of(char bond) { return bond == '=' ? 2 : bond == '#' ? 3 : bond == ':' ? 1.5 : 1; }

/// Reads the SMILES into `mol`, fragment by fragment (each '.' starts a fragment with its own ring
/// numbers).
void read_smiles(std::string_view smiles, const Constraints& constraints, bool attribute, MolGraph& mol) {
  if (smiles.empty()) parse_error(smiles, 0, "empty SMILES");
  const std::vector<Token> tokens = tokenize(smiles);
  size_t t = 0;
  while (t < tokens.size()) {
    struct OpenRing {
      const Token* token;
      int atom;
      int slot;
    };
    std::vector<int> prev{-1};
    std::vector<const Token*> branches;
    std::map<std::string, OpenRing> open_rings;
    std::vector<std::string> ring_order;  // labels in the order they were opened
    bool chain_start = true;
    const Token* last = nullptr;
    for (; t < tokens.size(); ++t) {
      const Token& tok = tokens[t];
      last = &tok;
      if (tok.kind == TokenKind::Dot) {
        ++t;
        break;
      }
      const int prev_atom = prev.back();
      if (tok.kind == TokenKind::Atom) {
        auto atom = detail::parse_smiles_atom(tok.text);
        if (!atom) parse_error(smiles, tok.start, "invalid atom '" + tok.text + "'");
        atom->capacity = constraints.capacity(atom->element, atom->charge) - atom->h_count.value_or(0);
        const bool aromatic = atom->aromatic;
        Provenance from;
        if (attribute) from.push_back({tok.index, tok.text});
        const int a = mol.add_atom(std::move(*atom), prev_atom < 0, from);
        if (prev_atom >= 0) {
          double order = order_of(tok.bond);
          if (tok.bond == 0 && aromatic && mol.atom(prev_atom).aromatic) order = 1.5;
          if (attribute && tok.bond != 0) from.insert(from.begin(), {tok.bond_index, std::string(1, tok.bond)});
          mol.add_bond(prev_atom, a, order, tok.bond == '/' || tok.bond == '\\' ? tok.bond : 0, from);
        }
        prev.back() = a;
        chain_start = false;
      } else if (chain_start) {
        parse_error(smiles, tok.start, "'" + tok.text + "' where an atom must start the chain");
      } else if (tok.kind == TokenKind::Branch) {
        if (tok.text == "(") {
          branches.push_back(&tok);
          prev.push_back(prev_atom);
          chain_start = true;
        } else {
          if (branches.empty()) parse_error(smiles, tok.start, "')' without an open branch");
          branches.pop_back();
          prev.pop_back();
        }
      } else {  // ring label
        const auto it = open_rings.find(tok.text);
        if (it == open_rings.end()) {
          open_rings[tok.text] = {&tok, prev_atom, mol.reserve_slot(prev_atom)};
          ring_order.push_back(tok.text);
          continue;
        }
        const OpenRing open = it->second;
        open_rings.erase(it);
        ring_order.erase(std::find(ring_order.begin(), ring_order.end(), tok.text));
        if (open.atom == prev_atom)
          parse_error(smiles, open.token->start, "ring bond " + tok.text + " closes on the atom that opened it");
        if (mol.has_bond(open.atom, prev_atom))
          parse_error(smiles, open.token->start, "ring bond " + tok.text + " joins two atoms that are already bonded");
        char lb = open.token->bond;
        char rb = tok.bond;
        const bool stereo_pair = (lb == '/' || lb == '\\') && (rb == '/' || rb == '\\');
        if (!(lb == rb || lb == 0 || rb == 0 || stereo_pair))
          parse_error(smiles, open.token->start, "ring bond " + tok.text + " has different bond characters at its two ends ('" +
                                                     std::string(1, lb) + "' and '" + std::string(1, rb) + "')");
        double order = std::max(order_of(lb), order_of(rb));  // ':' counts 1.5
        if (lb == 0 && rb == 0 && mol.atom(open.atom).aromatic && mol.atom(prev_atom).aromatic) order = 1.5;
        const auto stereo = [](char c) { return c == '/' || c == '\\' ? c : char{0}; };
        mol.add_ring_bond(open.atom, prev_atom, order, stereo(lb), stereo(rb), open.slot, -1);
      }
    }
    if (mol.size() == 0) {
      const size_t at = last == nullptr ? smiles.size() : last->start;
      parse_error(smiles, at == 0 ? 0 : at - 1, "empty SMILES fragment");
    }
    if (!branches.empty()) parse_error(smiles, branches.back()->start, "'(' that is never closed");
    if (!ring_order.empty()) {
      const OpenRing& open = open_rings.at(ring_order.back());
      parse_error(smiles, open.token->start, "ring bond " + ring_order.back() + " is opened but never closed");
    }
  }
}

/// Whether the decoder, which lists ring bonds first (closures ending here, then openings by
/// partner), sees this stereocentre's neighbours in an odd permutation of the SMILES order.
bool should_invert_chirality(const MolGraph& mol, int atom) {
  const auto& out = mol.out(atom);
  std::vector<size_t> closures;
  std::vector<size_t> openings;
  std::vector<size_t> others;
  for (size_t i = 0; i < out.size(); ++i) {
    const Bond& b = mol.bond(out[i]);
    if (!b.ring)
      others.push_back(i);
    else if (b.src < b.dst)
      openings.push_back(i);
    else
      closures.push_back(i);
  }
  std::stable_sort(openings.begin(), openings.end(),
                   [&](size_t x, size_t y) { return mol.bond(out[x]).dst < mol.bond(out[y]).dst; });
  std::vector<size_t> perm = closures;
  perm.insert(perm.end(), openings.begin(), openings.end());
  perm.insert(perm.end(), others.begin(), others.end());
  size_t inversions = 0;
  for (size_t i = 0; i < perm.size(); ++i)
    for (size_t j = i + 1; j < perm.size(); ++j) inversions += perm[i] > perm[j] ? 1 : 0;
  return inversions % 2 != 0;
}

struct OutSymbol {
  std::string text;
  const Provenance* from;  ///< into the graph, which outlives the symbols
};

/// Appends the index symbols of q (most significant first) and returns how many there are.
size_t append_index_symbols(int64_t q, const Provenance* from, std::vector<OutSymbol>& out) {
  const auto& alphabet = index_alphabet();
  size_t n = 1;
  for (int64_t rest = q / 16; rest > 0; rest /= 16) ++n;
  const size_t first = out.size();
  out.resize(first + n);
  for (size_t i = n; i-- > 0; q /= 16) out[first + i] = {alphabet[static_cast<size_t>(q % 16)], from};
  return n;
}

void check_span(int64_t q, const Options& options, std::string_view smiles, const char* what) {
  if (options.reject_oversized_spans && q >= 4096)
    throw EncoderError("cannot encode '" + std::string(smiles) + "': a " + what + " spans " + std::to_string(q + 1) +
                       " SELFIES symbols, more than the 4,096 that three index symbols can express");
}

std::vector<OutSymbol> fragment_symbols(const MolGraph& mol, int root, const Options& options, std::string_view smiles) {
  struct Frame {
    std::vector<OutSymbol> derived;
    int curr;
    int bond_in;   ///< bond into `curr`, -1 at the fragment root
    int root_bond; ///< bond into the frame's first atom (the branch bond), -1 at the fragment root
    size_t next = 0;
    bool started = false;
  };
  std::vector<Frame> stack;
  stack.push_back({{}, root, -1, -1});
  while (true) {
    Frame& f = stack.back();
    if (!f.started) {
      const std::string bond = f.bond_in < 0 ? std::string() : detail::bond_text(mol.bond(f.bond_in));
      // The symbol stands for the atom and the bond into it (whose provenance holds both tokens).
      const Provenance& from = f.bond_in < 0 ? mol.provenance_of_atom(f.curr) : mol.provenance_of_bond(f.bond_in);
      f.derived.push_back({"[" + bond + detail::atom_text(mol.atom(f.curr), false) + "]", &from});
      f.started = true;
      f.next = 0;
    }
    const auto& out = mol.out(f.curr);
    if (f.next < out.size()) {
      const size_t i = f.next++;
      const int b = out[i];
      const Bond& bond = mol.bond(b);
      if (bond.ring) {
        if (bond.src < bond.dst) continue;  // written where the ring closes
        const Bond& opening = mol.bond(mol.find_bond(bond.dst, bond.src));
        const int64_t q = bond.src - bond.dst - 1;
        check_span(q, options, smiles, "ring bond");
        std::string prefix;
        if (opening.order != 1 || (opening.stereo == 0 && bond.stereo == 0)) {
          prefix = opening.order == 1 ? "" : detail::bond_text(opening);
        } else {
          prefix += opening.stereo == 0 ? '-' : opening.stereo;
          prefix += bond.stereo == 0 ? '-' : bond.stereo;
        }
        const Provenance* from = &mol.provenance_of_bond(b);
        const size_t at = f.derived.size();
        f.derived.push_back({std::string(), from});
        const size_t n = append_index_symbols(q, from, f.derived);
        f.derived[at].text = "[" + prefix + "Ring" + std::to_string(n) + "]";
      } else if (i + 1 == out.size()) {  // the chain goes on
        f.bond_in = b;
        f.curr = bond.dst;
        f.started = false;
      } else {
        stack.push_back({{}, bond.dst, b, b});  // a branch; `f` is not used after this
      }
      continue;
    }
    if (stack.size() == 1) return std::move(stack.back().derived);
    Frame child = std::move(stack.back());
    stack.pop_back();
    Frame& parent = stack.back();
    const Bond& bond = mol.bond(child.root_bond);
    const int64_t q = static_cast<int64_t>(child.derived.size()) - 1;
    check_span(q, options, smiles, "branch");
    const Provenance* from = &mol.provenance_of_bond(child.root_bond);
    const std::string order = bond.order == 1 ? "" : detail::bond_text(bond);
    const size_t at = parent.derived.size();
    parent.derived.push_back({std::string(), from});
    const size_t n = append_index_symbols(q, from, parent.derived);
    parent.derived[at].text = "[" + order + "Branch" + std::to_string(n) + "]";
    parent.derived.insert(parent.derived.end(), std::make_move_iterator(child.derived.begin()),
                          std::make_move_iterator(child.derived.end()));
  }
}

}  // namespace

std::string encode(std::string_view smiles, const Options& options, std::vector<AttributionMap>* attribution) {
  static const Constraints kDefault;
  const Constraints& constraints = options.constraints != nullptr ? *options.constraints : kDefault;
  MolGraph mol;
  mol.reserve(smiles.size() + 1, 2 * smiles.size() + 2);  // at most one atom per character
  read_smiles(smiles, constraints, attribution != nullptr, mol);
  if (!mol.kekulize()) throw EncoderError("cannot encode '" + std::string(smiles) + "': kekulization failed (no Kekulé structure fits the aromatic atoms)");
  if (options.strict) {
    std::string errors;
    for (int a = 0; a < mol.size(); ++a)
      if (mol.bond_count(a) > mol.atom(a).capacity)
        errors += (errors.empty() ? "" : ", ") + detail::atom_text(mol.atom(a), true) + " (atom " + std::to_string(a + 1) +
                  ") has " + std::to_string(static_cast<int>(mol.bond_count(a))) + " bonds, at most " +
                  std::to_string(mol.atom(a).capacity) + " allowed";
    if (!errors.empty())
      throw EncoderError("cannot encode '" + std::string(smiles) + "' under the semantic constraints: " + errors);
  }
  for (int a = 0; a < mol.size(); ++a) {
    Atom& atom = mol.atom(a);
    if (!atom.chirality.empty() && mol.has_ring_bond(a) && should_invert_chirality(mol, a))
      atom.chirality = atom.chirality == "@" ? "@@" : "@";
  }
  std::string out;
  if (attribution != nullptr) attribution->clear();
  int64_t position = 0;
  for (size_t r = 0; r < mol.roots().size(); ++r) {
    if (r > 0) {
      out += '.';
      ++position;
    }
    for (auto& s : fragment_symbols(mol, mol.roots()[r], options, smiles)) {
      if (attribution != nullptr) attribution->push_back({position, s.text, *s.from});
      out += s.text;
      ++position;
    }
  }
  return out;
}

}  // namespace strand::chem::selfies
