// The molecular graph shared by the SELFIES decoder and encoder (internal to chem/selfies).
//
// SMILES and SELFIES are walks over a graph, so bonds are directed: a chain or branch bond goes
// from the earlier atom to the later one and sits in the earlier atom's out-list; a ring bond is
// stored in both directions, one in each end's out-list, at the position its ring digit takes in
// the string. The order of out-lists is what makes the written strings identical to the reference.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chem/selfies/selfies.h"

namespace strand::chem::selfies::detail {

/// Index of a symbol of one upper-case letter and an optional lower-case one in a 26 x 27 table
/// ("C" -> 'C' * 27, "Cl" -> 'C' * 27 + 'l'); -1 for anything else. Elements and constraint keys
/// of neutral atoms look up by it.
inline int element_slot(std::string_view s) {
  if (s.empty() || s.size() > 2 || s[0] < 'A' || s[0] > 'Z') return -1;
  if (s.size() == 1) return (s[0] - 'A') * 27;
  if (s[1] < 'a' || s[1] > 'z') return -1;
  return (s[0] - 'A') * 27 + 1 + (s[1] - 'a');
}
/// Is `element` in the selfies element list (H..Lr, Rf..Cn, Fl, Lv)?
bool is_element(std::string_view element);
/// B C N O S P F Cl Br I.
bool is_organic(std::string_view element);

/// An element symbol (one upper-case letter and an optional lower-case one), stored inline.
class ElementSymbol {
 public:
  ElementSymbol() = default;
  /// Keeps the first two characters of `s`.
  void assign(std::string_view s) {
    size_ = static_cast<uint8_t>(s.size() < 2 ? s.size() : 2);
    for (size_t i = 0; i < size_; ++i) chars_[i] = s[i];
  }
  operator std::string_view() const { return {chars_, size_}; }  // NOLINT: used as text

 private:
  char chars_[2] = {};
  uint8_t size_ = 0;
};

struct Atom {
  ElementSymbol element;
  bool aromatic = false;
  std::optional<int> isotope;
  int chirality = 0;            ///< the number of '@' (0, 1 or 2)
  std::optional<int> h_count;   ///< unset: implicit hydrogens (unbracketed atom)
  int charge = 0;
  int capacity = 0;             ///< bonding capacity under the constraints, hydrogens subtracted
};

struct Bond {
  int src = 0;
  int dst = 0;
  double order = 1;   ///< 1, 1.5 (aromatic, encoder only), 2 or 3
  char stereo = 0;    ///< '/' or '\\' on a single bond, else 0
  bool ring = false;
};

/// An atom's out-list: bond indices with room for kInline of them inside the object, so that
/// building a molecule allocates per molecule, not per atom (few atoms have more bonds).
class OutList {
 public:
  size_t size() const { return size_; }
  int operator[](size_t i) const { return data()[i]; }
  int& operator[](size_t i) { return data()[i]; }
  const int* begin() const { return data(); }
  const int* end() const { return data() + size_; }
  void push_back(int value) { insert(size_, value); }
  /// Inserts `value` before position `pos` (pos <= size()).
  void insert(size_t pos, int value) {
    if (size_ < kInline) {
      for (size_t i = size_; i > pos; --i) inline_[i] = inline_[i - 1];
      inline_[pos] = value;
    } else {
      if (size_ == kInline) heap_.assign(inline_, inline_ + kInline);
      heap_.insert(heap_.begin() + static_cast<std::ptrdiff_t>(pos), value);
    }
    ++size_;
  }

 private:
  static constexpr size_t kInline = 6;
  const int* data() const { return size_ > kInline ? heap_.data() : inline_; }
  int* data() { return size_ > kInline ? heap_.data() : inline_; }
  int inline_[kInline] = {};
  std::vector<int> heap_;
  size_t size_ = 0;
};

/// Where an atom or bond came from (for attribution maps).
using Provenance = std::vector<Attribution>;

class MolGraph {
 public:
  int size() const { return static_cast<int>(atoms_.size()); }
  const Atom& atom(int i) const { return atoms_[static_cast<size_t>(i)]; }
  Atom& atom(int i) { return atoms_[static_cast<size_t>(i)]; }
  const std::vector<int>& roots() const { return roots_; }
  double bond_count(int i) const { return bond_counts_[static_cast<size_t>(i)]; }
  bool has_ring_bond(int i) const { return ring_flags_[static_cast<size_t>(i)]; }
  /// Out-list of atom i (indices into bonds()); -1 is a reserved slot for a ring still open.
  const OutList& out(int i) const { return out_[static_cast<size_t>(i)]; }
  const Bond& bond(int b) const { return bonds_[static_cast<size_t>(b)]; }
  int bond_total() const { return static_cast<int>(bonds_.size()); }
  bool has_bond(int a, int b) const;
  /// The bond src -> dst in src's out-list (chain bonds go from the smaller index to the larger,
  /// ring bonds both ways), or -1.
  int find_bond(int src, int dst) const;

