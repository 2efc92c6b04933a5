// mzTab 1.0.0 (HUPO-PSI, 2014) output of de novo peptide-spectrum matches, in the layout Casanovo
// v5 writes (shared reference: denovo.md §3.5, §5.3): mzTab-mode Summary, mzTab-type
// Identification, a metadata (MTD) section and one PSM section (PSH header, PSM rows), fields
// separated by tabs, "null" for missing values.
//
// Metadata, in the order of the specification's metadata table:
//   mzTab-version 1.0.0, mzTab-mode Summary, mzTab-type Identification, description;
//   software[1]: [MS, MS:1003281, Casanovo, <version>] when the software is named "Casanovo",
//     otherwise a user parameter [, , <name>, <version>] (no CV term exists for other tools);
//     the version defaults to strand::version(), with "+<git hash>" when the hash is known;
//   software[1]-setting[i]: "command_line = <command line>" first (when given), then every
//     setting as "<key> = <value>";
//   psm_search_engine_score[1]: [MS, MS:1001143, search engine specific score for PSMs, ];
//   fixed_mod[i] / variable_mod[i] with -site (the residue letter or "N-term") and -position
//     ("Anywhere" or "Any N-term"): one entry per modification token of the ResidueTable, fixed
//     ones (the residue has no unmodified token) as fixed_mod, the others as variable_mod, in
//     table order. A modification whose name and mass shift (to 0.001 Da) are those of a known
//     UNIMOD entry is [UNIMOD, UNIMOD:<id>, <name>, ]; any other is
//     [CHEMMOD, CHEMMOD:<signed mass>, <name>, ] (the spec's CHEMMOD:<mass> with a non-empty name,
//     which parsers such as jmzTab require). No modification of a kind: [MS, MS:1002453, No fixed
//     modifications searched, ] / [MS, MS:1002454, No variable modifications searched, ];
//   ms_run[k]-location: file:///<absolute path, percent-encoded>; a location that already is a
//     URI ("scheme://...") is written as given. MGF runs (*.mgf, *.mgf.gz) also get -format
//     [MS, MS:1001062, Mascot MGF format, ] and -id_format [MS, MS:1000774, multiple peak list
//     nativeID format, ] (whose native id is "index=<n>"), mzML runs -format [MS, MS:1000584,
//     mzML format, ].
//
// PSM columns, in order: sequence, PSM_ID, accession, unique, database, database_version,
// search_engine, search_engine_score[1], modifications, retention_time, charge,
// exp_mass_to_charge, calc_mass_to_charge, spectra_ref, pre, post, start, end,
// opt_global_aa_scores, opt_global_cv_MS:1003169_proforma_peptidoform_sequence, and
// opt_global_cv_MS:1003057_scan_number when any PSM has scans (null in the rows without).
//   sequence        the residues' one-letter codes (no modifications)
//   PSM_ID          1-based, in output order
//   accession, unique, database, database_version, pre, post, start, end: null (de novo)
//   search_engine   the software[1] parameter
//   modifications   the specification's position notation, "<position>-<accession>" joined by
//                   ",": position 0 is the N-terminus, residues count from 1, e.g.
//                   "0-UNIMOD:1,5-UNIMOD:35", "0-CHEMMOD:+25.980265". Fixed modifications are
//                   listed too (the peptide cannot be rebuilt without them); "null" when the
//                   peptide has none. The reference's Casanovo example "0-Acetyl (N-term):UNIMOD:1;
//                   5-Oxidation (M):UNIMOD:35" is not valid mzTab 1.0 (names and ";" are not
//                   part of the grammar) and is not used.
//   retention_time  seconds, when known; else null
//   exp_mass_to_charge, calc_mass_to_charge: m/z with at least 6 decimals (more when needed to
//                   round-trip the double); calc = mz_of(peptide_mass(tokens), charge)
//   spectra_ref     "ms_run[k]:index=<n>" (0-based spectrum index) when the PSM has no native id
//                   (MGF), "ms_run[k]:<native id>" (mzML, e.g. "scan=17") otherwise
//   opt_global_aa_scores  per-residue scores, N- to C-terminal, 5 decimals, joined by ","
//   opt_global_cv_MS:1003169_proforma_peptidoform_sequence  the token strings joined
//                   (ResidueTable::format): "[Acetyl]-PEPTM[Oxidation]IDEC[Carbamidomethyl]K"
//   opt_global_cv_MS:1003057_scan_number  "ms_run[k]:scan=<scans>" (as the reference specifies)
// Scores print in the shortest form that round-trips ("NaN", "INF", "-INF" for non-finite
// values, as the specification spells them). Rows are sorted by (run, spectrum index); PSMs of
// one spectrum keep their input order.
//
// Free text (description, settings, command line, software name/version, native ids, scans) may
// not contain tabs or line breaks: each tab, CR or LF is replaced by a space. Inside a
// [label, accession, name, value] parameter a name or value containing ',' is double-quoted
// (as the specification asks) and '"' is replaced by '\'' ('|' by '/', the list separator).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bio/spectra/masses.h"
#include "bio/spectra/spectrum.h"

