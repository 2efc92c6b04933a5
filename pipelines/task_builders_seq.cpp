// Whole-sequence tasks: pfam, superkingdom, ncrna-family (classification) and tpsa (regression).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>
#include <unordered_map>

#include "bio/annotation/near_identity.h"
#include "bio/annotation/stockholm.h"
#include "bio/annotation/taxonomy.h"
#include "libseq/io/text_lines.h"
#include "bio/io/reader.h"
#include "chem/scaffold.h"
#include "chem/smiles.h"
#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "pipelines/task_builders_internal.h"

namespace strand::pipelines::task_detail {

namespace ann = strand::bio::annotation;

namespace {

struct Candidate {
  std::string id;
  std::string sequence;
  int64_t label = 0;
  std::string link;  ///< records with the same non-empty link share a group (e.g. one UniProt entry)
};

// Keeps one copy of each sequence; a sequence seen under two labels is dropped altogether (its
// label is ambiguous). Ids are made unique by a "#n" suffix on repeats.
std::vector<Candidate> dedupe(std::vector<Candidate> in, std::map<std::string, int64_t>& dropped) {
  std::unordered_map<std::string, size_t> first;
  std::vector<bool> conflict(in.size(), false), keep(in.size(), false);
  for (size_t i = 0; i < in.size(); ++i) {
    const auto [it, fresh] = first.emplace(in[i].sequence, i);
    if (fresh) {
      keep[i] = true;
    } else if (in[it->second].label != in[i].label) {
      conflict[it->second] = true;
      ++dropped["sequence under two labels (all copies dropped)"];
    } else {
      ++dropped["duplicate sequence (one copy kept)"];
    }
  }
  std::vector<Candidate> out;
  std::unordered_map<std::string, int> id_uses;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!keep[i]) continue;
    if (conflict[i]) {
      ++dropped["sequence under two labels (all copies dropped)"];
      continue;
    }
    const int n = id_uses[in[i].id]++;
    if (n > 0) in[i].id += "#" + std::to_string(n + 1);
    out.push_back(std::move(in[i]));
  }
  return out;
}

// Limits each class to `cap` candidates at random (before grouping, which is the slow step).
void cap_candidates(std::vector<Candidate>& c, size_t n_classes, int64_t cap, Rng& rng) {
  if (cap <= 0) return;
  std::vector<std::vector<size_t>> by_class(n_classes);
  for (size_t i = 0; i < c.size(); ++i) by_class[static_cast<size_t>(c[i].label)].push_back(i);
  std::vector<bool> keep(c.size(), false);
  for (const auto& m : by_class)
    for (const size_t j : sample_indices(m.size(), std::min(m.size(), static_cast<size_t>(cap)), rng))
      keep[m[j]] = true;
  std::vector<Candidate> out;
  for (size_t i = 0; i < c.size(); ++i)
    if (keep[i]) out.push_back(std::move(c[i]));
  c = std::move(out);
}

// Groups: near-identity clusters (bio/annotation/near_identity.h) joined with shared links. The
// group is named after its first member's id.
std::vector<TaskExample> group_candidates(std::vector<Candidate> c, int k, int64_t& n_groups) {
  std::vector<std::string> seqs;
  seqs.reserve(c.size());
  for (const auto& x : c) seqs.push_back(x.sequence);
  ann::NearIdentityOptions opt;
  opt.k = k;
  std::vector<int64_t> g = ann::near_identity_groups(seqs, opt);
  // Union with the links (same UniProt entry), keeping the smallest index as the root.
  std::vector<int64_t> parent(c.size());
  for (size_t i = 0; i < c.size(); ++i) parent[i] = static_cast<int64_t>(i);
  auto find = [&](int64_t x) {
    while (parent[static_cast<size_t>(x)] != x) {
      parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
      x = parent[static_cast<size_t>(x)];
    }
    return x;
  };
  auto unite = [&](int64_t a, int64_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);
    parent[static_cast<size_t>(b)] = a;
  };
  for (size_t i = 0; i < c.size(); ++i) unite(static_cast<int64_t>(i), g[i]);
  std::unordered_map<std::string, int64_t> link_first;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].link.empty()) continue;
    const auto [it, fresh] = link_first.emplace(c[i].link, static_cast<int64_t>(i));
    if (!fresh) unite(it->second, static_cast<int64_t>(i));
  }
  std::vector<TaskExample> out;
  out.reserve(c.size());
  std::set<int64_t> roots;
  for (size_t i = 0; i < c.size(); ++i) {
    const int64_t r = find(static_cast<int64_t>(i));
    roots.insert(r);
    TaskExample ex;
    ex.id = c[i].id;
    ex.sequence = std::move(c[i].sequence);
    ex.label = c[i].label;
    ex.group = "cluster:" + c[static_cast<size_t>(r)].id;
    out.push_back(std::move(ex));
  }
  n_groups = static_cast<int64_t>(roots.size());
  return out;
}

