// Region fetch from indexed FASTA (plain or bgzip) through HTSlib's faidx.
#include <htslib/faidx.h>

#include <cstdlib>

#include "bio/io/reader.h"
#include "libseq/core/error.h"

namespace strand::bio::io {
namespace {

class FastaRegionReader final : public SequenceReader {
 public:
  FastaRegionReader(const std::string& path, std::vector<std::string> regions, const ReadOptions& options)
      : SequenceReader(path, options), regions_(std::move(regions)) {
    // Builds <path>.fai (and .gzi for bgzip) next to the file when missing.
    fai_ = fai_load3(path.c_str(), nullptr, nullptr, FAI_CREATE);
    if (fai_ == nullptr)
      throw InputError(path + ": cannot load or build the FASTA index (.fai" +
                       std::string(" and, for bgzip files, .gzi) next to the file; is the directory writable, and is a "
                                   "compressed FASTA bgzip rather than gzip? ('bgzip -d' then 'bgzip' converts it)"));
  }
  ~FastaRegionReader() override {
    if (fai_ != nullptr) fai_destroy(fai_);
  }

  bool next(SequenceRecord& r) override {
    if (next_ >= regions_.size()) return false;
    const std::string& reg = regions_[next_++];
    hts_pos_t beg = 0, end = 0;
    int tid = -1;
    const char* rest = fai_parse_region(fai_, reg.c_str(), &tid, &beg, &end, 0);
    if (rest == nullptr || *rest != '\0' || tid < 0) {
      throw InputError(path_ + ": region '" + reg + "': unknown sequence name or malformed region (expected name, " +
                       "name:beg or name:beg-end, 1-based; this file has " + std::to_string(faidx_nseq(fai_)) +
                       " sequences, the first '" + faidx_iseq(fai_, 0) + "')");
    }
    const char* name = faidx_iseq(fai_, tid);
    const hts_pos_t length = faidx_seq_len(fai_, name);
    if (beg >= length)
      throw InputError(path_ + ": region '" + reg + "' starts after the end of '" + name + "' (length " +
                       std::to_string(length) + ")");
    if (end > length) end = length;  // clipped, as samtools faidx does
    hts_pos_t got = 0;
    char* seq = faidx_fetch_seq64(fai_, name, beg, end - 1, &got);
    if (seq == nullptr || got < 0) {
      free(seq);
      throw ParseError(Location{path_, -1, "region '" + reg + "'"}, "cannot read the sequence (damaged file or index?)");
    }
    r.seq.assign(seq, static_cast<size_t>(got));
    free(seq);
    r.name = reg;
    r.comment.clear();
    r.qual.clear();
    r.source = name;
    r.begin = beg;
    r.end = beg + got;
    r.strand = '+';
    r.index = static_cast<int64_t>(next_);
    ++summary_.records;
    return true;
  }

 private:
  std::vector<std::string> regions_;
  size_t next_ = 0;
  faidx_t* fai_ = nullptr;
};

}  // namespace

std::unique_ptr<SequenceReader> open_fasta_regions(const std::string& path, const std::vector<std::string>& regions,
                                                   const ReadOptions& options) {
  return std::make_unique<FastaRegionReader>(path, regions, options);
}

}  // namespace strand::bio::io
