// SAM/BAM/CRAM streaming and region queries over HTSlib.
#include <htslib/faidx.h>
#include <htslib/hts.h>
#include <htslib/sam.h>

#include <algorithm>

#include "bio/alphabet.h"
#include "bio/io/reader.h"
#include "libseq/core/error.h"

namespace strand::bio::io {
namespace {

class AlignmentReader final : public SequenceReader {
 public:
  AlignmentReader(const std::string& path, std::vector<std::string> regions, const ReadOptions& options)
      : SequenceReader(path, options), regions_(std::move(regions)) {
    fp_ = sam_open(path.c_str(), "r");
    if (fp_ == nullptr) throw_errno("cannot open", path);
    if (!options_.reference.empty()) {
      // CRAM decodes against this reference; for SAM/BAM it is harmless.
      if (hts_set_fai_filename(fp_, options_.reference.c_str()) != 0)
        throw InputError(path + ": cannot use reference '" + options_.reference + "' (missing or not a FASTA file)");
    }
    hdr_ = sam_hdr_read(fp_);
    if (hdr_ == nullptr) throw ParseError(Location{path, -1, ""}, "cannot read the SAM/BAM/CRAM header (damaged file?)");
    b_ = bam_init1();
    if (!regions_.empty()) {
      idx_ = sam_index_load(fp_, path.c_str());
      if (idx_ == nullptr)
        throw InputError(path + ": region queries need an index (.bai, .csi or .crai); create one with 'samtools index " +
                         path + "'");
      start_region();
    }
  }

  ~AlignmentReader() override {
    if (itr_ != nullptr) hts_itr_destroy(itr_);
    if (idx_ != nullptr) hts_idx_destroy(idx_);
    if (b_ != nullptr) bam_destroy1(b_);
    if (hdr_ != nullptr) sam_hdr_destroy(hdr_);
    if (fp_ != nullptr) sam_close(fp_);
  }

  bool next(SequenceRecord& r) override {
    for (;;) {
      int rc;
      if (regions_.empty()) {
        rc = sam_read1(fp_, hdr_, b_);
      } else {
        if (itr_ == nullptr) return finish();
        rc = sam_itr_next(fp_, itr_, b_);
        if (rc == -1) {
          ++region_;
          start_region();
          continue;
        }
      }
      if (rc == -1) return finish();
      ++index_;
      if (rc < -1)
        throw ParseError(Location{path_, -1, "record " + std::to_string(index_)},
                         "cannot read the file past this point: truncated or corrupt alignment data");
      const auto& c = b_->core;
      if ((c.flag & options_.required_flags) != options_.required_flags || (c.flag & options_.excluded_flags) != 0 ||
          c.qual < options_.min_mapq) {
        ++summary_.filtered;
        continue;
      }
      if (c.l_qseq == 0) {
        ++summary_.skipped["no sequence stored"];
        continue;
      }
      convert(r);
      ++summary_.records;
      return true;
    }
  }

 private:
  bool finish() {
    if (regions_.empty()) check_not_empty();
    return false;
  }

  void start_region() {
    if (itr_ != nullptr) {
      hts_itr_destroy(itr_);
      itr_ = nullptr;
    }
    if (region_ >= regions_.size()) return;
    const std::string& reg = regions_[region_];
    itr_ = sam_itr_querys(idx_, hdr_, reg.c_str());
    if (itr_ == nullptr)
      throw InputError(path_ + ": cannot query region '" + reg +
                       "' (unknown reference name or malformed region; expected name, name:beg or name:beg-end)");
  }

  void convert(SequenceRecord& r) {
    const auto& c = b_->core;
    r.name.assign(bam_get_qname(b_));
    r.comment.clear();
    const int32_t n = c.l_qseq;
    r.seq.resize(static_cast<size_t>(n));
    const uint8_t* s = bam_get_seq(b_);
    for (int32_t i = 0; i < n; ++i) r.seq[static_cast<size_t>(i)] = seq_nt16_str[bam_seqi(s, i)];
    const uint8_t* q = bam_get_qual(b_);
    if (n > 0 && q[0] == 0xff) {
      r.qual.clear();
    } else {
      r.qual.resize(static_cast<size_t>(n));
      for (int32_t i = 0; i < n; ++i) r.qual[static_cast<size_t>(i)] = static_cast<char>(q[i] + 33);
    }
    const bool reverse = (c.flag & BAM_FREVERSE) != 0;
    if (reverse && options_.original_orientation) {
      reverse_complement_in_place(r.seq);
      std::reverse(r.qual.begin(), r.qual.end());
    }
    r.source = c.tid >= 0 ? sam_hdr_tid2name(hdr_, c.tid) : "*";
    r.begin = c.pos >= 0 ? c.pos : 0;
    r.end = c.pos >= 0 ? bam_endpos(b_) : 0;
    r.strand = reverse ? '-' : '+';
    r.index = index_;
  }

  std::vector<std::string> regions_;
  size_t region_ = 0;
  samFile* fp_ = nullptr;
  sam_hdr_t* hdr_ = nullptr;
  bam1_t* b_ = nullptr;
  hts_idx_t* idx_ = nullptr;
  hts_itr_t* itr_ = nullptr;
  int64_t index_ = 0;
};

}  // namespace

std::unique_ptr<SequenceReader> open_alignments(const std::string& path, const std::vector<std::string>& regions,
                                                const ReadOptions& options) {
  return std::make_unique<AlignmentReader>(path, regions, options);
}

}  // namespace strand::bio::io
