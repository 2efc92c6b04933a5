#include "chem/selfies/graph.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <deque>
#include <functional>
#include <queue>
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

std::vector<int> greedy_matching(const std::vector<std::vector<int>>& graph) {
  const size_t n = graph.size();
  std::vector<int> matching(n, -1);
  std::vector<int> free_degree(n);
  using Item = std::pair<int, int>;  // (free degree, node): popped smallest first, like heapq
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
  for (size_t i = 0; i < n; ++i) {
    free_degree[i] = static_cast<int>(graph[i].size());
    queue.emplace(free_degree[i], static_cast<int>(i));
  }
  while (!queue.empty()) {
    const int node = queue.top().second;
    queue.pop();
    const auto u = static_cast<size_t>(node);
    if (matching[u] != -1 || free_degree[u] == 0) continue;
    int mate = -1;
    for (const int v : graph[u])
      if (matching[static_cast<size_t>(v)] == -1) {
        mate = v;
        break;
      }
    if (mate == -1) continue;
    matching[u] = mate;
    matching[static_cast<size_t>(mate)] = node;
    for (const int side : {node, mate})
      for (const int adj : graph[static_cast<size_t>(side)]) {
        const auto a = static_cast<size_t>(adj);
        free_degree[a] -= 1;
        if (matching[a] == -1 && free_degree[a] > 0) queue.emplace(free_degree[a], adj);
      }
  }
  return matching;
}

