// Region fetch from indexed FASTA (plain or bgzip) through HTSlib's faidx.
#include <htslib/faidx.h>

#include <cstdlib>
#include <fstream>
#include <memory>

#include "bio/io/reader.h"
#include "libseq/core/error.h"

namespace strand::bio::io {
namespace {

struct ParsedRegion {
  int tid;
  hts_pos_t begin;  // 0-based
  hts_pos_t end;    // exclusive, clipped to the sequence
};

class FastaRegionReader final : public SequenceReader {
 public:
  FastaRegionReader(const std::string& path, std::vector<std::string> regions, const ReadOptions& options)
      : SequenceReader(path, options), regions_(std::move(regions)) {
    // Builds <path>.fai (and .gzi for bgzip) next to the file when missing.
    fai_.reset(fai_load3(path.c_str(), nullptr, nullptr, FAI_CREATE));
    if (fai_ == nullptr)
      throw InputError(path + ": cannot load or build the FASTA index (.fai" +
                       std::string(" and, for bgzip files, .gzi) next to the file; is the directory writable, and is a "
                                   "compressed FASTA bgzip rather than gzip? ('bgzip -d' then 'bgzip' converts it)"));
    read_lengths();
    parsed_.reserve(regions_.size());
    for (const std::string& reg : regions_) parsed_.push_back(parse(reg));
  }

  bool next(SequenceRecord& r) override {
    if (next_ >= regions_.size()) return false;
    const std::string& reg = regions_[next_];
    const ParsedRegion& p = parsed_[next_++];
    const char* name = faidx_iseq(fai_.get(), p.tid);
    hts_pos_t got = 0;
    char* seq = faidx_fetch_seq64(fai_.get(), name, p.begin, p.end - 1, &got);
    if (seq == nullptr || got != p.end - p.begin) {
      free(seq);
      throw ParseError(Location{path_, -1, "region '" + reg + "'"},
                       "cannot read the sequence: the FASTA does not match its index (damaged file or stale .fai?)");
    }
    r.seq.assign(seq, static_cast<size_t>(got));
    free(seq);
    r.name = reg;
    r.comment.clear();
    r.qual.clear();
    r.source = name;
    r.begin = p.begin;
    r.end = p.end;
    r.strand = '+';
    r.index = static_cast<int64_t>(next_);
    ++summary_.records;
    return true;
  }

 private:
  // Sequence lengths from the .fai text: htslib 1.16's faidx_seq_len returns int, too small for
  // sequences of 2^31 bases or more.
  void read_lengths() {
    const int n = faidx_nseq(fai_.get());
    lengths_.assign(static_cast<size_t>(n), -1);
    std::ifstream fai(path_ + ".fai");
    std::string line;
    for (int i = 0; i < n && std::getline(fai, line); ++i) {
      const size_t tab = line.find('\t');
      if (tab == std::string::npos || line.compare(0, tab, faidx_iseq(fai_.get(), i)) != 0) break;
      lengths_[static_cast<size_t>(i)] = std::strtoll(line.c_str() + tab + 1, nullptr, 10);
    }
    for (int i = 0; i < n; ++i) {
      int64_t& length = lengths_[static_cast<size_t>(i)];
      if (length < 0) length = faidx_seq_len(fai_.get(), faidx_iseq(fai_.get(), i));
    }
  }

  ParsedRegion parse(const std::string& reg) const {
    const Location where{path_, -1, "region '" + reg + "'"};
    int tid = -1;
    hts_pos_t beg = 0, end = 0;
    const char* rest = fai_parse_region(fai_.get(), reg.c_str(), &tid, &beg, &end, 0);
    if (rest == nullptr || *rest != '\0' || tid < 0) throw InputError(where, why_unparsable(reg));
    const hts_pos_t length = lengths_[static_cast<size_t>(tid)];
    if (beg >= length)
      throw InputError(where, std::string("starts after the end of '") + faidx_iseq(fai_.get(), tid) + "' (length " +
                                  std::to_string(length) + ")");
    if (end > length) end = length;  // clipped, as samtools faidx does
    return {tid, beg, end};
  }

  std::string why_unparsable(const std::string& reg) const {
    const std::string syntax = "expected name, name:beg or name:beg-end (1-based, inclusive)";
    const size_t colon = reg.rfind(':');
    const std::string name = reg.substr(0, colon);
    if (!faidx_has_seq(fai_.get(), reg.c_str()) && !faidx_has_seq(fai_.get(), name.c_str())) {
      const int n = faidx_nseq(fai_.get());
      return "unknown sequence name '" + name + "' (this file has " + std::to_string(n) + " sequences" +
             (n > 0 ? std::string(", the first '") + faidx_iseq(fai_.get(), 0) + "'" : std::string()) + ")";
    }
    std::string range;
    for (const char c : reg.substr(colon + 1))
      if (c != ',') range += c;
    char* dash = nullptr;
    const long long beg = std::strtoll(range.c_str(), &dash, 10);
    if (dash != range.c_str() && *dash == '-') {
      char* tail = nullptr;
      const long long end = std::strtoll(dash + 1, &tail, 10);
      if (tail != dash + 1 && *tail == '\0' && beg > end) return "the region starts after its end; " + syntax;
    }
    return "malformed region; " + syntax;
  }

  std::vector<std::string> regions_;
  std::vector<ParsedRegion> parsed_;
  std::vector<int64_t> lengths_;
  size_t next_ = 0;
  struct Close {
    void operator()(faidx_t* f) const { fai_destroy(f); }
  };
  std::unique_ptr<faidx_t, Close> fai_;
};

}  // namespace

std::unique_ptr<SequenceReader> open_fasta_regions(const std::string& path, const std::vector<std::string>& regions,
                                                   const ReadOptions& options) {
  return std::make_unique<FastaRegionReader>(path, regions, options);
}

}  // namespace strand::bio::io
