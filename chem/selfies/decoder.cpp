// SELFIES -> SMILES: the derivation of selfies 2.2.0 (Krenn et al. 2020, section "SELFIES
// grammar"; the state machine of the reference's decoder), run without recursion so that deeply
// nested branches cost heap, not stack.
//
// The state X_i is the number of bonds the previous atom may still form (0: start of a fragment,
// None: derivation over). A branch reads its index symbols Q and derives the next Q+1 symbols from
// the previous atom; a ring reads Q and queues a bond back to the atom Q+1 before the previous one.
// Rings are formed once every fragment is derived.
#include <algorithm>
#include <deque>
#include <limits>
#include <optional>
#include <string>

#include "chem/selfies/graph.h"
#include "chem/selfies/selfies.h"

namespace strand::chem::selfies {
namespace {

using detail::Atom;
using detail::MolGraph;
using detail::Provenance;

constexpr int kNone = -1;  // derivation state "None"

struct AtomSymbol {
  int order = 1;
  char stereo = 0;
  Atom atom;
};

int bond_order_of(char c) { return c == '=' ? 2 : c == '#' ? 3 : 1; }

/// The value of a run of at most nine decimal digits.
int digits_value(std::string_view d) {
  int v = 0;
  for (const char c : d) v = v * 10 + (c - '0');
  return v;
}
char stereo_of(char c) { return c == '/' || c == '\\' ? c : 0; }

/// [<bond><isotope><Element><chirality><Hn><charge>], e.g. [=C], [13C@@H1], [N+1]. nullopt if
/// the symbol is not an atom symbol or its hydrogens exceed its capacity.
std::optional<AtomSymbol> atom_symbol(std::string_view s, const Constraints& constraints) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return std::nullopt;
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  AtomSymbol out;
  size_t i = 1;
  const size_t end = s.size() - 1;
  char bond = 0;
  if (s[i] == '=' || s[i] == '#' || s[i] == '/' || s[i] == '\\') bond = s[i++];
  out.order = bond_order_of(bond);
  out.stereo = stereo_of(bond);
  const std::string_view inner = s.substr(i, end - i);
  Atom& atom = out.atom;
  const size_t iso = i;
  while (i < end && is_digit(s[i])) ++i;
  if (i - iso > 9) return std::nullopt;
  if (i > iso) atom.isotope = digits_value(s.substr(iso, i - iso));
  if (i >= end || s[i] < 'A' || s[i] > 'Z') return std::nullopt;
  const size_t element_start = i++;
  if (i < end && s[i] >= 'a' && s[i] <= 'z') ++i;
  const std::string_view element = s.substr(element_start, i - element_start);
  size_t at = 0;
  while (i < end && s[i] == '@' && at < 2) ++i, ++at;
  int h = 0;
  bool has_h = false;
  if (i + 1 < end && s[i] == 'H' && is_digit(s[i + 1])) {
    h = s[i + 1] - '0';
    has_h = true;
    i += 2;
  }
  int charge = 0;
  if (i < end && (s[i] == '+' || s[i] == '-')) {
    const size_t start = i++;
    while (i < end && s[i] >= '1' && s[i] <= '9') ++i;
    if (i == start + 1 || i - start > 9) return std::nullopt;  // keeps the number within int
    charge = digits_value(s.substr(start + 1, i - start - 1)) * (s[start] == '-' ? -1 : 1);
  }
  if (i != end) return std::nullopt;
  if (detail::is_organic(inner)) {  // [C], [=N], [Cl]: implicit hydrogens, neutral
    atom.element.assign(inner);
    atom.capacity = constraints.capacity(inner, 0);
    return out;
  }
  if (!detail::is_element(element)) return std::nullopt;
  atom.element.assign(element);
  atom.chirality = static_cast<int>(at);
  atom.h_count = has_h ? h : 0;
  atom.charge = charge;
  atom.capacity = constraints.capacity(element, charge) - *atom.h_count;
  if (atom.capacity < 0) return std::nullopt;  // e.g. [CH5]
  return out;
}

/// [BranchL], [=BranchL], [#BranchL] -> (order, L).
std::optional<std::pair<int, int>> branch_symbol(std::string_view s) {
  if (s.size() < 9 || s.front() != '[' || s.back() != ']') return std::nullopt;
  const char l = s[s.size() - 2];
  if (l < '1' || l > '3' || s.substr(s.size() - 8, 6) != "Branch") return std::nullopt;
  const std::string_view prefix = s.substr(1, s.size() - 9);
  if (!(prefix.empty() || prefix == "=" || prefix == "#")) return std::nullopt;
  return std::make_pair(bond_order_of(prefix.empty() ? '\0' : prefix[0]), l - '0');
}

struct RingSymbol {
  int order;
  int length;
  char left_stereo;
  char right_stereo;
};

/// [RingL], [=RingL], [#RingL] and the stereo forms [xyRingL] (x, y in - / \, not both -).
std::optional<RingSymbol> ring_symbol(std::string_view s) {
  if (s.size() < 7 || s.front() != '[' || s.back() != ']') return std::nullopt;
  const char l = s[s.size() - 2];
  if (l < '1' || l > '3' || s.substr(s.size() - 6, 4) != "Ring") return std::nullopt;
  const std::string_view prefix = s.substr(1, s.size() - 7);
  const int length = l - '0';
  if (prefix.empty() || prefix == "=" || prefix == "#") return RingSymbol{bond_order_of(prefix.empty() ? 0 : prefix[0]), length, 0, 0};
  const auto stereo_char = [](char c) { return c == '-' || c == '/' || c == '\\'; };
  if (prefix.size() == 2 && stereo_char(prefix[0]) && stereo_char(prefix[1]) && prefix != "--")
    return RingSymbol{1, length, stereo_of(prefix[0]), stereo_of(prefix[1])};
  return std::nullopt;
}

/// The symbol of selfies before 2.0 that `s` stands for, or `s` itself.
std::string modernize(std::string_view s) {
  for (int l = 1; l <= 3; ++l) {
    const std::string n = std::to_string(l);
    if (s == "[Branch" + n + "_1]") return "[Branch" + n + "]";
    if (s == "[Branch" + n + "_2]") return "[=Branch" + n + "]";
    if (s == "[Branch" + n + "_3]") return "[#Branch" + n + "]";
    if (s == "[Expl=Ring" + n + "]") return "[=Ring" + n + "]";
    if (s == "[Expl#Ring" + n + "]") return "[#Ring" + n + "]";
    if (s == "[Expl/Ring" + n + "]") return "[//Ring" + n + "]";
    if (s == "[Expl\\Ring" + n + "]") return "[\\\\Ring" + n + "]";
  }
  if (s.size() >= 6 && s.substr(s.size() - 5) == "expl]") {  // e.g. [C@@Hexpl], [=N+expl]
    const bool bond = s.size() > 6 && std::string_view("=#/\\").find(s[1]) != std::string_view::npos;
    const std::string text(s.substr(bond ? 2 : 1, s.size() - 5 - (bond ? 2 : 1)));
    const auto atom = detail::parse_smiles_atom("[" + text + "]");
    if (atom && !atom->aromatic) return "[" + (bond ? std::string(1, s[1]) : std::string()) + detail::atom_text(*atom, false) + "]";
  }
  return std::string(s);
}

/// Python's s[-4:-2].
std::string_view tail_pair(std::string_view s) {
  const size_t n = s.size();
  const size_t a = n >= 4 ? n - 4 : 0;
  const size_t b = n >= 2 ? n - 2 : 0;
  return b > a ? s.substr(a, b - a) : std::string_view();
}

struct QueuedRing {
  int left;
  int right;
  int order;
  char left_stereo;
  char right_stereo;
};

struct Symbol {
  std::string_view text;  ///< into the input, or into Decoder-owned modernized text
  int64_t index;          ///< position in the input's symbol sequence
};

[[noreturn]] void invalid_symbol(const Symbol& s, std::string_view selfies) {
  throw DecoderError("invalid SELFIES symbol '" + std::string(s.text) + "' (symbol " + std::to_string(s.index + 1) + ") in '" +
                     std::string(selfies) + "'");
}

class Derivation {
 public:
  /// Builds the molecule in `mol`, which is cleared first.
  Derivation(const Options& options, const Constraints& constraints, std::string_view selfies, bool attribute,
             MolGraph& mol)
      : options_(options), constraints_(constraints), selfies_(selfies), attribute_(attribute), mol_(mol) {
    mol_.clear();
    // Every symbol takes at least 3 characters: at most that many atoms; bonds both ways for rings.
    const size_t atoms = selfies.size() / 3 + 1;
    mol_.reserve(atoms, 2 * atoms);
  }