std::string near_identity_rule(int k, const char* link) {
  return std::string("groups join identical sequences, ") + link + "and sequences whose " + std::to_string(k) +
         "-mer sets have a Jaccard index of at least 0.5 (about 92-95 % identity or more), found by MinHash LSH and "
         "verified exactly; connected components are the groups, so near-identical sequences never straddle splits.";
}

}  // namespace

// pfam. Source: the Pfam full alignments of PF00171 (Aldedh, aldehyde dehydrogenase family) and
// PF00225 (Kinesin, kinesin motor domain) in augustus-doc: aligned FASTA, one record per domain
// hit `UNIPROT_ENTRY/start-end`. Sequences: gaps ('.' and '-') removed, upper case. Duplicate
// sequences are kept once. Groups: near-identity clusters (5-mers) joined with all domains of one
// UniProt entry. Natural class frequencies.
Draft build_pfam(const Context& ctx) {
  Draft d;
  d.spec.kind = TaskKind::Classification;
  d.spec.alphabet = "protein";
  d.spec.classes = {"PF00171", "PF00225"};
  d.spec.metric = "mcc";
  std::vector<Candidate> cands;
  for (int c = 0; c < 2; ++c) {
    auto reader = bio::io::open_sequences(ctx.paths[static_cast<size_t>(c)]);
    bio::io::SequenceRecord rec;
    int64_t n = 0;
    while (reader->next(rec)) {
      ++n;
      std::string seq = ann::ungapped_upper(rec.seq);
      if (seq.empty()) {
        ++d.dropped["empty after removing gaps"];
        continue;
      }
      Candidate x;
      x.id = rec.name;
      x.link = rec.name.substr(0, rec.name.find('/'));
      x.sequence = std::move(seq);
      x.label = c;
      cands.push_back(std::move(x));
    }
    d.details["records"][d.spec.classes[static_cast<size_t>(c)]] = n;
  }
  cands = dedupe(std::move(cands), d.dropped);
  Rng rng = ctx.rng(0x9fa3);
  cap_candidates(cands, 2, ctx.options.max_per_class, rng);
  int64_t groups = 0;
  d.examples = group_candidates(std::move(cands), 5, groups);
  d.split_rule = near_identity_rule(5, "all domains of one UniProt entry, ");
  d.spec.description = "Pfam family of a protein domain sequence (gaps removed) from the Pfam full alignments: "
                       "PF00171 Aldedh (aldehyde dehydrogenase family) vs PF00225 Kinesin (kinesin motor domain).";
  d.details["groups"] = groups;
  d.details["families"] = {{"PF00171", "Aldedh: aldehyde dehydrogenase family"},
                           {"PF00225", "Kinesin: kinesin motor domain"}};
  STRAND_LOG_INFO("tasks build pfam: ", d.examples.size(), " distinct domain sequences in ", groups, " groups");
  return d;
}