  /// Room for `atoms` atoms and `bonds` bonds without reallocation.
  void reserve(size_t atoms, size_t bonds);
  /// Removes every atom and bond, keeping the memory (a graph reused across molecules).
  void clear();
  int add_atom(Atom atom, bool root, Provenance from = {});
  /// A chain or branch bond src -> dst (src < dst), appended to src's out-list.
  int add_bond(int src, int dst, double order, char stereo, Provenance from = {});
  /// Reserves a slot in src's out-list for a ring bond opened there; returns its position.
  int reserve_slot(int src);
  /// A ring bond between a and b: a -> b at position a_pos of a's out-list (a reserved slot is
  /// filled, otherwise inserted; -1 appends), b -> a likewise.
  void add_ring_bond(int a, int b, double order, char a_stereo, char b_stereo, int a_pos, int b_pos);
  /// Sets the order of the bond between a and b (both directions of a ring bond).
  void set_bond_order(int a, int b, double order);

  const Provenance& provenance_of_atom(int i) const { return atom_from_[static_cast<size_t>(i)]; }
  const Provenance& provenance_of_bond(int b) const { return bond_from_[static_cast<size_t>(b)]; }
  void add_provenance_of_bond(int b, const Provenance& from);

  /// Turns aromatic atoms and 1.5 bonds into a Kekulé structure the way selfies 2.2.0 does
  /// (pruning rules, greedy matching, augmenting paths in CPython set order). False when no
  /// Kekulé structure exists.
  bool kekulize();

 private:
  bool prune_from_delocalised(int node, size_t aromatic_bonds) const;
  void add_delocalised_bond(int a, int b);

  std::vector<Atom> atoms_;
  std::vector<Bond> bonds_;
  std::vector<int> roots_;
  std::vector<OutList> out_;
  std::vector<double> bond_counts_;
  std::vector<bool> ring_flags_;
  // The delocalised subgraph: aromatic atoms and the ends of 1.5 bonds (flagged), and each 1.5
  // bond in both directions, in the order the bonds were added.
  std::vector<bool> delocalised_;
  std::vector<std::pair<int, int>> delocalised_bonds_;
  std::vector<Provenance> atom_from_;
  std::vector<Provenance> bond_from_;
};

/// Appends the decimal digits of `value`.
inline void append_int(std::string& out, int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

/// Appends the SMILES text of an atom: bare element when it has no specification, else isotope,
/// element, chirality, H count and signed charge, in brackets when `brackets`.
void append_atom_text(std::string& out, const Atom& atom, bool brackets);
inline std::string atom_text(const Atom& atom, bool brackets) {
  std::string s;
  append_atom_text(s, atom, brackets);
  return s;
}
/// "", "=", "#" or the stereo character of a single bond.
inline std::string_view bond_text(const Bond& bond) {
  if (bond.order == 2) return "=";
  if (bond.order == 3) return "#";
  if (bond.stereo == '/') return "/";
  if (bond.stereo == '\\') return "\\";
  return {};
}

/// Writes the (kekulized) graph as SMILES in its own traversal order.
std::string write_smiles(const MolGraph& mol, const Options& options, std::vector<AttributionMap>* attribution);

}  // namespace strand::chem::selfies::detail

namespace strand::chem::selfies::detail {

/// The symbols of one '.'-free piece of a SELFIES string, as views into it (split_selfies rules).
/// Throws DecoderError for a '[' without ']'.
void split_symbols(std::string_view piece, std::vector<std::string_view>& out);

/// The digit of an index symbol ([C] = 0 ... [P] = 15); 0 for any other symbol.
int index_digit(std::string_view symbol);

/// Parses a SMILES atom the way the selfies SMILES reader does: an organic-subset atom (B C N O S P
/// F Cl Br I), an aromatic one (b c n o s p), or a bracket atom [isotope element chirality H
/// charge class] with lower-case elements aromatic only for b, al, c, si, n, p, as, o, s, se, te.
/// Only @ and @@ are understood; the atom class is dropped. Empty optional when it is none of these.
std::optional<Atom> parse_smiles_atom(std::string_view text);

}  // namespace strand::chem::selfies::detail
