// Spectrum preprocessing and the sinusoidal peak and precursor encodings of the de novo model.
//
// preprocess() follows Casanovo v5 (shared reference: denovo.md §1.2), in this order:
//   1. keep peaks with min_mz <= m/z <= max_mz
//   2. remove precursor peaks: for every charge c = z .. 1, drop peaks within remove_precursor_tol
//      Da of neutral / c + H, where neutral = (precursor m/z - H) * z and H is the hydrogen atom
//      mass (1.007825, as spectrum_utils does)
//   3. intensities to their square root, scaled so that the largest is 1
//   4. drop peaks with intensity <= min_intensity * max, then keep the max_peaks most intense
//      (ties: the lower m/z first), in m/z order
//   5. fewer than min_peaks peaks left: the spectrum is rejected
//   6. intensities divided by their L2 norm
// and rejects spectra whose charge is outside [1, max_charge] or that are not MS2.
//
// Encodings (depthcharge's FloatEncoder, §1.3): a value x becomes d features,
//   [sin(2 pi x / l_k)]_{k < ceil(d/2)} followed by [cos(2 pi x / l_k)]_{k < d - ceil(d/2)},
// with wavelengths l_k = lambda_min * (lambda_max / lambda_min)^(k / (n - 1)) over each half's own
// count n. Computed in double precision and rounded to float at the end: at m/z above 1,000 a
// float's spacing is a sizeable fraction of the shortest wavelength (0.001).
#pragma once

#include <string>

#include "bio/spectra/spectrum.h"

namespace strand::bio::spectra {

struct PreprocessOptions {
  double min_mz = 50.0;
  double max_mz = 2500.0;
  double remove_precursor_tol = 2.0;  ///< Da; 0 keeps the precursor peaks
  double min_intensity = 0.01;        ///< relative to the most intense peak, after the square root
  int max_peaks = 150;
  int min_peaks = 20;
  int max_charge = 4;
};

/// Preprocesses `s` in place. Returns an empty string when the spectrum is kept, else the reason
/// it is rejected ("charge 0 outside 1..4", "12 peaks after filtering, fewer than 20", "MS level 1").
std::string preprocess(Spectrum& s, const PreprocessOptions& options = {});

/// Wavelength bounds of depthcharge's encoders: m/z 0.001 .. 10,000; intensity 1e-6 .. 1.
constexpr double kMzLambdaMin = 0.001;
constexpr double kMzLambdaMax = 10000.0;
constexpr double kIntensityLambdaMin = 1e-6;
constexpr double kIntensityLambdaMax = 1.0;

/// Writes the d sinusoidal features of x to out[0 .. d-1]. d >= 2.
void sinusoidal_encode(double x, int d, double lambda_min, double lambda_max, float* out);

}  // namespace strand::bio::spectra