// superkingdom. Source: 20,000 UniProt proteins of the MMseqs2 example database (mmseqs2-examples
// DB.fasta.gz; headers `db|ACC|ENTRY description OS=organism ... PE=n SV=n`). Label: the organism
// name after OS= is looked up in the NCBI taxonomy of emboss-data (names.dmp, any name class);
// when the full name is unknown, words are removed from its end until a name matches (so
// "Bacillus subtilis XF-1" falls back to "Bacillus subtilis"). The matched tax ids' ancestor of
// rank superkingdom is the label; a name whose tax ids lead to different superkingdoms, no match,
// or a superkingdom other than the four classes (viroids) drops the protein (counted).
// Duplicate sequences are kept once. Groups: near-identity clusters (5-mers). Natural class
// frequencies.
Draft build_superkingdom(const Context& ctx) {
  Draft d;
  d.spec.kind = TaskKind::Classification;
  d.spec.alphabet = "protein";
  d.spec.classes = {"Archaea", "Bacteria", "Eukaryota", "Viruses"};
  d.spec.metric = "mcc";
  struct Protein {
    std::string accession;
    std::string organism;
    std::string seq;
  };
  std::vector<Protein> proteins;
  std::set<std::string> names;
  auto prefixes = [](const std::string& os) {  // the name, then with words removed from the end
    std::vector<std::string> out;
    std::string s = os;
    while (!s.empty()) {
      out.push_back(s);
      const size_t sp = s.rfind(' ');
      if (sp == std::string::npos) break;
      s.resize(sp);
    }
    return out;
  };
  {
    auto reader = bio::io::open_sequences(ctx.paths[0]);
    bio::io::SequenceRecord rec;
    while (reader->next(rec)) {
      const size_t os = rec.comment.find("OS=");
      if (os == std::string::npos) {
        ++d.dropped["no OS= in the header"];
        continue;
      }
      // The organism runs to the next " XX=" key (OX, GN, PE, SV) or the end.
      size_t end = rec.comment.size();
      for (size_t i = os + 3; i + 3 < rec.comment.size(); ++i) {
        if (rec.comment[i] == ' ' && std::isupper(static_cast<unsigned char>(rec.comment[i + 1])) &&
            std::isupper(static_cast<unsigned char>(rec.comment[i + 2])) && rec.comment[i + 3] == '=') {
          end = i;
          break;
        }
      }
      Protein p;
      p.organism = rec.comment.substr(os + 3, end - os - 3);
      const size_t bar1 = rec.name.find('|');
      const size_t bar2 = bar1 == std::string::npos ? std::string::npos : rec.name.find('|', bar1 + 1);
      p.accession = bar2 == std::string::npos ? rec.name : rec.name.substr(bar1 + 1, bar2 - bar1 - 1);
      p.seq = rec.seq;
      upper_in_place(p.seq);
      for (auto& n : prefixes(p.organism)) names.insert(std::move(n));
      proteins.push_back(std::move(p));
    }
  }
  ann::TaxonomyLoadOptions topt;
  topt.names = names;
  topt.name_ranks = {"superkingdom"};
  STRAND_LOG_INFO("tasks build superkingdom: ", proteins.size(), " proteins, ", names.size(),
                  " organism names to look up; loading the NCBI taxonomy");
  const ann::NcbiTaxonomy tax = ann::NcbiTaxonomy::load(ctx.paths[1], ctx.paths[2], topt);
  std::map<std::string, int64_t> class_of;
  for (size_t c = 0; c < d.spec.classes.size(); ++c) class_of[d.spec.classes[c]] = static_cast<int64_t>(c);
  std::map<std::string, std::string> resolved;  // organism -> superkingdom name, "" = unresolved
  std::vector<Candidate> cands;
  int64_t exact = 0, shortened = 0;
  for (auto& p : proteins) {
    auto it = resolved.find(p.organism);
    if (it == resolved.end()) {
      std::string label;
      bool full = true;
      for (const auto& name : prefixes(p.organism)) {
        const auto ids = tax.lookup(name);
        if (!ids.empty()) {
          std::set<std::string> kingdoms;
          for (const int64_t id : ids) {
            const int64_t sk = tax.ancestor_with_rank(id, "superkingdom");
            kingdoms.insert(sk < 0 ? std::string() : tax.scientific_name(sk));
          }
          label = kingdoms.size() == 1 ? *kingdoms.begin() : std::string("\x01");  // \x01: ambiguous
          break;
        }
        full = false;
      }
      if (!label.empty() && label != "\x01") (full ? exact : shortened) += 1;
      it = resolved.emplace(p.organism, label).first;
    }
    const std::string& sk = it->second;
    if (sk.empty()) {
      ++d.dropped["organism not in the NCBI taxonomy"];
      continue;
    }
    if (sk == "\x01") {
      ++d.dropped["organism name in two superkingdoms"];
      continue;
    }
    const auto c = class_of.find(sk);
    if (c == class_of.end()) {
      ++d.dropped["superkingdom " + sk];
      continue;
    }
    Candidate x;
    x.id = p.accession;
    x.sequence = std::move(p.seq);
    x.label = c->second;
    cands.push_back(std::move(x));
  }
  cands = dedupe(std::move(cands), d.dropped);
  Rng rng = ctx.rng(0x5c1d);
  cap_candidates(cands, d.spec.classes.size(), ctx.options.max_per_class, rng);
  int64_t groups = 0;
  d.examples = group_candidates(std::move(cands), 5, groups);
  d.split_rule = near_identity_rule(5, "");
  d.spec.description = "Superkingdom of a UniProt protein, labelled from its OS= organism through the NCBI taxonomy "
                       "(emboss-data taxdump; trailing words of an unknown name are removed until it matches).";
  d.details["groups"] = groups;
  d.details["organisms"] = {{"distinct", resolved.size()},
                            {"matched_full_name", exact},
                            {"matched_after_removing_words", shortened}};
  d.details["taxonomy_nodes"] = tax.node_count();
  STRAND_LOG_INFO("tasks build superkingdom: ", d.examples.size(), " labelled distinct proteins in ", groups,
                  " groups");
  return d;
}