/// Alternating path from the unmatched `root` to another unmatched node, as a list of nodes
/// (other end first, root last); empty when there is none.
std::vector<int> augmenting_path(const std::vector<std::vector<int>>& graph, int root, const std::vector<int>& matching) {
  const size_t n = graph.size();
  std::vector<std::array<int, 2>> parent(n, {-2, -2});  // -2: not visited
  parent[static_cast<size_t>(root)] = {-1, -1};
  std::deque<int> queue{root};
  int other_end = -1;
  while (!queue.empty() && other_end == -1) {
    const int node = queue.front();
    queue.pop_front();
    for (const int adj : graph[static_cast<size_t>(node)]) {
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

bool perfect_matching(const std::vector<std::vector<int>>& graph, std::vector<int>& matching) {
  matching = greedy_matching(graph);
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
      atom.element = std::string(t);
    } else if (t == "b" || t == "c" || t == "n" || t == "o" || t == "s" || t == "p") {
      atom.element = std::string(1, static_cast<char>(t[0] - 'a' + 'A'));
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
  atom.element = element;
  size_t at = 0;
  while (i < body.size() && body[i] == '@' && at < 2) ++i, ++at;
  atom.chirality = std::string(at, '@');
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
  bonds_.reserve(bonds);
  bond_from_.reserve(bonds);
}

int MolGraph::add_atom(Atom atom, bool root, Provenance from) {
  const int index = size();
  if (root) roots_.push_back(index);
  if (atom.aromatic) delocalised_[index];
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
  if (order == 1.5) {
    delocalised_[src].push_back(dst);
    delocalised_[dst].push_back(src);
  }
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
  if (order == 1.5) {
    delocalised_[a].push_back(b);
    delocalised_[b].push_back(a);
  }
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

bool MolGraph::prune_from_delocalised(int node, const std::vector<int>& adjacent) const {
  if (adjacent.empty()) return true;  // aromatic atom without aromatic bonds
  const Atom& atom = atoms_[static_cast<size_t>(node)];
  const AromaticElement* element = aromatic_element(atom.element);
  if (element == nullptr) return true;  // e.g. an explicit ':' between two chlorines
  const double count = bond_counts_[static_cast<size_t>(node)];
  // Bonds in the delocalised subgraph count as single bonds here.
  int used = static_cast<int>(count - 0.5 * static_cast<double>(adjacent.size()));
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
  if (delocalised_.empty()) return true;
  std::vector<int> label_to_node;
  for (const auto& [node, adjacent] : delocalised_)
    if (!prune_from_delocalised(node, adjacent)) label_to_node.push_back(node);  // ascending
  std::map<int, int> node_to_label;
  for (size_t i = 0; i < label_to_node.size(); ++i) node_to_label[label_to_node[i]] = static_cast<int>(i);
  std::vector<std::vector<int>> graph(label_to_node.size());
  for (size_t i = 0; i < label_to_node.size(); ++i)
    for (const int adj : delocalised_.at(label_to_node[i])) {
      const auto it = node_to_label.find(adj);
      if (it != node_to_label.end()) graph[i].push_back(it->second);
    }
  std::vector<int> matching;
  if (!perfect_matching(graph, matching)) return false;
  for (const auto& [node, adjacent] : delocalised_) {
    for (const int adj : adjacent) set_bond_order(node, adj, 1);
    atoms_[static_cast<size_t>(node)].aromatic = false;
    bond_counts_[static_cast<size_t>(node)] = std::floor(bond_counts_[static_cast<size_t>(node)]);
  }
  for (size_t i = 0; i < matching.size(); ++i)
    set_bond_order(label_to_node[i], label_to_node[static_cast<size_t>(matching[i])], 2);
  delocalised_.clear();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Writing SMILES

std::string atom_text(const Atom& atom, bool brackets) {
  const bool bare = !atom.isotope && atom.chirality.empty() && !atom.h_count && atom.charge == 0;
  if (bare) return atom.element;
  std::string s;
  if (brackets) s += '[';
  if (atom.isotope) s += std::to_string(*atom.isotope);
  s += atom.element;
  s += atom.chirality;
  if (atom.h_count && *atom.h_count != 0)
    s += "H" + std::to_string(*atom.h_count);
  else if (atom.h_count && !atom.isotope && atom.chirality.empty() && atom.charge == 0 && is_organic(atom.element))
    s += "H0";  // [CH0]: an organic-subset atom that must not take implicit hydrogens
  if (atom.charge != 0) s += (atom.charge > 0 ? "+" : "-") + std::to_string(std::abs(atom.charge));
  if (brackets) s += ']';
  return s;
}

std::string bond_text(const Bond& bond) {
  if (bond.order == 2) return "=";
  if (bond.order == 3) return "#";
  return bond.stereo != 0 ? std::string(1, bond.stereo) : std::string();
}

std::string write_smiles(const MolGraph& mol, const Options& options, std::vector<AttributionMap>* attribution) {
  std::string out;
  std::vector<int> ring_number(static_cast<size_t>(mol.bond_total()), 0);  // one counter, never reused
  int rings = 0;
  const auto emit = [&](const std::string& token, const Provenance& from) {
    if (attribution != nullptr && !token.empty())
      attribution->push_back({static_cast<int64_t>(out.size()), token, from});
    out += token;
  };
  struct Frame {
    int atom;
    size_t next = 0;
    bool close = false;
  };
  std::vector<Frame> stack;
  for (size_t r = 0; r < mol.roots().size(); ++r) {
    if (r > 0) out += '.';
    const int root = mol.roots()[r];
    emit(atom_text(mol.atom(root), true), mol.provenance_of_atom(root));
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
        emit(bond_text(bond), mol.provenance_of_bond(b));
        int& number = ring_number[static_cast<size_t>(b)];
        if (number == 0) {
          number = ++rings;
          ring_number[static_cast<size_t>(mol.find_bond(bond.dst, bond.src))] = number;
        }
        if (number >= 100 && options.parenthesised_ring_numbers)
          out += "%(" + std::to_string(number) + ")";
        else
          out += (number >= 10 ? "%" : "") + std::to_string(number);
        continue;
      }
      const bool last = i + 1 == bonds.size();
      if (!last) {
        out += '(';
        top.close = true;
      }
      emit(bond_text(bond), mol.provenance_of_bond(b));
      emit(atom_text(mol.atom(bond.dst), true), mol.provenance_of_atom(bond.dst));
      stack.push_back({bond.dst});  // `top` is not used after this
    }
  }
  return out;
}

}  // namespace strand::chem::selfies::detail
