#include "chem/selfies/graph.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <functional>
#include <set>

#include "chem/elements.h"
#include "chem/selfies/py_set.h"

namespace strand::chem::selfies::detail {
namespace {

struct AromaticElement {
  std::string_view element;
  std::array<int, 2> valences;  ///< allowed valences; 0 = none
  int valence_electrons;
};
// Valences an aromatic atom may have, and its valence-shell electrons (Apodaca's treatment of
// aromaticity in SMILES, as selfies 2.2.0 uses it).
constexpr std::array<AromaticElement, 11> kAromatic = {{{"B", {3, 0}, 3},
                                                       {"Al", {3, 0}, 3},
                                                       {"C", {4, 0}, 4},
                                                       {"Si", {4, 0}, 4},
                                                       {"N", {3, 5}, 5},
                                                       {"P", {3, 5}, 5},
                                                       {"As", {3, 5}, 5},
                                                       {"O", {2, 4}, 6},
                                                       {"S", {2, 4}, 6},
                                                       {"Se", {2, 4}, 6},
                                                       {"Te", {2, 4}, 6}}};

const AromaticElement* aromatic_element(std::string_view element) {
  for (const auto& a : kAromatic)
    if (a.element == element) return &a;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Perfect matching as selfies does it: a greedy maximal matching (nodes with the fewest free
// neighbours first), then augmenting paths by BFS from each unmatched node, taken in the order a
// CPython set of ints pops them.

/// An undirected graph as adjacency lists in one array: node i's neighbours are
/// targets[offsets[i]] .. targets[offsets[i + 1] - 1].
struct Adjacency {
  std::vector<int> offsets{0};
  std::vector<int> targets;
  size_t size() const { return offsets.size() - 1; }
  int degree(size_t i) const { return offsets[i + 1] - offsets[i]; }
  const int* begin(size_t i) const { return targets.data() + offsets[i]; }
  const int* end(size_t i) const { return targets.data() + offsets[i + 1]; }
};

void greedy_matching(const Adjacency& graph, std::vector<int>& matching) {
  const size_t n = graph.size();
  matching.assign(n, -1);
  thread_local std::vector<int> free_degree;
  free_degree.resize(n);
  using Item = std::pair<int, int>;  // (free degree, node): popped smallest first, like heapq
  thread_local std::vector<Item> queue;  // a binary min-heap (pairs are unique: the order is total)
  queue.clear();
  const auto push = [](int degree, int node) {
    queue.emplace_back(degree, node);
    std::push_heap(queue.begin(), queue.end(), std::greater<>());
  };
  for (size_t i = 0; i < n; ++i) {
    free_degree[i] = graph.degree(i);
    push(free_degree[i], static_cast<int>(i));
  }
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), std::greater<>());
    const int node = queue.back().second;
    queue.pop_back();
    const auto u = static_cast<size_t>(node);
    if (matching[u] != -1 || free_degree[u] == 0) continue;
    int mate = -1;
    for (const int* v = graph.begin(u); v != graph.end(u); ++v)
      if (matching[static_cast<size_t>(*v)] == -1) {
        mate = *v;
        break;
      }
    if (mate == -1) continue;
    matching[u] = mate;
    matching[static_cast<size_t>(mate)] = node;
    for (const int side : {node, mate})
      for (const int* adj = graph.begin(static_cast<size_t>(side)); adj != graph.end(static_cast<size_t>(side)); ++adj) {
        const auto a = static_cast<size_t>(*adj);
        free_degree[a] -= 1;
        if (matching[a] == -1 && free_degree[a] > 0) push(free_degree[a], *adj);
      }
  }
}

/// Alternating path from the unmatched `root` to another unmatched node, as a list of nodes
/// (other end first, root last); empty when there is none.
std::vector<int> augmenting_path(const Adjacency& graph, int root, const std::vector<int>& matching) {
  const size_t n = graph.size();
  std::vector<std::array<int, 2>> parent(n, {-2, -2});  // -2: not visited
  parent[static_cast<size_t>(root)] = {-1, -1};
  std::vector<int> queue{root};  // BFS order: queue[head..] are still to visit
  size_t head = 0;
  int other_end = -1;
  while (head < queue.size() && other_end == -1) {
    const int node = queue[head++];
    for (const int* it = graph.begin(static_cast<size_t>(node)); it != graph.end(static_cast<size_t>(node)); ++it) {
      const int adj = *it;
      const int mate = matching[static_cast<size_t>(adj)];
      if (mate == -1) {
        if (adj != root) {
          parent[static_cast<size_t>(adj)] = {node, adj};
          other_end = adj;
          break;
        }
      } else if (parent[static_cast<size_t>(mate)][0] == -2) {
        parent[static_cast<size_t>(mate)] = {node, adj};
        queue.push_back(mate);
      }
    }
  }
  std::vector<int> path;
  if (other_end == -1) return path;
  for (int node = other_end; node != root;) {
    const auto& p = parent[static_cast<size_t>(node)];
    path.push_back(p[1]);
    path.push_back(p[0]);
    node = p[0];
  }
  return path;
}

bool perfect_matching(const Adjacency& graph, std::vector<int>& matching) {
  greedy_matching(graph, matching);
  bool complete = true;
  for (const int m : matching) complete = complete && m != -1;
  if (complete) return true;
  PySet unmatched;
  for (size_t i = 0; i < graph.size(); ++i)
    if (matching[i] == -1) unmatched.add(static_cast<int64_t>(i));
  while (!unmatched.empty()) {
    const int root = static_cast<int>(unmatched.pop());
    const std::vector<int> path = augmenting_path(graph, root, matching);
    if (path.empty()) return false;
    for (size_t i = 0; i + 1 < path.size(); i += 2) {
      matching[static_cast<size_t>(path[i])] = path[i + 1];
      matching[static_cast<size_t>(path[i + 1])] = path[i];
    }
    unmatched.discard(path.front());
    unmatched.discard(path.back());
  }
  return true;
}

}  // namespace