// ncrna-family. Source: Infernal's test-suite Stockholm alignments (infernal package): 4.sto
// (Rfam tRNA, Vault, snR75, Plant_SRP), 3.4.12.rf.stk (U1, U2, U3) and rnaseP-eubact.sto
// (bacterial RNase P RNA; the file has no #=GF ID, so the class is named after the file).
// Label: the alignment's #=GF ID. Sequences: gaps removed, upper case, RNA alphabet (T read as U;
// any other letter than ACGU becomes N). Duplicate sequences are kept once. Groups:
// near-identity clusters (7-mers). Natural class frequencies.
Draft build_ncrna_family(const Context& ctx) {
  Draft d;
  d.spec.kind = TaskKind::Classification;
  d.spec.alphabet = "rna";
  d.spec.metric = "mcc";
  std::vector<Candidate> cands;
  std::map<std::string, int64_t> class_index;
  int64_t ambiguous_bases = 0;
  for (size_t f = 0; f < ctx.paths.size(); ++f) {
    const auto alignments = ann::read_stockholm(ctx.paths[f]);
    for (const auto& a : alignments) {
      std::string family = a.gf_value("ID");
      if (family.empty()) {
        STRAND_CHECK(f == 2 && alignments.size() == 1, "task 'ncrna-family': an alignment in ", ctx.paths[f],
                     " (line ", a.line, ") has no #=GF ID");
        family = "RNaseP-eubact";
      }
      const auto [it, fresh] = class_index.emplace(family, static_cast<int64_t>(d.spec.classes.size()));
      STRAND_CHECK(fresh, "task 'ncrna-family': family ", family, " appears in two alignments");
      d.spec.classes.push_back(family);
      d.details["records"][family] = a.names.size();
      for (size_t i = 0; i < a.names.size(); ++i) {
        std::string seq = ann::ungapped_upper(a.rows[i]);
        for (char& c : seq) {
          if (c == 'T') c = 'U';
          if (c != 'A' && c != 'C' && c != 'G' && c != 'U') {
            c = 'N';
            ++ambiguous_bases;
          }
        }
        if (seq.empty()) {
          ++d.dropped["empty after removing gaps"];
          continue;
        }
        Candidate x;
        x.id = family + "|" + a.names[i];
        x.sequence = std::move(seq);
        x.label = it->second;
        cands.push_back(std::move(x));
      }
    }
  }
  cands = dedupe(std::move(cands), d.dropped);
  Rng rng = ctx.rng(0x4c5a);
  cap_candidates(cands, d.spec.classes.size(), ctx.options.max_per_class, rng);
  int64_t groups = 0;
  d.examples = group_candidates(std::move(cands), 7, groups);
  d.split_rule = near_identity_rule(7, "");
  d.spec.description = "Rfam family of an ncRNA sequence from Infernal's test alignments (gaps removed, RNA alphabet: "
                       "T read as U, other non-ACGU letters as N).";
  d.details["groups"] = groups;
  d.details["bases_set_to_N"] = ambiguous_bases;
  STRAND_LOG_INFO("tasks build ncrna-family: ", d.examples.size(), " distinct sequences in ", d.spec.classes.size(),
                  " families, ", groups, " groups");
  return d;
}

