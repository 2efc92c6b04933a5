// DNA window tasks: ecoli-cds, fly-coding, fly-promoter.
#include <algorithm>
#include <map>
#include <set>

#include "bio/alphabet.h"
#include "bio/annotation/genbank.h"
#include "bio/annotation/gff.h"
#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "pipelines/task_builders_internal.h"

namespace strand::pipelines::task_detail {

namespace ann = strand::bio::annotation;

namespace {

std::string region_id(const std::string& seq, int64_t begin, int64_t end) {
  return seq + ":" + std::to_string(begin + 1) + "-" + std::to_string(end);
}

// GFF3 types that describe the sequence itself rather than a feature on it.
bool is_container_type(const std::string& type) {
  static const std::set<std::string> kTypes = {"region", "source", "chromosome", "contig", "supercontig",
                                               "databank_entry", "sequence_region", "scaffold"};
  return kTypes.count(type) != 0;
}

}  // namespace

// ecoli-cds. Source: Prokka's annotation of an E. coli draft assembly (any2fasta-examples
// test.gff.gz: 226 contigs, 4,611 Prodigal CDS, 77 tRNA, 12 rRNA, 1 tmRNA, with the contigs in
// ##FASTA). Positives: windows lying entirely inside one CDS. Negatives: windows lying entirely
// in a gap between two annotated features on the same contig (gaps at contig ends are not
// "between genes" and are left out). Both are tiled without overlap from a random offset and read
// on the contig's forward strand; windows with a base other than ACGT are dropped.
// Groups: each contig is cut into blocks of consecutive features (a feature or a cluster of
// overlapping features is never cut); a block closes once it spans block_bp (default 20 kb), and
// the gap after a block's last feature belongs to that block. No window and no gene therefore
// straddles two splits. Balanced per split.
Draft build_ecoli_cds(const Context& ctx) {
  const int64_t w = ctx.window(200);
  const int64_t block_bp = ctx.block_bp(20000);
  const ann::Gff3 gff = ann::read_gff3(ctx.paths[0]);
  STRAND_CHECK(!gff.sequences.empty(), "task 'ecoli-cds': ", ctx.paths[0],
               " has no ##FASTA section (the contig sequences are needed)");
  Draft d;
  d.spec.kind = TaskKind::Classification;
  d.spec.alphabet = "dna";
  d.spec.classes = {"cds", "intergenic"};
  d.spec.metric = "mcc";
  Rng rng = ctx.rng(0xec011);
  std::map<std::string, std::vector<const ann::GffFeature*>> by_contig;
  for (const auto& f : gff.features)
    if (!is_container_type(f.type)) by_contig[f.seqid].push_back(&f);
  int64_t n_cds = 0, n_blocks = 0;
  for (const auto& contig : gff.sequences) {
    auto it = by_contig.find(contig.name);
    if (it == by_contig.end()) continue;
    std::string seq = contig.seq;
    upper_in_place(seq);
    std::vector<Interval> occupied;
    for (const auto* f : it->second) occupied.push_back({f->begin, f->end});
    const std::vector<Interval> loci = merge_intervals(occupied);
    // Block of each locus (merged feature cluster).
    std::vector<int64_t> block(loci.size());
    int64_t b = 0, block_start = loci.empty() ? 0 : loci.front().begin;
    for (size_t i = 0; i < loci.size(); ++i) {
      if (i > 0 && loci[i - 1].end - block_start >= block_bp) {
        ++b;
        block_start = loci[i].begin;
      }
      block[i] = b;
    }
    n_blocks += loci.empty() ? 0 : b + 1;
    auto group_of = [&](int64_t pos) {  // block of the locus containing or preceding pos
      const auto p = std::upper_bound(loci.begin(), loci.end(), pos,
                                      [](int64_t x, const Interval& iv) { return x < iv.begin; });
      STRAND_ASSERT(p != loci.begin(), "position before the first locus");
      return contig.name + ":block" + std::to_string(block[static_cast<size_t>(p - loci.begin() - 1)]);
    };
    std::set<std::pair<int64_t, int64_t>> seen;  // overlapping CDSs can yield the same window
    for (const auto* f : it->second) {
      if (f->type != "CDS") continue;
      ++n_cds;
      for (const int64_t s : tile_windows({f->begin, f->end}, w, rng)) {
        const std::string_view win(seq.data() + s, static_cast<size_t>(w));
        if (!is_acgt(win)) {
          ++d.dropped["window with a base other than ACGT"];
          continue;
        }
        if (!seen.insert({s, s + w}).second) continue;
        TaskExample ex;
        ex.id = region_id(contig.name, s, s + w) + "|cds|" + f->attribute("ID") + "|" + std::string(1, f->strand);
        ex.sequence = std::string(win);
        ex.label = 0;
        ex.group = group_of(s);
        d.examples.push_back(std::move(ex));
      }
    }
    for (size_t i = 0; i + 1 < loci.size(); ++i) {
      for (const int64_t s : tile_windows({loci[i].end, loci[i + 1].begin}, w, rng)) {
        const std::string_view win(seq.data() + s, static_cast<size_t>(w));
        if (!is_acgt(win)) {
          ++d.dropped["window with a base other than ACGT"];
          continue;
        }
        TaskExample ex;
        ex.id = region_id(contig.name, s, s + w) + "|intergenic";
        ex.sequence = std::string(win);
        ex.label = 1;
        ex.group = contig.name + ":block" + std::to_string(block[i]);
        d.examples.push_back(std::move(ex));
      }
    }
  }
  d.balance = true;
  d.split_rule = "groups are blocks of whole consecutive genes on a contig (a new block starts once a block spans " +
                 std::to_string(block_bp) + " bp; the intergenic gap after a block's last feature belongs to it), so " +
                 "no gene, window or flank is shared by two splits.";
  d.spec.description = "E. coli (Prokka annotation of a draft assembly) " + std::to_string(w) +
                       " bp windows on the contig forward strand: 'cds' lies inside one annotated CDS, 'intergenic' " +
                       "lies in a gap between two annotated features (CDS, tRNA, rRNA, tmRNA) of a contig.";
  d.details = {{"window", w},
               {"block_bp", block_bp},
               {"cds_features", n_cds},
               {"blocks", n_blocks},
               {"orientation", "contig forward strand"},
               {"id_format", "contig:start-end|cds|CDS_ID|strand or contig:start-end|intergenic (1-based, inclusive)"}};
  STRAND_LOG_INFO("tasks build ecoli-cds: ", n_cds, " CDS on ", gff.sequences.size(), " contigs in ", n_blocks,
                  " blocks; ", d.examples.size(), " candidate windows");
  return d;
}

// fly-coding. Source: the AUGUSTUS tutorial's D. melanogaster training genes (augustus-doc
// genes.gb.train / genes.gb.test: 486 + 100 GenBank loci, each a gene with up to 1 kb of flank,
// coordinates on chr2R.2M-7M, CDS given as join(...)). Positives: windows entirely inside one CDS
// exon (a part of the CDS location). Negatives: windows entirely outside every CDS part of the
// locus (introns, UTRs and flanks). Locus forward strand, tiled without overlap, ACGT only.
// Split: the shipped train/test loci; valid is carved from the train loci. Group = locus.
// Balanced per split.
Draft build_fly_coding(const Context& ctx) {
  const int64_t w = ctx.window(200);
  Draft d;
  d.preset = true;
  d.spec.kind = TaskKind::Classification;
  d.spec.alphabet = "dna";
  d.spec.classes = {"coding", "noncoding"};
  d.spec.metric = "mcc";
  Rng rng = ctx.rng(0xf1c0d);
  std::set<std::string> train_loci;
  int64_t loci_count[2] = {0, 0};
  for (int split = 0; split < 2; ++split) {
    const auto records = ann::read_genbank(ctx.paths[static_cast<size_t>(split)]);
    auto& out = split == 0 ? d.preset_train : d.preset_test;
    for (const auto& r : records) {
      if (split == 0) {
        STRAND_CHECK(train_loci.insert(r.name).second, "task 'fly-coding': locus ", r.name, " appears twice in ",
                     ctx.paths[0]);
      } else {
        STRAND_CHECK(train_loci.count(r.name) == 0, "task 'fly-coding': locus ", r.name, " is in both ", ctx.paths[0],
                     " and ", ctx.paths[1]);
      }
      std::vector<Interval> cds;
      for (const auto& f : r.features)
        if (f.key == "CDS")
          for (const auto& p : f.parts) cds.push_back({p.begin, p.end});
      if (cds.empty()) {
        ++d.dropped["locus without a CDS"];
        continue;
      }
      ++loci_count[split];
      std::string seq = r.sequence;
      upper_in_place(seq);
      const std::vector<Interval> exons = merge_intervals(cds);
      auto emit = [&](const Interval& iv, int64_t label) {
        for (const int64_t s : tile_windows(iv, w, rng)) {
          const std::string_view win(seq.data() + s, static_cast<size_t>(w));
          if (!is_acgt(win)) {
            ++d.dropped["window with a base other than ACGT"];
            continue;
          }
          TaskExample ex;
          ex.id = region_id(r.name, s, s + w) + "|" + d.spec.classes[static_cast<size_t>(label)];
          ex.sequence = std::string(win);
          ex.label = label;
          ex.group = r.name;
          out.push_back(std::move(ex));
        }
      };
      for (const auto& e : exons) emit(e, 0);
      for (const auto& gap : subtract_intervals({0, static_cast<int64_t>(seq.size())}, exons)) emit(gap, 1);
    }
  }
  d.balance = true;
  d.split_rule = "train and test are the AUGUSTUS tutorial's own gene split (genes.gb.train: " +
                 std::to_string(loci_count[0]) + " loci, genes.gb.test: " + std::to_string(loci_count[1]) +
                 " loci); groups are gene loci (gene + flanks), so no locus is shared by two splits.";
  d.spec.description = "D. melanogaster " + std::to_string(w) +
                       " bp windows from gene loci (gene with up to 1 kb flanks) on the locus forward strand: 'coding' "
                       "lies inside one CDS exon, 'noncoding' lies outside every CDS exon (introns, UTRs, flanks).";
  d.details = {{"window", w},
               {"loci", {{"train", loci_count[0]}, {"test", loci_count[1]}}},
               {"orientation", "locus forward strand"},
               {"id_format", "locus:start-end|class (1-based, inclusive, locus coordinates)"}};
  STRAND_LOG_INFO("tasks build fly-coding: ", loci_count[0], " + ", loci_count[1], " loci; ",
                  d.preset_train.size() + d.preset_test.size(), " candidate windows");
  return d;
}

// fly-promoter. Positives: the `window` bp (default 300) immediately upstream of each RefSeq
// transcription start on chr2R, read in the direction of transcription, from Biostrings'
// dm3_upstream2000.fa.gz (headers `NM_xxx_up_2000_chr2R_START_f chr2R:START-END`; f: the 2 kb
// end at the TSS - 1 on '+', r: reverse complement, the TSS is START - 1 on '-'). Every record's
// sequence is checked against augustus-doc chr2R.fa (same UCSC dm3 assembly); identical windows
// from alternative transcripts are kept once. Negatives: windows of chr2R that overlap no
// upstream-2000 interval widened by 1 kb on each side (so neither promoters nor the first kb
// after a TSS), drawn in each block as many as it has positives, on a random strand.
// Groups: chr2R blocks of block_bp (default 200 kb); windows crossing a block edge are dropped.
// Balanced per split.
Draft build_fly_promoter(const Context& ctx) {
  const int64_t w = ctx.window(300);
  const int64_t block_bp = ctx.block_bp(200000);
  constexpr int64_t kUpstream = 2000;
  constexpr int64_t kMargin = 1000;
  STRAND_CHECK(w <= kUpstream, "task 'fly-promoter': the window (", w, ") cannot exceed the ", kUpstream,
               " bp the upstream file holds");
  STRAND_CHECK(block_bp >= 10 * w, "task 'fly-promoter': --block-bp (", block_bp, ") must be at least 10 windows");
  Draft d;
  d.spec.kind = TaskKind::Classification;
  d.spec.alphabet = "dna";
  d.spec.classes = {"promoter", "nonpromoter"};
  d.spec.metric = "mcc";
  std::string chrom;
  {
    auto reader = bio::io::open_sequences(ctx.paths[1]);
    bio::io::SequenceRecord rec;
    while (reader->next(rec))
      if (rec.name == "chr2R") chrom = rec.seq;
    STRAND_CHECK(!chrom.empty(), "task 'fly-promoter': ", ctx.paths[1], " has no record named chr2R");
    upper_in_place(chrom);
  }
  const auto chrom_len = static_cast<int64_t>(chrom.size());
  struct Positive {
    int64_t begin;  // genome window
    char strand;
    std::string name;
    std::string seq;  // in the direction of transcription
  };
  std::map<std::pair<int64_t, char>, Positive> positives;
  std::vector<Interval> exclusion;
  int64_t records = 0, on_chrom = 0;
  {
    auto reader = bio::io::open_sequences(ctx.paths[0]);
    bio::io::SequenceRecord rec;
    while (reader->next(rec)) {
      ++records;
      // comment "chr2R:16764737-16766736"; name ends in _f or _r
      const size_t colon = rec.comment.find(':');
      if (rec.comment.substr(0, colon) != "chr2R") continue;
      ++on_chrom;
      const auto where = [&] {
        return Location{ctx.paths[0], -1, "record '" + rec.name + "'"};
      };
      const size_t dash = rec.comment.find('-', colon);
      STRAND_CHECK_AT(ParseError, where(), colon != std::string::npos && dash != std::string::npos,
                      "expected 'chrom:start-end' after the name, found '", rec.comment, "'");
      int64_t a = 0, b = 0;
      try {
        a = std::stoll(rec.comment.substr(colon + 1, dash - colon - 1));
        b = std::stoll(rec.comment.substr(dash + 1));
      } catch (const std::exception&) {
        throw ParseError(where(), "expected numeric coordinates in '" + rec.comment + "'");
      }
      const char orient = rec.name.size() > 2 && rec.name[rec.name.size() - 2] == '_' ? rec.name.back() : '?';
      STRAND_CHECK_AT(ParseError, where(), orient == 'f' || orient == 'r',
                      "expected the name to end in _f or _r (strand), found '", rec.name, "'");
      STRAND_CHECK_AT(ParseError, where(), a >= 1 && b <= chrom_len && b - a + 1 == kUpstream &&
                                               static_cast<int64_t>(rec.seq.size()) == kUpstream,
                      "expected ", kUpstream, " bp inside chr2R (", chrom_len, " bp), found ", rec.comment, " with ",
                      rec.seq.size(), " bases");
      std::string seq = rec.seq;
      upper_in_place(seq);
      std::string genome = chrom.substr(static_cast<size_t>(a - 1), static_cast<size_t>(kUpstream));
      if (orient == 'r') genome = bio::reverse_complement(genome);
      STRAND_CHECK_AT(ParseError, where(), genome == seq, "the sequence differs from ", ctx.paths[1], " at ",
                      rec.comment, ": the two files are not the same assembly (both should be UCSC dm3)");
      exclusion.push_back({a - 1 - kMargin, b + kMargin});
      // The last `w` bases of the record are the ones next to the TSS, on either strand.
      const int64_t begin = orient == 'f' ? b - w : a - 1;
      Positive p{begin, orient == 'f' ? '+' : '-', rec.name, seq.substr(static_cast<size_t>(kUpstream - w))};
      positives.emplace(std::make_pair(begin, p.strand), std::move(p));
    }
  }
  STRAND_CHECK(!positives.empty(), "task 'fly-promoter': ", ctx.paths[0], " has no chr2R record");
  d.dropped["alternative transcript with the same promoter window"] = on_chrom - static_cast<int64_t>(positives.size());
  exclusion = merge_intervals(exclusion);
  const int64_t n_blocks = (chrom_len + block_bp - 1) / block_bp;
  std::vector<int64_t> per_block(static_cast<size_t>(n_blocks), 0);
  auto block_name = [](int64_t b) { return "chr2R:block" + std::to_string(b); };
  for (const auto& [key, p] : positives) {
    const int64_t blk = p.begin / block_bp;
    if ((p.begin + w - 1) / block_bp != blk) {
      ++d.dropped["promoter window crossing a block edge"];
      continue;
    }
    if (!is_acgt(p.seq)) {
      ++d.dropped["window with a base other than ACGT"];
      continue;
    }
    TaskExample ex;
    ex.id = region_id("chr2R", p.begin, p.begin + w) + "|" + std::string(1, p.strand) + "|promoter|" + p.name;
    ex.sequence = p.seq;
    ex.label = 0;
    ex.group = block_name(blk);
    d.examples.push_back(std::move(ex));
    ++per_block[static_cast<size_t>(blk)];
  }
  Rng rng = ctx.rng(0xf1c9e);
  int64_t short_blocks = 0;
  for (int64_t blk = 0; blk < n_blocks; ++blk) {
    const int64_t want = per_block[static_cast<size_t>(blk)];
    if (want == 0) continue;
    const Interval block{blk * block_bp, std::min(chrom_len, (blk + 1) * block_bp)};
    std::vector<int64_t> starts;
    for (const auto& iv : subtract_intervals(block, exclusion))
      for (const int64_t s : tile_windows(iv, w, rng))
        if (is_acgt(std::string_view(chrom.data() + s, static_cast<size_t>(w)))) starts.push_back(s);
    if (static_cast<int64_t>(starts.size()) < want) ++short_blocks;
    for (const size_t i : sample_indices(starts.size(), static_cast<size_t>(want), rng)) {
      const int64_t s = starts[i];
      const bool minus = rng.uniform(2) == 1;
      TaskExample ex;
      ex.sequence = chrom.substr(static_cast<size_t>(s), static_cast<size_t>(w));
      if (minus) ex.sequence = bio::reverse_complement(ex.sequence);
      ex.id = region_id("chr2R", s, s + w) + "|" + (minus ? "-" : "+") + "|nonpromoter";
      ex.label = 1;
      ex.group = block_name(blk);
      d.examples.push_back(std::move(ex));
    }
  }
  d.balance = true;
  d.split_rule = "groups are " + std::to_string(block_bp) + " bp blocks of chr2R; windows crossing a block edge are "
                 "dropped, so no window or promoter is shared by two splits.";
  d.spec.description = "D. melanogaster (dm3) chr2R " + std::to_string(w) +
                       " bp windows: 'promoter' is the sequence just upstream of a RefSeq transcription start, read "
                       "towards the TSS; 'nonpromoter' is a window overlapping no 2 kb upstream region widened by 1 kb, "
                       "on a random strand, drawn in each block as often as the block has promoters.";
  d.details = {{"window", w},
               {"block_bp", block_bp},
               {"upstream_records", records},
               {"upstream_records_on_chr2R", on_chrom},
               {"exclusion_margin_bp", kMargin},
               {"blocks_short_of_negatives", short_blocks},
               {"id_format", "chr2R:start-end|strand|class[|transcript] (1-based, inclusive, genome coordinates)"}};
  STRAND_LOG_INFO("tasks build fly-promoter: ", on_chrom, " chr2R upstream records, ", positives.size(),
                  " distinct promoter windows; ", d.examples.size(), " windows in all");
  return d;
}

}  // namespace strand::pipelines::task_detail