bool is_element(std::string_view element) {
  static const std::array<bool, 26 * 27> table = [] {
    std::array<bool, 26 * 27> t{};
    for (const std::string_view e : kElements) {
      // selfies' list stops at Lv and lacks Nh, Mc, Ts and Og.
      if (e != "Nh" && e != "Mc" && e != "Ts" && e != "Og") t[static_cast<size_t>(element_slot(e))] = true;
    }
    return t;
  }();
  const int slot = element_slot(element);
  return slot >= 0 && table[static_cast<size_t>(slot)];
}

bool is_organic(std::string_view e) {
  if (e.size() == 1) {
    switch (e[0]) {
      case 'B': case 'C': case 'N': case 'O': case 'S': case 'P': case 'F': case 'I': return true;
      default: return false;
    }
  }
  return e == "Cl" || e == "Br";
}

std::optional<Atom> parse_smiles_atom(std::string_view t) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto is_lower = [](char c) { return c >= 'a' && c <= 'z'; };
  const auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') {
    Atom atom;
    if (is_organic(t)) {
      atom.element.assign(t);
    } else if (t == "b" || t == "c" || t == "n" || t == "o" || t == "s" || t == "p") {
      const char upper = static_cast<char>(t[0] - 'a' + 'A');
      atom.element.assign(std::string_view(&upper, 1));
      atom.aromatic = true;
    } else {
      return std::nullopt;
    }
    return atom;
  }
  const std::string_view body = t.substr(1, t.size() - 2);
  size_t i = 0;
  Atom atom;
  const size_t iso = i;
  while (i < body.size() && is_digit(body[i])) ++i;
  if (i > iso) {
    if (i - iso > 9) return std::nullopt;  // no isotope has ten digits; keeps the number in range
    atom.isotope = std::stoi(std::string(body.substr(iso, i - iso)));
  }
  if (i >= body.size() || !(is_upper(body[i]) || is_lower(body[i]))) return std::nullopt;
  std::string element(1, body[i++]);
  if (i < body.size() && is_lower(body[i])) element += body[i++];
  static const std::set<std::string> kAromaticBracket = {"b", "al", "c", "si", "n", "p", "as", "o", "s", "se", "te"};
  bool all_lower = true;
  for (const char c : element) all_lower = all_lower && is_lower(c);
  atom.aromatic = all_lower && kAromaticBracket.count(element) != 0;
  element[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(element[0])));
  if (!is_element(element)) return std::nullopt;
  atom.element.assign(element);
  size_t at = 0;
  while (i < body.size() && body[i] == '@' && at < 2) ++i, ++at;
  atom.chirality = static_cast<int>(at);
  atom.h_count = 0;
  if (i < body.size() && body[i] == 'H') {
    ++i;
    atom.h_count = 1;
    if (i < body.size() && is_digit(body[i])) atom.h_count = body[i++] - '0';
  }
  if (i < body.size() && (body[i] == '+' || body[i] == '-')) {
    const char sign = body[i];
    const size_t start = i++;
    if (i < body.size() && is_digit(body[i])) {
      while (i < body.size() && is_digit(body[i])) ++i;
      if (i - start > 9) return std::nullopt;  // keeps the number within int
      atom.charge = std::stoi(std::string(body.substr(start + 1, i - start - 1)));
    } else {
      while (i < body.size() && body[i] == sign) ++i;
      atom.charge = static_cast<int>(i - start);
    }
    if (sign == '-') atom.charge = -atom.charge;
  }
  if (i < body.size() && body[i] == ':') {  // atom class: read and dropped
    const size_t start = ++i;
    while (i < body.size() && is_digit(body[i])) ++i;
    if (i == start) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  return atom;
}