  void fragment(const std::vector<Symbol>& symbols) {
    symbols_ = &symbols;
    pos_ = 0;
    fragment_start_ = mol_.size();
    struct Frame {
      int64_t budget;
      int64_t derived = 0;
      int state;
      int prev;
      int after_branch = 0;  ///< the state to resume with once the child frame ends
    };
    std::vector<Frame> stack{{std::numeric_limits<int64_t>::max(), 0, 0, -1}};
    std::vector<Attribution> branch_trail;  // enclosing branch symbols, for attribution
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.state == kNone || f.derived >= f.budget || pos_ >= symbols.size()) {
        // A finished derivation still consumes the rest of its budget, unread.
        while (f.derived < f.budget && pos_ < symbols.size()) ++pos_, ++f.derived;
        const int64_t used = f.derived;
        stack.pop_back();
        if (!stack.empty()) {
          stack.back().derived += used;
          stack.back().state = stack.back().after_branch;
          if (!branch_trail.empty()) branch_trail.pop_back();
        }
        continue;
      }
      const Symbol& sym = symbols[pos_++];
      ++f.derived;
      const std::string_view s = sym.text;
      const std::string_view tail = tail_pair(s);
      if (tail == "ch") {
        const auto branch = branch_symbol(s);
        if (!branch) invalid_symbol(sym, selfies_);
        if (f.state <= 1) continue;  // no room for a branch: ignored, its index is not read
        const int init = std::min(f.state - 1, branch->first);
        const int64_t q = read_index(branch->second);
        f.derived += branch->second;
        f.after_branch = f.state - init;
        if (attribute_) branch_trail.push_back({sym.index, std::string(s)});
        const int prev = f.prev;
        stack.push_back({q + 1, 0, init, prev});  // `f` is not used after this
      } else if (tail == "ng") {
        const auto ring = ring_symbol(s);
        if (!ring) invalid_symbol(sym, selfies_);
        if (f.state == 0) continue;  // ignored, index not read
        const int order = std::min(ring->order, f.state);
        const int left_over = f.state - order;
        const int64_t q = read_index(ring->length);
        f.derived += ring->length;
        const int64_t floor_atom = options_.fragment_local_rings ? fragment_start_ : 0;
        const int64_t target = std::max<int64_t>(floor_atom, static_cast<int64_t>(f.prev) - (q + 1));
        rings_.push_back({static_cast<int>(target), f.prev, order, ring->left_stereo, ring->right_stereo});
        f.state = left_over == 0 ? kNone : left_over;
      } else if (s.find("eps") != std::string::npos) {
        f.state = f.state == 0 ? 0 : kNone;
      } else {
        auto parsed = atom_symbol(s, constraints_);
        if (!parsed) invalid_symbol(sym, selfies_);
        const int cap = parsed->atom.capacity;
        int order = f.state == 0 ? 0 : std::min({parsed->order, f.state, cap});
        const int left_over = cap - order;
        Provenance from;
        if (attribute_) {
          from = branch_trail;
          from.push_back({sym.index, std::string(s)});
        }
        if (order == 0) {
          if (f.state == 0) f.prev = mol_.add_atom(std::move(parsed->atom), true, std::move(from));
        } else {
          const int atom = mol_.add_atom(std::move(parsed->atom), false, attribute_ ? from : Provenance());
          mol_.add_bond(f.prev, atom, order, parsed->stereo, std::move(from));
          f.prev = atom;
        }
        f.state = left_over == 0 ? kNone : left_over;
      }
    }
  }

  std::string finish(std::vector<AttributionMap>* attribution) {
    std::vector<int> rings_made(static_cast<size_t>(mol_.size()), 0);
    for (const QueuedRing& r : rings_) {
      if (r.left == r.right) continue;
      const double left_free = mol_.atom(r.left).capacity - mol_.bond_count(r.left);
      const double right_free = mol_.atom(r.right).capacity - mol_.bond_count(r.right);
      if (left_free <= 0 || right_free <= 0) continue;
      const int order = static_cast<int>(std::min({static_cast<double>(r.order), left_free, right_free}));
      if (mol_.has_bond(r.left, r.right)) {
        const int b = mol_.find_bond(r.left, r.right);
        mol_.set_bond_order(r.left, r.right, std::min(order + mol_.bond(b).order, 3.0));
      } else {
        auto& l = rings_made[static_cast<size_t>(r.left)];
        auto& rr = rings_made[static_cast<size_t>(r.right)];
        mol_.add_ring_bond(r.left, r.right, order, r.left_stereo, r.right_stereo, l, rr);
        ++l;
        ++rr;
      }
    }
    return detail::write_smiles(mol_, options_, attribution);
  }

 private:
  int64_t read_index(int length) {
    int64_t value = 0;
    for (int k = 0; k < length; ++k) {
      // A missing index symbol at the end of the string counts as digit 0.
      value = value * 16 + (pos_ < symbols_->size() ? detail::index_digit((*symbols_)[pos_++].text) : 0);
    }
    return value;
  }

  const Options& options_;
  const Constraints& constraints_;
  std::string_view selfies_;
  bool attribute_;
  MolGraph& mol_;
  std::vector<QueuedRing> rings_;
  const std::vector<Symbol>* symbols_ = nullptr;
  size_t pos_ = 0;
  int fragment_start_ = 0;
};

}  // namespace

