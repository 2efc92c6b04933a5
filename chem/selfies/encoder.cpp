// SMILES -> SELFIES with selfies 2.2.0 semantics: the reference's own SMILES reading (not RDKit's:
// ring closures do not cross '.', '*' and '$' are unsupported, only @ and @@ chirality), its
// kekulization, its chirality correction for ring bonds, and its symbol writing. Branches are
// written with an explicit stack, so nesting depth costs heap, not stack.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

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
  char bond = 0;            ///< bond character before the symbol, 0 if none
  size_t bond_pos = 0;      ///< its position
  size_t start = 0;         ///< position of the symbol
  std::string_view text;    ///< the symbol (atom text, "(", ")", ring label, "."), a view into the SMILES
  int64_t bond_index = -1;  ///< index of the bond character in the token sequence
  int64_t index = 0;        ///< index of the symbol in the token sequence
};

bool is_bond_char(char c) { return c == '-' || c == '/' || c == '\\' || c == ':' || c == '=' || c == '#'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void tokenize(std::string_view s, std::vector<Token>& out) {
  out.clear();
  int64_t counter = 0;
  size_t i = 0;
  while (i < s.size()) {
    Token t{};
    if (s[i] == '.') {
      t.kind = TokenKind::Dot;
      t.start = i;
      t.text = s.substr(i, 1);
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
      t.text = s.substr(i, two ? 2 : 1);
    } else if (s[i] == '[') {
      const size_t close = s.find(']', i + 1);
      if (close == std::string_view::npos) parse_error(s, i, "'[' without a closing ']'");
      t.kind = TokenKind::Atom;
      t.text = s.substr(i, close - i + 1);
    } else if (s[i] == '(' || s[i] == ')') {
      if (t.bond != 0) parse_error(s, t.bond_pos, std::string("a bond character before '") + s[i] + "'");
      t.kind = TokenKind::Branch;
      t.text = s.substr(i, 1);
    } else if (is_digit(s[i])) {
      t.kind = TokenKind::Ring;
      t.text = s.substr(i, 1);
    } else if (s[i] == '%') {
      if (!(i + 2 < s.size() && is_digit(s[i + 1]) && is_digit(s[i + 2])))
        parse_error(s, i, "'%' must be followed by a two-digit ring number, found '" + std::string(s.substr(i + 1, 2)) + "'");
      t.kind = TokenKind::Ring;
      t.text = s.substr(i, 3);
    } else {
      const std::string what = s[i] == '*'   ? "the wildcard atom '*' is not supported"
                               : s[i] == '$' ? "the quadruple bond '$' is not supported"
                                             : std::string("unexpected character '") + s[i] + "'";
      parse_error(s, i, what);
    }
    t.index = counter++;
    i = t.start + t.text.size();
    out.push_back(t);
  }
}

/// Ring labels as small numbers: "0".."9" -> 0..9, "%00".."%99" -> 10..109 (the reference keys
/// open rings by their text, so "1" and "%01" are different rings).
constexpr size_t kRingLabels = 110;
size_t ring_label_id(std::string_view label) {
  return label.size() == 1 ? static_cast<size_t>(label[0] - '0')
                           : 10 + static_cast<size_t>((label[1] - '0') * 10 + (label[2] - '0'));
}

/// Memory reused by the encoder from one molecule to the next (per thread).
struct Scratch {
  MolGraph mol;
  std::vector<Token> tokens;
  std::vector<int> prev;
  std::vector<const Token*> branches;
  std::vector<size_t> ring_order;
  std::vector<int64_t> frame_size;
};

double order_of(char bond) { return bond == '=' ? 2 : bond == '#' ? 3 : bond == ':' ? 1.5 : 1; }

/// Reads the SMILES into `scratch.mol`, fragment by fragment (each '.' starts a fragment with its
/// own ring numbers).
void read_smiles(std::string_view smiles, const Constraints& constraints, bool attribute, Scratch& scratch) {
  if (smiles.empty()) parse_error(smiles, 0, "empty SMILES");
  MolGraph& mol = scratch.mol;
  std::vector<Token>& tokens = scratch.tokens;
  tokenize(smiles, tokens);
  struct OpenRing {
    const Token* token = nullptr;  ///< null: the label is not open
    int atom = -1;
    int slot = -1;
  };
  std::array<OpenRing, kRingLabels> open_rings{};
  std::vector<int>& prev = scratch.prev;
  std::vector<const Token*>& branches = scratch.branches;
  std::vector<size_t>& ring_order = scratch.ring_order;  // open labels in the order they were opened
  size_t t = 0;
  while (t < tokens.size()) {
    prev.assign(1, -1);
    branches.clear();
    ring_order.clear();
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
        if (!atom) parse_error(smiles, tok.start, "invalid atom '" + std::string(tok.text) + "'");
        atom->capacity = constraints.capacity(atom->element, atom->charge) - atom->h_count.value_or(0);
        const bool aromatic = atom->aromatic;
        Provenance from;
        if (attribute) from.push_back({tok.index, std::string(tok.text)});
        const int a = mol.add_atom(std::move(*atom), prev_atom < 0, from);
        if (prev_atom >= 0) {
          double order = order_of(tok.bond);
          if (tok.bond == 0 && aromatic && mol.atom(prev_atom).aromatic) order = 1.5;
          if (attribute && tok.bond != 0) from.insert(from.begin(), {tok.bond_index, std::string(1, tok.bond)});
          mol.add_bond(prev_atom, a, order, tok.bond == '/' || tok.bond == '\\' ? tok.bond : 0, std::move(from));
        }
        prev.back() = a;
        chain_start = false;
      } else if (chain_start) {
        parse_error(smiles, tok.start, "'" + std::string(tok.text) + "' where an atom must start the chain");
      } else if (tok.kind == TokenKind::Branch) {
        if (tok.text[0] == '(') {
          branches.push_back(&tok);
          prev.push_back(prev_atom);
          chain_start = true;
        } else {
          if (branches.empty()) parse_error(smiles, tok.start, "')' without an open branch");
          branches.pop_back();
          prev.pop_back();
        }
      } else {  // ring label
        const size_t id = ring_label_id(tok.text);
        OpenRing& slot = open_rings[id];
        if (slot.token == nullptr) {
          slot = {&tok, prev_atom, mol.reserve_slot(prev_atom)};
          ring_order.push_back(id);
          continue;
        }
        const OpenRing open = slot;
        slot = OpenRing{};
        ring_order.erase(std::find(ring_order.begin(), ring_order.end(), id));
        const std::string label(tok.text);
        if (open.atom == prev_atom)
          parse_error(smiles, open.token->start, "ring bond " + label + " closes on the atom that opened it");
        if (mol.has_bond(open.atom, prev_atom))
          parse_error(smiles, open.token->start, "ring bond " + label + " joins two atoms that are already bonded");
        char lb = open.token->bond;
        char rb = tok.bond;
        const bool stereo_pair = (lb == '/' || lb == '\\') && (rb == '/' || rb == '\\');
        if (!(lb == rb || lb == 0 || rb == 0 || stereo_pair))
          parse_error(smiles, open.token->start, "ring bond " + label + " has different bond characters at its two ends ('" +
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
      const OpenRing& open = open_rings[ring_order.back()];
      parse_error(smiles, open.token->start, "ring bond " + std::string(open.token->text) + " is opened but never closed");
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

/// How many index symbols express q (hexadecimal digits, at least one).
size_t index_symbol_count(int64_t q) {
  size_t n = 1;
  for (q /= 16; q > 0; q /= 16) ++n;
  return n;
}

void check_span(int64_t q, const Options& options, std::string_view smiles, const char* what) {
  if (options.reject_oversized_spans && q >= 4096)
    throw EncoderError("cannot encode '" + std::string(smiles) + "': a " + what + " spans " + std::to_string(q + 1) +
                       " SELFIES symbols, more than the 4,096 that three index symbols can express");
}

/// Appends SELFIES symbols to a string, noting where each one starts when attribution is wanted.
class SymbolWriter {
 public:
  struct Written {
    int64_t position;  ///< index of the symbol in the SELFIES string ('.' counted)
    size_t begin;
    size_t end;
    const Provenance* from;  ///< into the graph
  };

  SymbolWriter(std::string& out, std::vector<Written>* written) : out_(out), written_(written) {}

  void dot() {
    out_ += '.';
    ++position_;
  }
  /// [<bond><atom>]: the atom and the bond into it.
  void atom(const Atom& atom, std::string_view bond, const Provenance& from) {
    const size_t begin = out_.size();
    out_ += '[';
    out_ += bond;
    detail::append_atom_text(out_, atom, false);
    out_ += ']';
    note(begin, from);
  }
  /// [<prefix><word><n>] and the n index symbols of q, all attributed to `from`.
  void indexed(std::string_view prefix, std::string_view word, int64_t q, const Provenance& from) {
    const size_t n = index_symbol_count(q);
    size_t begin = out_.size();
    out_ += '[';
    out_ += prefix;
    out_ += word;
    detail::append_int(out_, static_cast<int64_t>(n));
    out_ += ']';
    note(begin, from);
    const auto& alphabet = index_alphabet();
    for (size_t i = n; i-- > 0;) {
      begin = out_.size();
      int64_t digit = q;
      for (size_t k = 0; k < i; ++k) digit /= 16;
      out_ += alphabet[static_cast<size_t>(digit % 16)];
      note(begin, from);
    }
  }

 private:
  void note(size_t begin, const Provenance& from) {
    if (written_ != nullptr) written_->push_back({position_, begin, out_.size(), &from});
    ++position_;
  }

  std::string& out_;
  std::vector<Written>* written_;
  int64_t position_ = 0;
};

/// Writes the symbols of the fragment rooted at `root`: a walk down each atom's out-list, where
/// the last bond continues the chain, earlier ones open branches and ring bonds are written where
/// they close. A branch symbol gives the branch's length, so `frame_size` (symbols of the walk
/// from each atom onwards, filled here for the fragment's atoms) is counted first, from the last
/// atom back: chain and branch bonds always lead to a later atom.
void write_fragment(const MolGraph& mol, int root, int end, const Options& options, std::string_view smiles,
                    std::vector<int64_t>& frame_size, SymbolWriter& writer) {
  for (int a = end - 1; a >= root; --a) {
    int64_t size = 1;
    const auto& out = mol.out(a);
    for (size_t i = 0; i < out.size(); ++i) {
      const Bond& bond = mol.bond(out[i]);
      if (bond.ring) {
        if (bond.src > bond.dst) size += 1 + static_cast<int64_t>(index_symbol_count(bond.src - bond.dst - 1));
      } else {
        const int64_t child = frame_size[static_cast<size_t>(bond.dst)];
        size += i + 1 == out.size() ? child : 1 + static_cast<int64_t>(index_symbol_count(child - 1)) + child;
      }
    }
    frame_size[static_cast<size_t>(a)] = size;
  }
  struct Frame {
    int atom;
    size_t next;
  };
  std::vector<Frame> stack{{root, 0}};
  writer.atom(mol.atom(root), {}, mol.provenance_of_atom(root));
  while (!stack.empty()) {
    Frame& f = stack.back();
    const auto& out = mol.out(f.atom);
    if (f.next == out.size()) {
      stack.pop_back();
      continue;
    }
    const size_t i = f.next++;
    const int b = out[i];
    const Bond& bond = mol.bond(b);
    if (bond.ring) {
      if (bond.src < bond.dst) continue;  // written where the ring closes
      const Bond& opening = mol.bond(mol.find_bond(bond.dst, bond.src));
      const int64_t q = bond.src - bond.dst - 1;
      check_span(q, options, smiles, "ring bond");
      char prefix[2] = {0, 0};
      size_t prefix_size = 0;
      if (opening.order != 1 || (opening.stereo == 0 && bond.stereo == 0)) {
        const std::string_view text = opening.order == 1 ? std::string_view() : detail::bond_text(opening);
        prefix_size = text.size();
        if (prefix_size != 0) prefix[0] = text[0];
      } else {
        prefix[0] = opening.stereo == 0 ? '-' : opening.stereo;
        prefix[1] = bond.stereo == 0 ? '-' : bond.stereo;
        prefix_size = 2;
      }
      writer.indexed(std::string_view(prefix, prefix_size), "Ring", q, mol.provenance_of_bond(b));
      continue;
    }
    const Provenance& from = mol.provenance_of_bond(b);
    if (i + 1 != out.size()) {  // a branch
      const int64_t q = frame_size[static_cast<size_t>(bond.dst)] - 1;
      check_span(q, options, smiles, "branch");
      writer.indexed(bond.order == 1 ? std::string_view() : detail::bond_text(bond), "Branch", q, from);
    }
    writer.atom(mol.atom(bond.dst), detail::bond_text(bond), from);
    if (i + 1 == out.size())
      f = {bond.dst, 0};  // the chain goes on
    else
      stack.push_back({bond.dst, 0});  // `f` is not used after this
  }
}

}  // namespace

std::string encode(std::string_view smiles, const Options& options, std::vector<AttributionMap>* attribution) {
  static const Constraints kDefault;
  const Constraints& constraints = options.constraints != nullptr ? *options.constraints : kDefault;
  thread_local Scratch scratch;
  MolGraph& mol = scratch.mol;
  mol.clear();
  mol.reserve(smiles.size() + 1, 2 * smiles.size() + 2);  // at most one atom per character
  read_smiles(smiles, constraints, attribution != nullptr, scratch);
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
    if (atom.chirality != 0 && mol.has_ring_bond(a) && should_invert_chirality(mol, a))
      atom.chirality = atom.chirality == 1 ? 2 : 1;
  }
  std::string out;
  out.reserve(smiles.size() * 4);
  std::vector<SymbolWriter::Written> written;
  SymbolWriter writer(out, attribution != nullptr ? &written : nullptr);
  scratch.frame_size.resize(static_cast<size_t>(mol.size()));
  const auto& roots = mol.roots();
  for (size_t r = 0; r < roots.size(); ++r) {
    if (r > 0) writer.dot();
    const int end = r + 1 < roots.size() ? roots[r + 1] : mol.size();
    write_fragment(mol, roots[r], end, options, smiles, scratch.frame_size, writer);
  }
  if (attribution != nullptr) {
    attribution->clear();
    for (const auto& w : written) attribution->push_back({w.position, out.substr(w.begin, w.end - w.begin), *w.from});
  }
  return out;
}

}  // namespace strand::chem::selfies
