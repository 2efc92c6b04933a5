// Tandem mass spectra and the streaming readers of MGF and mzML files.
//
// A reader returns one spectrum at a time and never holds more than the spectrum being read (and
// the text of one mzML <spectrum> element), so files of any size stream in bounded memory.
//
// Bad records are skipped and counted (ReadStats: per reason, with the location of the first
// one); problems that leave the rest of the file unreadable -- a file that ends inside a
// spectrum, corrupt gzip data, XML that is not well formed -- throw ParseError naming the file,
// the line or spectrum, what was expected and what was found. A file that cannot be opened throws
// IoError. Readers are not thread-safe: one per thread.
//
// Field sources:
//   MGF (Matrix Science):  BEGIN IONS .. END IONS; TITLE, PEPMASS=m/z [intensity], CHARGE=2+ (or
//                          "2", "2+ and 3+": the first charge), SCANS, RTINSECONDS, SEQ (peptide
//                          annotation as written: ProForma "M[Oxidation]" or mass deltas
//                          "M+15.995"); peak lines "m/z intensity [charge]". Other keys are ignored.
//   DTA (SEQUEST):         one spectrum per file: a first line "[M+H]+ charge" (singly protonated
//                          mass, charge), then peak lines. The id is the file name without extension.
//   mzML 1.1 (HUPO-PSI):   spectrum@id / @index / @defaultArrayLength; cvParams MS:1000511 ms level,
//                          MS:1000016 scan start time (seconds or minutes), the first selectedIon's
//                          MS:1000744 selected ion m/z, MS:1000041 charge state (else MS:1000633
//                          possible charge state), MS:1000042 peak intensity; binaryDataArrays with
//                          MS:1000514 m/z / MS:1000515 intensity, MS:1000521 32-bit / MS:1000523
//                          64-bit float, MS:1000576 no compression / MS:1000574 zlib.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace strand::bio::spectra {

struct Spectrum {
  std::string id;                   ///< MGF: TITLE, else the index as text; mzML: the native id
  int64_t index = 0;                ///< 0-based position among the file's spectra (skipped ones counted)
  int ms_level = 2;                 ///< MGF spectra are MS/MS (2)
  double precursor_mz = 0;          ///< 0 = not given
  double precursor_intensity = 0;   ///< 0 = not given
  int precursor_charge = 0;         ///< 0 = not given
  double retention_time_s = -1;     ///< < 0 = not given
  std::string scans;                ///< MGF SCANS; mzML: the "scan=" number of the id; empty if none
  std::string peptide;              ///< annotation (MGF SEQ), as written; empty if none
  std::vector<double> mz;           ///< peak m/z, in file order
  std::vector<double> intensity;    ///< peak intensities, index-aligned with mz
};

/// What a reader has returned and skipped so far.
struct ReadStats {
  int64_t spectra = 0;                     ///< returned by next()
  int64_t skipped = 0;                     ///< bad records left out
  std::map<std::string, int64_t> reasons;  ///< reason -> records skipped for it
  std::string first_skipped;               ///< location and message of the first skipped record
};

class SpectrumReader {
 public:
  virtual ~SpectrumReader() = default;
  /// Reads the next spectrum into `out`; false at the end of the file.
  virtual bool next(Spectrum& out) = 0;
  const ReadStats& stats() const noexcept { return stats_; }
  /// The path or in-memory source name errors mention.
  virtual const std::string& source() const noexcept = 0;

 protected:
  /// Counts a skipped record: `reason` is a short fixed text (the key of ReadStats::reasons),
  /// `where` and `detail` locate and explain it for ReadStats::first_skipped.
  void skip(const std::string& reason, const std::string& where, const std::string& detail);

  ReadStats stats_;
};

/// Largest number of peaks a spectrum may have (a bound on memory per record; larger ones are
/// skipped as bad records).
constexpr int64_t kMaxPeaks = int64_t{1} << 24;

/// MGF file (plain, gzip or bgzip).
std::unique_ptr<SpectrumReader> open_mgf(const std::string& path);
/// MGF text held in memory (tests, fuzzing); `source` names it in errors.
std::unique_ptr<SpectrumReader> open_mgf_text(std::string text, std::string source);
/// DTA file (plain or gzip).
std::unique_ptr<SpectrumReader> open_dta(const std::string& path);
/// DTA text held in memory.
std::unique_ptr<SpectrumReader> open_dta_text(std::string text, std::string source);
/// mzML file (plain or gzip), indexed or not.
std::unique_ptr<SpectrumReader> open_mzml(const std::string& path);
/// mzML text held in memory.
std::unique_ptr<SpectrumReader> open_mzml_text(std::string text, std::string source);
enum class SpectrumFormat { Mgf, Mzml, Dta };
/// The format a file name says: *.mgf, *.mzML or *.dta (any case, optionally .gz). InputError for
/// anything else.
SpectrumFormat spectrum_format(const std::string& path);
/// The reader of spectrum_format(path).
std::unique_ptr<SpectrumReader> open_spectra(const std::string& path);

}  // namespace strand::bio::spectra
