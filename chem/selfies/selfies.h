// SELFIES (Krenn et al., Mach. Learn.: Sci. Technol. 1, 045024, 2020) with the semantics of the
// reference implementation `selfies` 2.2.0: the decoder reproduces its output byte for byte, the
// encoder parses SMILES itself (no RDKit) and kekulizes aromatic input the way the reference does,
// including its matching order, so that encoded strings are identical too.
//
// Semantic constraints are an explicit immutable value (the reference keeps them as process-global
// mutable state). Three flaws of the reference are fixed by default and can be switched back with
// the fields of Options (see there): ring numbers of 100 and more, ring/branch spans beyond the
// three-symbol index range, and ring bonds that join two '.'-separated fragments.
//
// Everything here is plain C++ (no RDKit, no LibTorch) and thread-safe: functions only read their
// arguments.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "libseq/core/error.h"

namespace strand::chem::selfies {

/// A SELFIES string that cannot be decoded: an invalid symbol where a symbol is read, an atom with
/// more hydrogens than bonds allowed, or malformed brackets. The message names the symbol and its
/// position.
class DecoderError : public InputError {
 public:
  using InputError::InputError;
};

/// A SMILES string that cannot be encoded: a syntax error (the message gives the 0-based character
/// position and what was found), a kekulization failure, or, with Options::strict, an atom with
/// more bonds than the constraints allow.
class EncoderError : public InputError {
 public:
  using InputError::InputError;
};

/// Bonding capacities by element and charge: keys "E" (neutral), "E+C" / "E-C" (ions, e.g. "N+1",
/// "Fe+2") and "?" (every other atom or ion). Values are bond counts, 0 to 8 (hydrogens written in
/// an atom symbol use up capacity).
class Constraints {
 public:
  /// The selfies 2.2.0 presets: "default", "octet_rule", "hypervalent". Throws ConfigError otherwise.
  static Constraints preset(std::string_view name);
  /// A user table. It must hold "?"; keys must be "?" or an element (of the selfies element list)
  /// with an optional signed charge; values 0..8. Throws ConfigError naming the bad entry.
  static Constraints from_table(const std::map<std::string, int>& table);
  /// Parses "default;KEY=VAL;..." or "octet_rule" etc.: a preset followed by overrides.
  static Constraints parse(std::string_view spec);

  Constraints();  ///< the default preset

  /// Capacity of an atom of `element` with `charge` (before subtracting hydrogens).
  int capacity(std::string_view element, int charge) const;
  /// A copy with `key` set to `value` (validated like from_table).
  Constraints with(const std::string& key, int value) const;
  const std::map<std::string, int, std::less<>>& table() const noexcept { return table_; }
  bool operator==(const Constraints& o) const { return table_ == o.table_; }

 private:
  /// Rebuilds neutral_ from table_ (after every change of table_).
  void index();

  std::map<std::string, int, std::less<>> table_;
  int fallback_ = 8;
  /// Capacities of neutral one- or two-letter elements by element_slot() (-1: not in table_): the
  /// decoder's lookup for almost every atom, without string comparisons.
  std::array<int16_t, 26 * 27> neutral_{};
};

/// Behaviour switches. The defaults fix three flaws of selfies 2.2.0; Options::reference() restores
/// the reference's behaviour exactly.
struct Options {
  const Constraints* constraints = nullptr;  ///< nullptr = the default preset
  /// Ring-closure numbers from 100 on are written "%(100)" (valid SMILES, accepted by RDKit). The
  /// reference writes "%100", which every SMILES reader takes as ring 10 followed by atom "0".
  bool parenthesised_ring_numbers = true;
  /// The encoder rejects a ring or branch spanning 4,096 symbols or more with an EncoderError. The
  /// reference writes a [Ring4]/[Branch4] symbol that its own decoder rejects.
  bool reject_oversized_spans = true;
  /// The decoder never joins two '.'-separated fragments with a ring bond: a ring reaching back
  /// past the start of its fragment is clamped to the fragment's first atom, as an oversized ring
  /// within one fragment is clamped to the first atom. The reference forms such bonds, so "C1.C1"
  /// would come out as one molecule.
  bool fragment_local_rings = true;
  /// Decoder only: accept the symbols of SELFIES before 2.0 ([Branch1_2], [Expl=Ring1], [C@@Hexpl]).
  bool compatible = false;
  /// Encoder only: fail when an atom has more bonds than its capacity. Without it, such molecules
  /// encode to strings that decode to a different molecule (as in the reference).
  bool strict = true;

  static Options reference() {
    Options o;
    o.parenthesised_ring_numbers = false;
    o.reject_oversized_spans = false;
    o.fragment_local_rings = false;
    return o;
  }
};

/// One input token that produced an output token: its index in the input token sequence and its text.
struct Attribution {
  int64_t index = 0;
  std::string token;
  bool operator==(const Attribution& o) const { return index == o.index && token == o.token; }
};

/// An output token and the input tokens it came from. Decoder: `index` is the character offset of
/// a SMILES token (atom or bond character) in the output; the attribution lists the SELFIES
/// symbols (index in split_selfies order, '.' counted) that produced it, enclosing branch symbols
/// first. Encoder: `index` is the position of a SELFIES symbol in the output ('.' counted); the
/// attribution lists the SMILES tokens (index in the input's token sequence, where a bond
/// character is a token of its own) of the atom or bond it encodes; ring symbols and their index
/// symbols have none (as in the reference).
struct AttributionMap {
  int64_t index = 0;
  std::string token;
  std::vector<Attribution> attribution;
};

/// SELFIES -> SMILES (Kekulé form). Throws DecoderError.
std::string decode(std::string_view selfies, const Options& options = {},
                   std::vector<AttributionMap>* attribution = nullptr);

/// SMILES -> SELFIES. Keeps the atom order of the input. Throws EncoderError.
std::string encode(std::string_view smiles, const Options& options = {},
                   std::vector<AttributionMap>* attribution = nullptr);

/// The symbols of a SELFIES string in order, '.' as a symbol of its own when it follows a ']'
/// (split_selfies). Text before the first '[' is skipped; text between ']' and the next '['
/// becomes part of the next symbol. Throws DecoderError on a '[' without ']'.
std::vector<std::string> split_selfies(std::string_view selfies);

/// Number of symbols: count of '[' plus count of '.' (len_selfies).
int64_t len_selfies(std::string_view selfies);

/// Every symbol used in `strings`, without '.' (get_alphabet_from_selfies).
std::set<std::string> alphabet(const std::vector<std::string>& strings);

/// The semantically robust alphabet under `constraints` (69 symbols for the default preset): every
/// atom symbol whose bond order fits the capacity of a constraint key ("?" excluded), the ring
/// symbols [RingL] and [=RingL], the branch symbols [BranchL], [=BranchL], [#BranchL] (L = 1..3),
/// and the 16 index symbols.
std::set<std::string> robust_alphabet(const Constraints& constraints = Constraints());

/// The 16 index symbols in digit order ([C] = 0 ... [P] = 15).
const std::vector<std::string>& index_alphabet();

/// The value of a sequence of index symbols (base 16, most significant first; any other symbol
/// counts as 0).
int64_t index_of_symbols(const std::vector<std::string>& symbols);

/// The shortest sequence of index symbols for `index` >= 0.
std::vector<std::string> symbols_of_index(int64_t index);

}  // namespace strand::chem::selfies
