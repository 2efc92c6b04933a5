#include "bio/spectra/spectrum.h"

#include <algorithm>
#include <cctype>

#include "libseq/core/error.h"

namespace strand::bio::spectra {

void SpectrumReader::skip(const std::string& reason, const std::string& where, const std::string& detail) {
  ++stats_.skipped;
  ++stats_.reasons[reason];
  if (stats_.first_skipped.empty()) stats_.first_skipped = where + ": " + detail;
}

SpectrumFormat spectrum_format(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".gz")) name.resize(name.size() - 3);
  if (ends_with(".mgf")) return SpectrumFormat::Mgf;
  if (ends_with(".mzml")) return SpectrumFormat::Mzml;
  if (ends_with(".dta")) return SpectrumFormat::Dta;
  throw InputError("'" + path +
                   "': unknown spectrum file type (expected a name ending in .mgf, .mzML or .dta, optionally .gz)");
}

std::unique_ptr<SpectrumReader> open_spectra(const std::string& path) {
  switch (spectrum_format(path)) {
    case SpectrumFormat::Mgf: return open_mgf(path);
    case SpectrumFormat::Mzml: return open_mzml(path);
    case SpectrumFormat::Dta: return open_dta(path);
  }
  throw InternalError("unhandled spectrum format");
}

}  // namespace strand::bio::spectra