// tpsa. Source: RDKit's NCI test set with topological polar surface areas (rdkit-data
// first_5k.tpsa.csv: `SMILES,TPSA`, '#' comments; values from Daylight / Ertl's tpsa.c). The
// SMILES is kept as written; RDKit must parse it (else dropped). Molecules with the same RDKit
// canonical SMILES are kept once (dropped altogether when their TPSA values differ). Groups:
// Bemis–Murcko scaffolds (chem/scaffold.h); molecules without rings are grouped by their own
// canonical SMILES.
Draft build_tpsa(const Context& ctx) {
  Draft d;
  d.spec.kind = TaskKind::Regression;
  d.spec.alphabet = "smiles";
  d.spec.metric = "rmse";
  struct Row {
    std::string smiles;
    double tpsa;
    int64_t line;
  };
  std::vector<Row> rows;
  {
    strand::io::TextLines lines = strand::io::TextLines::open(ctx.paths[0]);
    std::string_view line;
    while (lines.next(line)) {
      if (line.empty() || line[0] == '#') continue;
      const size_t comma = line.rfind(',');
      const Location where{ctx.paths[0], lines.line_number(), ""};
      STRAND_CHECK_AT(ParseError, where, comma != std::string_view::npos && comma > 0,
                      "expected 'SMILES,TPSA', found '", line, "'");
      const std::string value(line.substr(comma + 1));
      double v = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      STRAND_CHECK_AT(ParseError, where, ec == std::errc() && p == value.data() + value.size() && v >= 0,
                      "expected a non-negative TPSA number after the comma, found '", value, "'");
      rows.push_back({std::string(line.substr(0, comma)), v, lines.line_number()});
    }
  }
  d.details["records"] = rows.size();
  if (ctx.options.max_per_class > 0 && static_cast<size_t>(ctx.options.max_per_class) < rows.size()) {
    Rng rng = ctx.rng(0x7b5a);
    std::vector<Row> kept;
    for (const size_t i : sample_indices(rows.size(), static_cast<size_t>(ctx.options.max_per_class), rng))
      kept.push_back(std::move(rows[i]));
    rows = std::move(kept);
  }
  struct Molecule {
    std::string canonical;
    size_t row;
    bool conflict = false;
  };
  std::vector<Molecule> mols;
  std::unordered_map<std::string, size_t> by_canonical;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!chem::is_valid_smiles(rows[i].smiles)) {
      ++d.dropped["SMILES RDKit cannot parse"];
      continue;
    }
    std::string canonical = chem::canonical_smiles(rows[i].smiles);
    const auto [it, fresh] = by_canonical.emplace(canonical, mols.size());
    if (!fresh) {
      Molecule& m = mols[it->second];
      if (rows[m.row].tpsa != rows[i].tpsa) {
        m.conflict = true;
        ++d.dropped["same molecule with two TPSA values (all copies dropped)"];
      } else {
        ++d.dropped["duplicate molecule (one copy kept)"];
      }
      continue;
    }
    mols.push_back({std::move(canonical), i});
  }
  std::set<std::string> scaffolds;
  int64_t acyclic = 0;
  for (const auto& m : mols) {
    if (m.conflict) {
      ++d.dropped["same molecule with two TPSA values (all copies dropped)"];
      continue;
    }
    const Row& r = rows[m.row];
    const std::string scaffold = chem::murcko_scaffold(r.smiles);
    TaskExample ex;
    ex.id = "line" + std::to_string(r.line);
    ex.sequence = r.smiles;
    ex.value = r.tpsa;
    if (scaffold.empty()) {
      ++acyclic;
      ex.group = "acyclic:" + m.canonical;
    } else {
      ex.group = "scaffold:" + scaffold;
      scaffolds.insert(scaffold);
    }
    d.examples.push_back(std::move(ex));
  }
  d.split_rule = "groups are Bemis-Murcko scaffolds (ring systems and linkers, RDKit canonical SMILES); molecules "
                 "without rings are their own group, so no scaffold is shared by two splits.";
  d.spec.description = "Topological polar surface area (Ertl et al. 2000; values from Daylight / Ertl's tpsa.c as "
                       "shipped by RDKit) of NCI molecules, regressed from the SMILES as written.";
  d.details["scaffolds"] = scaffolds.size();
  d.details["acyclic_molecules"] = acyclic;
  d.details["id_format"] = "lineN: line N of the source CSV";
  STRAND_LOG_INFO("tasks build tpsa: ", d.examples.size(), " molecules, ", scaffolds.size(), " scaffolds, ", acyclic,
                  " acyclic");
  return d;
}

}  // namespace strand::pipelines::task_detail