namespace strand::bio::spectra {

/// One peptide-spectrum match.
struct Psm {
  int64_t spectrum_index = 0;       ///< 0-based position of the spectrum in its run
  std::string native_id;            ///< mzML native id ("scan=17"); empty for MGF (index= reference)
  int run = 1;                      ///< 1-based ms_run index (MztabHeader::runs[run - 1])
  std::string scans;                ///< scan number(s) as read (MGF SCANS, mzML scan=); empty if unknown
  int charge = 0;                   ///< precursor charge (> 0)
  double exp_mz = 0;                ///< observed precursor m/z
  std::vector<int> tokens;          ///< predicted tokens, N-terminal modification first (ResidueTable::parse)
  double score = 0;                 ///< peptide score (search_engine_score[1])
  /// Per-residue scores, N- to C-terminal, one per residue (not per token): the score of an
  /// N-terminal modification token is folded into the first residue's by the caller (Casanovo
  /// reports the modification and its residue as one amino acid). Empty: written as null.
  std::vector<double> aa_scores;
  double retention_time_s = -1;     ///< < 0 = unknown (null)
};

/// A Psm with the spectrum's identity filled in: index, scans, charge, precursor m/z, retention
/// time, and the native id when `native_id` (mzML runs; MGF runs are referenced by index).
Psm psm_for_spectrum(const Spectrum& spectrum, int run, bool native_id);

/// What the metadata section says about the run.
struct MztabHeader {
  std::string description = "De novo peptide-spectrum matches";  ///< empty: this default
  std::string software_name = "Strand";
  std::string software_version;  ///< empty: strand::version() (+ "+<git hash>" when known)
  /// Spectrum files, ms_run[1..n]: paths (made absolute, written as file:// URIs) or URIs.
  std::vector<std::string> runs;
  /// Settings echoed as software[1]-setting[i] "key = value", in this order.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string command_line;  ///< empty: not written
};

/// The whole mzTab document as text. InputError for a PSM whose run is not in header.runs, whose
/// charge is not positive, whose tokens are not in `table` or hold no residue, or whose
/// aa_scores (when given) do not number one per residue; also when header.runs is empty.
std::string format_mztab(const MztabHeader& header, const ResidueTable& table, const std::vector<Psm>& psms);

/// Writes format_mztab's document to `path` atomically (io::AtomicFile: nothing appears at `path`
/// unless the whole file was written). IoError when the file cannot be written (for example a
/// missing directory), InputError as format_mztab.
void write_mztab(const std::string& path, const MztabHeader& header, const ResidueTable& table,
                 const std::vector<Psm>& psms);

/// The structural rules of mzTab 1.0 that jmzTab checks, for Summary/Identification files with a
/// PSM section. Returns one message per problem ("line N: ..."); empty = valid. Checked:
///   - every non-blank line starts with MTD, COM, PRH, PRT, PEH, PEP, PSH, PSM, SMH or SML;
///   - MTD lines: exactly three fields, a well-formed key (positive [n] indices), a non-empty
///     value, no duplicate key, all before the first table section; the mandatory keys
///     mzTab-version (1.0.0), mzTab-mode (Summary/Complete), mzTab-type
///     (Identification/Quantification), description, ms_run[k]-location (a URI) for at least one
///     run, fixed_mod[n] and variable_mod[n] (at least one each), software[n] in Complete mode,
///     psm_search_engine_score[n] for each search_engine_score[n] column; parameter values of
///     software, fixed_mod, variable_mod and *_search_engine_score as [label, accession, name,
///     value] with a name;
///   - a table header (PRH/PEH/PSH/SMH) at most once, before its rows; each row with exactly as
///     many fields as its header;
///   - the PSH: the required columns present once each and in the specification's order
///     (search_engine_score[1..n] numbered from 1; reliability and uri optional), any optional
///     column named opt_{global|ms_run[n]|assay[n]|study_variable[n]}_..., after them;
///   - PSM fields: sequence of letters, PSM_ID an integer, unique null/0/1, numbers (or null,
///     NaN, INF) in search_engine_score[n], exp_mass_to_charge, calc_mass_to_charge and
///     retention_time ('|'-separated), charge and start/end integers or null, modifications null,
///     "0" or a list of <positions>-{UNIMOD|MOD|CHEMMOD|SUBST}:<id> with positions within the
///     peptide, spectra_ref a '|'-list of ms_run[k]:<ref> with ms_run[k] declared.
std::vector<std::string> validate_mztab(const std::string& text);

}  // namespace strand::bio::spectra