// ---------------------------------------------------------------------------------------------
// MolGraph

bool MolGraph::has_bond(int a, int b) const {
  if (a > b) std::swap(a, b);
  return find_bond(a, b) >= 0;
}

int MolGraph::find_bond(int src, int dst) const {
  for (const int b : out_[static_cast<size_t>(src)])
    if (b >= 0 && bonds_[static_cast<size_t>(b)].dst == dst) return b;
  return -1;
}

void MolGraph::reserve(size_t atoms, size_t bonds) {
  atoms_.reserve(atoms);
  out_.reserve(atoms);
  bond_counts_.reserve(atoms);
  ring_flags_.reserve(atoms);
  atom_from_.reserve(atoms);
  delocalised_.reserve(atoms);
  bonds_.reserve(bonds);
  bond_from_.reserve(bonds);
}

void MolGraph::clear() {
  atoms_.clear();
  bonds_.clear();
  roots_.clear();
  out_.clear();
  bond_counts_.clear();
  ring_flags_.clear();
  delocalised_.clear();
  delocalised_bonds_.clear();
  atom_from_.clear();
  bond_from_.clear();
}

void MolGraph::add_delocalised_bond(int a, int b) {
  delocalised_[static_cast<size_t>(a)] = true;
  delocalised_[static_cast<size_t>(b)] = true;
  delocalised_bonds_.emplace_back(a, b);
  delocalised_bonds_.emplace_back(b, a);
}

int MolGraph::add_atom(Atom atom, bool root, Provenance from) {
  const int index = size();
  if (root) roots_.push_back(index);
  delocalised_.push_back(atom.aromatic);
  atoms_.push_back(std::move(atom));
  out_.emplace_back();
  bond_counts_.push_back(0);
  ring_flags_.push_back(false);
  atom_from_.push_back(std::move(from));
  return index;
}

int MolGraph::add_bond(int src, int dst, double order, char stereo, Provenance from) {
  const int b = static_cast<int>(bonds_.size());
  bonds_.push_back({src, dst, order, stereo, false});
  bond_from_.push_back(std::move(from));
  out_[static_cast<size_t>(src)].push_back(b);
  bond_counts_[static_cast<size_t>(src)] += order;
  bond_counts_[static_cast<size_t>(dst)] += order;
  if (order == 1.5) add_delocalised_bond(src, dst);
  return b;
}

int MolGraph::reserve_slot(int src) {
  auto& out = out_[static_cast<size_t>(src)];
  out.push_back(-1);
  return static_cast<int>(out.size()) - 1;
}

void MolGraph::add_ring_bond(int a, int b, double order, char a_stereo, char b_stereo, int a_pos, int b_pos) {
  const auto place = [this](int from, int to, double o, char stereo, int pos) {
    const int id = static_cast<int>(bonds_.size());
    bonds_.push_back({from, to, o, stereo, true});
    bond_from_.emplace_back();
    auto& out = out_[static_cast<size_t>(from)];
    if (pos < 0 || pos == static_cast<int>(out.size()))
      out.push_back(id);
    else if (out[static_cast<size_t>(pos)] == -1)
      out[static_cast<size_t>(pos)] = id;
    else
      out.insert(static_cast<size_t>(pos), id);
  };
  place(a, b, order, a_stereo, a_pos);
  place(b, a, order, b_stereo, b_pos);
  bond_counts_[static_cast<size_t>(a)] += order;
  bond_counts_[static_cast<size_t>(b)] += order;
  ring_flags_[static_cast<size_t>(a)] = true;
  ring_flags_[static_cast<size_t>(b)] = true;
  if (order == 1.5) add_delocalised_bond(a, b);
}