std::string decode(std::string_view selfies, const Options& options, std::vector<AttributionMap>* attribution) {
  static const Constraints kDefault;
  const Constraints& constraints = options.constraints != nullptr ? *options.constraints : kDefault;
  // Memory reused from one string to the next (per thread).
  thread_local MolGraph mol;
  thread_local std::vector<std::string_view> split;
  thread_local std::vector<Symbol> symbols;
  Derivation derivation(options, constraints, selfies, attribution != nullptr, mol);
  std::deque<std::string> modernized;  // owns the text of rewritten symbols (stable addresses)
  int64_t offset = 0;  // symbols before the current fragment, '.' counted
  size_t start = 0;
  while (true) {
    const size_t dot = selfies.find('.', start);
    const std::string_view piece = selfies.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    detail::split_symbols(piece, split);
    symbols.clear();
    for (size_t i = 0; i < split.size(); ++i) {
      if (split[i] == "[nop]") continue;  // padding: removed before derivation
      std::string_view text = split[i];
      if (options.compatible) text = modernized.emplace_back(modernize(text));
      symbols.push_back({text, offset + static_cast<int64_t>(i)});
    }
    derivation.fragment(symbols);
    offset += static_cast<int64_t>(split.size()) + 1;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (attribution != nullptr) attribution->clear();
  return derivation.finish(attribution);
}

}  // namespace strand::chem::selfies
