// The NCBI taxonomy dump (taxdump: nodes.dmp and names.dmp, as shipped by NCBI and by Debian's
// emboss-data in /usr/share/EMBOSS/data/TAXONOMY): lineage walks and name lookups.
//
// Dump lines are fields separated by "\t|\t" and ended by "\t|". nodes.dmp: tax_id, parent
// tax_id, rank, ... ; names.dmp: tax_id, name_txt, unique name, name class ("scientific name",
// "synonym", "equivalent name", ...).
//
// The full names.dmp holds 1.5 million names; load() can keep only the names a job asks for
// (TaxonomyLoadOptions::names) plus the scientific names of every node of the ranks in
// TaxonomyLoadOptions::name_ranks, which keeps loading to about a second.
//
// Errors: IoError when a file cannot be opened; ParseError (file, line) for a line with too few
// fields, a non-numeric tax id, a node whose parent is not in nodes.dmp, or a parent cycle.
// A loaded NcbiTaxonomy is immutable; const members are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace strand::bio::annotation {

struct TaxonomyLoadOptions {
  /// Names to keep from names.dmp (any name class); empty keeps every name.
  std::set<std::string> names;
  /// Ranks whose nodes' scientific names are always kept (so lineage names can be printed).
  std::set<std::string> name_ranks = {"superkingdom", "kingdom", "phylum"};
};

class NcbiTaxonomy {
 public:
  /// Reads nodes.dmp and names.dmp (plain or gzip).
  static NcbiTaxonomy load(const std::string& nodes_dmp, const std::string& names_dmp,
                           const TaxonomyLoadOptions& options = {});

  bool contains(int64_t taxid) const;
  /// Parent tax id (the root, 1, is its own parent). Throws InputError for an unknown id.
  int64_t parent(int64_t taxid) const;
  /// Rank ("species", "genus", ..., "no rank"). Throws InputError for an unknown id.
  const std::string& rank(int64_t taxid) const;
  /// The closest node of rank `rank` on the path from `taxid` to the root (taxid itself
  /// included), or -1 when the lineage has none. Throws InputError for an unknown id.
  int64_t ancestor_with_rank(int64_t taxid, const std::string& rank) const;
  /// Tax ids carrying `name` (exact, case-sensitive) among the kept names, sorted.
  std::vector<int64_t> lookup(const std::string& name) const;
  /// The scientific name of `taxid` when it was kept, else "".
  std::string scientific_name(int64_t taxid) const;
  int64_t node_count() const { return nodes_; }

 private:
  std::vector<int32_t> parent_;        ///< by tax id; -1 = absent
  std::vector<uint8_t> rank_;          ///< index into ranks_
  std::vector<std::string> ranks_;
  std::unordered_map<std::string, std::vector<int64_t>> by_name_;
  std::map<int64_t, std::string> scientific_;
  int64_t nodes_ = 0;
};

}  // namespace strand::bio::annotation