void MolGraph::set_bond_order(int a, int b, double order) {
  if (a > b) std::swap(a, b);
  Bond& forward = bonds_[static_cast<size_t>(find_bond(a, b))];
  const double old = forward.order;
  if (old == order) return;
  forward.order = order;
  if (forward.ring) bonds_[static_cast<size_t>(find_bond(b, a))].order = order;
  bond_counts_[static_cast<size_t>(a)] += order - old;
  bond_counts_[static_cast<size_t>(b)] += order - old;
}

void MolGraph::add_provenance_of_bond(int b, const Provenance& from) {
  auto& p = bond_from_[static_cast<size_t>(b)];
  p.insert(p.end(), from.begin(), from.end());
}

bool MolGraph::prune_from_delocalised(int node, size_t aromatic_bonds) const {
  if (aromatic_bonds == 0) return true;  // aromatic atom without aromatic bonds
  const Atom& atom = atoms_[static_cast<size_t>(node)];
  const AromaticElement* element = aromatic_element(atom.element);
  if (element == nullptr) return true;  // e.g. an explicit ':' between two chlorines
  const double count = bond_counts_[static_cast<size_t>(node)];
  // Bonds in the delocalised subgraph count as single bonds here.
  int used = static_cast<int>(count - 0.5 * static_cast<double>(aromatic_bonds));
  const auto allowed = [&](int v) { return v != 0; };
  if (!atom.h_count) {  // implicit hydrogens: any allowed valence fits
    for (const int v : element->valences)
      if (allowed(v) && used == v) return true;
    return false;
  }
  const int h = *atom.h_count;
  const int max_valence = element->valences[1] != 0 ? element->valences[1] : element->valences[0];
  used += h;
  for (const int v : element->valences)
    if (allowed(v) && used == v - atom.charge) return true;
  // Electrons bound by the atom, counting each 1.5 bond as two (selfies 2.2.0 radical handling):
  // an odd number left over is an unpaired electron that takes no part in the pi system.
  const double whole = std::floor(count);
  const int bound = std::max(0, atom.charge) + h + static_cast<int>(whole) + static_cast<int>(std::floor(2 * (count - whole)));
  const int radicals = std::max(0, element->valence_electrons - bound) % 2;
  const int free_electrons = max_valence - atom.charge - used - radicals;
  return !(free_electrons >= 0 && free_electrons % 2 != 0);
}

