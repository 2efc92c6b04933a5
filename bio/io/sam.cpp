// SAM/BAM/CRAM streaming and region queries over HTSlib.
#include <htslib/faidx.h>
#include <htslib/hts.h>
#include <htslib/sam.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bio/io/reader.h"
#include "libseq/core/error.h"

namespace strand::bio::io {
namespace {

class AlignmentReader final : public SequenceReader {
 public:
  AlignmentReader(const std::string& path, std::vector<std::string> regions, const ReadOptions& options)
      : SequenceReader(path, options), regions_(std::move(regions)) {
    h_.fp = sam_open(path.c_str(), "r");
    if (h_.fp == nullptr) throw_errno("cannot open", path);
    // A BAM cut at a BGZF block boundary (or a CRAM cut between containers) reads without error
    // up to the cut; only the missing end-of-file marker tells that records were lost.
    if (hts_check_EOF(h_.fp) == 0) {
      const char* container = hts_get_format(h_.fp)->format == cram ? "CRAM" : "BGZF";
      throw ParseError(Location{path, -1, ""},
                       std::string("the ") + container + " end-of-file marker is missing: the file is truncated");
    }
    if (!options_.reference.empty()) {
      // Checked here because htslib leaks its reference cache when it fails to open the file.
      if (access(options_.reference.c_str(), R_OK) != 0)
        throw InputError(path + ": cannot read the reference '" + options_.reference + "': " + std::strerror(errno));
      // CRAM decodes against this reference; for SAM/BAM it is harmless.
      if (hts_set_fai_filename(h_.fp, options_.reference.c_str()) != 0)
        throw InputError(path + ": cannot use reference '" + options_.reference + "' (missing or not a FASTA file)");
    }
    h_.hdr = sam_hdr_read(h_.fp);
    if (h_.hdr == nullptr)
      throw ParseError(Location{path, -1, ""}, "cannot read the SAM/BAM/CRAM header (damaged file?)");
    h_.b = bam_init1();
    if (!regions_.empty()) {
      h_.idx = sam_index_load(h_.fp, path.c_str());
      if (h_.idx == nullptr)
        throw InputError(path + ": region queries need an index (.bai, .csi or .crai); create one with " +
                         "'samtools index " + path + "'");
      start_region();
    }
  }

  bool next(SequenceRecord& r) override {
    for (;;) {
      int rc;
      if (regions_.empty()) {
        rc = sam_read1(h_.fp, h_.hdr, h_.b);
      } else {
        if (h_.itr == nullptr) return finish();
        rc = sam_itr_next(h_.fp, h_.itr, h_.b);
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
      const auto& c = h_.b->core;
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
    if (h_.itr != nullptr) {
      hts_itr_destroy(h_.itr);
      h_.itr = nullptr;
    }
    if (region_ >= regions_.size()) return;
    const std::string& reg = regions_[region_];
    h_.itr = sam_itr_querys(h_.idx, h_.hdr, reg.c_str());
    if (h_.itr == nullptr)
      throw InputError(path_ + ": cannot query region '" + reg +
                       "' (unknown reference name or malformed region; expected name, name:beg or name:beg-end)");
  }

  void convert(SequenceRecord& r) {
    const auto& c = h_.b->core;
    r.name.assign(bam_get_qname(h_.b));
    r.comment.clear();
    const auto n = static_cast<size_t>(c.l_qseq);
    const bool reverse = (c.flag & BAM_FREVERSE) != 0;
    const bool flip = reverse && options_.original_orientation;
    r.seq.resize(n);
    const uint8_t* s = bam_get_seq(h_.b);
    if (flip) {
      // In 4-bit codes (=ACMGRSVTWYHKDBN) the complement is the bit reversal: A=1<->T=8, C=2<->G=4.
      static constexpr char kComplement[] = "=TGKCYSBAWRDMHVN";
      for (size_t i = 0; i < n; ++i) r.seq[n - 1 - i] = kComplement[bam_seqi(s, i)];
    } else {
      for (size_t i = 0; i < n; ++i) r.seq[i] = seq_nt16_str[bam_seqi(s, i)];
    }
    const uint8_t* q = bam_get_qual(h_.b);
    if (n > 0 && q[0] == 0xff) {
      r.qual.clear();
    } else {
      r.qual.resize(n);
      for (size_t i = 0; i < n; ++i) r.qual[flip ? n - 1 - i : i] = static_cast<char>(q[i] + 33);
    }
    r.source = c.tid >= 0 ? sam_hdr_tid2name(h_.hdr, c.tid) : "*";
    r.begin = c.pos >= 0 ? c.pos : 0;
    r.end = c.pos >= 0 ? bam_endpos(h_.b) : 0;
    r.strand = reverse ? '-' : '+';
    r.index = index_;
  }

  std::vector<std::string> regions_;
  size_t region_ = 0;
  // Owns the htslib handles, so they are released also when the constructor throws.
  struct Handles {
    samFile* fp = nullptr;
    sam_hdr_t* hdr = nullptr;
    bam1_t* b = nullptr;
    hts_idx_t* idx = nullptr;
    hts_itr_t* itr = nullptr;
    Handles() = default;
    Handles(const Handles&) = delete;
    Handles& operator=(const Handles&) = delete;
    ~Handles() {
      if (itr != nullptr) hts_itr_destroy(itr);
      if (idx != nullptr) hts_idx_destroy(idx);
      if (b != nullptr) bam_destroy1(b);
      if (hdr != nullptr) sam_hdr_destroy(hdr);
      if (fp != nullptr) sam_close(fp);
    }
  };
  Handles h_;
  int64_t index_ = 0;
};

}  // namespace

std::unique_ptr<SequenceReader> open_alignments(const std::string& path, const std::vector<std::string>& regions,
                                                const ReadOptions& options) {
  return std::make_unique<AlignmentReader>(path, regions, options);
}

}  // namespace strand::bio::io
