#include "bio/annotation/taxonomy.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "libseq/io/text_lines.h"
#include "libseq/core/error.h"

namespace strand::bio::annotation {
namespace {

// The first `n` fields of a dump line ("a\t|\tb\t|\t...\t|").
bool dump_fields(std::string_view line, size_t n, std::vector<std::string_view>& out) {
  out.clear();
  size_t start = 0;
  while (out.size() < n) {
    const size_t p = line.find("\t|", start);
    if (p == std::string_view::npos) return false;
    out.push_back(line.substr(start, p - start));
    start = p + 2;
    if (start < line.size() && line[start] == '\t') ++start;
  }
  return true;
}

int64_t parse_id(std::string_view s, const strand::io::TextLines& lines, const char* what) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1 || v > INT32_MAX)
    throw ParseError(Location{lines.source(), lines.line_number(), ""},
                     std::string("expected a numeric ") + what + ", found '" + std::string(s) + "'");
  return v;
}

}  // namespace

NcbiTaxonomy NcbiTaxonomy::load(const std::string& nodes_dmp, const std::string& names_dmp,
                                const TaxonomyLoadOptions& options) {
  NcbiTaxonomy t;
  std::vector<std::string_view> f;
  {
    strand::io::TextLines lines = strand::io::TextLines::open(nodes_dmp);
    std::string_view line;
    std::map<std::string, uint8_t, std::less<>> rank_ids;
    while (lines.next(line)) {
      if (line.empty()) continue;
      if (!dump_fields(line, 3, f))
        throw ParseError(Location{lines.source(), lines.line_number(), ""},
                         "expected 'tax_id\\t|\\tparent\\t|\\trank\\t|...' (a nodes.dmp line)");
      const int64_t id = parse_id(f[0], lines, "tax id");
      const int64_t parent = parse_id(f[1], lines, "parent tax id");
      auto it = rank_ids.find(f[2]);
      if (it == rank_ids.end()) {
        if (t.ranks_.size() >= 255)
          throw ParseError(Location{lines.source(), lines.line_number(), ""}, "more than 255 distinct ranks");
        it = rank_ids.emplace(std::string(f[2]), static_cast<uint8_t>(t.ranks_.size())).first;
        t.ranks_.emplace_back(f[2]);
      }
      const auto need = static_cast<size_t>(std::max(id, parent) + 1);
      if (t.parent_.size() < need) {
        t.parent_.resize(std::max(need, t.parent_.size() * 3 / 2), -1);
        t.rank_.resize(t.parent_.size(), 0);
      }
      if (t.parent_[static_cast<size_t>(id)] != -1)
        throw ParseError(Location{lines.source(), lines.line_number(), ""},
                         "tax id " + std::to_string(id) + " appears twice");
      t.parent_[static_cast<size_t>(id)] = static_cast<int32_t>(parent);
      t.rank_[static_cast<size_t>(id)] = it->second;
      ++t.nodes_;
    }
    // Every parent must exist, and every path must reach the root without a cycle.
    for (size_t id = 1; id < t.parent_.size(); ++id) {
      if (t.parent_[id] < 0) continue;
      if (!t.contains(t.parent_[id]))
        throw ParseError(Location{nodes_dmp, -1, ""}, "tax id " + std::to_string(id) + " has parent " +
                                                          std::to_string(t.parent_[id]) + ", which is not in the file");
    }
  }
  {
    strand::io::TextLines lines = strand::io::TextLines::open(names_dmp);
    std::string_view line;
    while (lines.next(line)) {
      if (line.empty()) continue;
      if (!dump_fields(line, 4, f))
        throw ParseError(Location{lines.source(), lines.line_number(), ""},
                         "expected 'tax_id\\t|\\tname\\t|\\tunique name\\t|\\tclass\\t|' (a names.dmp line)");
      const int64_t id = parse_id(f[0], lines, "tax id");
      const bool scientific = f[3] == "scientific name";
      const std::string name(f[1]);
      const bool wanted = options.names.empty() || options.names.count(name) != 0;
      const bool rank_name =
          scientific && t.contains(id) && options.name_ranks.count(t.ranks_[t.rank_[static_cast<size_t>(id)]]) != 0;
      if (wanted) {
        auto& ids = t.by_name_[name];
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      }
      if (scientific && (wanted || rank_name)) t.scientific_[id] = name;
    }
    for (auto& [name, ids] : t.by_name_) std::sort(ids.begin(), ids.end());
  }
  return t;
}

bool NcbiTaxonomy::contains(int64_t taxid) const {
  return taxid > 0 && static_cast<size_t>(taxid) < parent_.size() && parent_[static_cast<size_t>(taxid)] >= 0;
}

int64_t NcbiTaxonomy::parent(int64_t taxid) const {
  STRAND_CHECK(contains(taxid), "tax id ", taxid, " is not in the taxonomy");
  return parent_[static_cast<size_t>(taxid)];
}

const std::string& NcbiTaxonomy::rank(int64_t taxid) const {
  STRAND_CHECK(contains(taxid), "tax id ", taxid, " is not in the taxonomy");
  return ranks_[rank_[static_cast<size_t>(taxid)]];
}

int64_t NcbiTaxonomy::ancestor_with_rank(int64_t taxid, const std::string& wanted) const {
  STRAND_CHECK(contains(taxid), "tax id ", taxid, " is not in the taxonomy");
  int64_t id = taxid;
  // A lineage is at most a few dozen nodes deep; the bound turns a parent cycle into an error
  // instead of an endless loop.
  for (int steps = 0; steps < 1000; ++steps) {
    if (ranks_[rank_[static_cast<size_t>(id)]] == wanted) return id;
    const int64_t p = parent_[static_cast<size_t>(id)];
    if (p == id) return -1;
    id = p;
  }
  throw ParseError("the taxonomy has a parent cycle through tax id " + std::to_string(taxid));
}

std::vector<int64_t> NcbiTaxonomy::lookup(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? std::vector<int64_t>{} : it->second;
}

std::string NcbiTaxonomy::scientific_name(int64_t taxid) const {
  const auto it = scientific_.find(taxid);
  return it == scientific_.end() ? std::string() : it->second;
}

}  // namespace strand::bio::annotation