bool MolGraph::kekulize() {
  const size_t n = atoms_.size();
  bool any = false;
  for (size_t i = 0; i < n && !any; ++i) any = delocalised_[i];
  if (!any) return true;
  // Each delocalised atom's partners over 1.5 bonds, in the order the bonds were added.
  // Scratch kept per thread: no allocation once the arrays have grown to the molecules seen.
  thread_local Adjacency partners;
  thread_local Adjacency graph;
  thread_local std::vector<int> fill;
  thread_local std::vector<int> label_to_node;
  thread_local std::vector<int> node_to_label;
  thread_local std::vector<int> matching;
  partners.offsets.assign(n + 1, 0);
  for (const auto& [a, b] : delocalised_bonds_) ++partners.offsets[static_cast<size_t>(a) + 1];
  for (size_t i = 0; i < n; ++i) partners.offsets[i + 1] += partners.offsets[i];
  partners.targets.resize(delocalised_bonds_.size());
  {
    fill.assign(partners.offsets.begin(), partners.offsets.end() - 1);
    for (const auto& [a, b] : delocalised_bonds_) partners.targets[static_cast<size_t>(fill[static_cast<size_t>(a)]++)] = b;
  }
  // The atoms that keep a double bond to place, labelled in ascending order.
  label_to_node.clear();
  node_to_label.assign(n, -1);
  for (size_t i = 0; i < n; ++i)
    if (delocalised_[i] && !prune_from_delocalised(static_cast<int>(i), static_cast<size_t>(partners.degree(i)))) {
      node_to_label[i] = static_cast<int>(label_to_node.size());
      label_to_node.push_back(static_cast<int>(i));
    }
  graph.offsets.assign(1, 0);
  graph.targets.clear();
  for (const int node : label_to_node) {
    for (const int* adj = partners.begin(static_cast<size_t>(node)); adj != partners.end(static_cast<size_t>(node)); ++adj)
      if (node_to_label[static_cast<size_t>(*adj)] >= 0) graph.targets.push_back(node_to_label[static_cast<size_t>(*adj)]);
    graph.offsets.push_back(static_cast<int>(graph.targets.size()));
  }
  if (!perfect_matching(graph, matching)) return false;
  for (size_t node = 0; node < n; ++node) {
    if (!delocalised_[node]) continue;
    for (const int* adj = partners.begin(node); adj != partners.end(node); ++adj) set_bond_order(static_cast<int>(node), *adj, 1);
    atoms_[node].aromatic = false;
    bond_counts_[node] = std::floor(bond_counts_[node]);
  }
  for (size_t i = 0; i < matching.size(); ++i)
    set_bond_order(label_to_node[i], label_to_node[static_cast<size_t>(matching[i])], 2);
  std::fill(delocalised_.begin(), delocalised_.end(), false);
  delocalised_bonds_.clear();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Writing SMILES

void append_atom_text(std::string& s, const Atom& atom, bool brackets) {
  const bool bare = !atom.isotope && atom.chirality == 0 && !atom.h_count && atom.charge == 0;
  if (bare) {
    s += std::string_view(atom.element);
    return;
  }
  if (brackets) s += '[';
  if (atom.isotope) append_int(s, *atom.isotope);
  s += std::string_view(atom.element);
  s.append(static_cast<size_t>(atom.chirality), '@');
  if (atom.h_count && *atom.h_count != 0) {
    s += 'H';
    append_int(s, *atom.h_count);
  } else if (atom.h_count && !atom.isotope && atom.chirality == 0 && atom.charge == 0 && is_organic(atom.element)) {
    s += "H0";  // [CH0]: an organic-subset atom that must not take implicit hydrogens
  }
  if (atom.charge != 0) {
    s += atom.charge > 0 ? '+' : '-';
    append_int(s, std::abs(atom.charge));
  }
  if (brackets) s += ']';
}

std::string write_smiles(const MolGraph& mol, const Options& options, std::vector<AttributionMap>* attribution) {
  std::string out;
  out.reserve(static_cast<size_t>(mol.size()) * 3);
  thread_local std::vector<int> ring_number;  // per bond; one counter, never reused
  ring_number.assign(static_cast<size_t>(mol.bond_total()), 0);
  int rings = 0;
  // Attribution of the text appended since `start`, when it is not empty.
  const auto attribute = [&](size_t start, const Provenance& from) {
    if (attribution != nullptr && out.size() > start)
      attribution->push_back({static_cast<int64_t>(start), out.substr(start), from});
  };
  const auto write_atom = [&](int a) {
    const size_t start = out.size();
    append_atom_text(out, mol.atom(a), true);
    attribute(start, mol.provenance_of_atom(a));
  };
  const auto write_bond = [&](int b) {
    const size_t start = out.size();
    out += bond_text(mol.bond(b));
    attribute(start, mol.provenance_of_bond(b));
  };
  struct Frame {
    int atom;
    size_t next = 0;
    bool close = false;
  };
  thread_local std::vector<Frame> stack;
  stack.clear();
  for (size_t r = 0; r < mol.roots().size(); ++r) {
    if (r > 0) out += '.';
    const int root = mol.roots()[r];
    write_atom(root);
    stack.push_back({root});
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.close) {
        out += ')';
        top.close = false;
      }
      const auto& bonds = mol.out(top.atom);
      if (top.next >= bonds.size()) {
        stack.pop_back();
        continue;
      }
      const size_t i = top.next++;
      const int b = bonds[i];
      if (b < 0) continue;  // a reserved ring slot never filled (cannot happen in a finished graph)
      const Bond& bond = mol.bond(b);
      if (bond.ring) {
        write_bond(b);
        int& number = ring_number[static_cast<size_t>(b)];
        if (number == 0) {
          number = ++rings;
          ring_number[static_cast<size_t>(mol.find_bond(bond.dst, bond.src))] = number;
        }
        if (number >= 100 && options.parenthesised_ring_numbers) {
          out += "%(";
          append_int(out, number);
          out += ')';
        } else {
          if (number >= 10) out += '%';
          append_int(out, number);
        }
        continue;
      }
      const bool last = i + 1 == bonds.size();
      if (!last) {
        out += '(';
        top.close = true;
      }
      write_bond(b);
      write_atom(bond.dst);
      stack.push_back({bond.dst});  // `top` is not used after this
    }
  }
  return out;
}

}  // namespace strand::chem::selfies::detail
