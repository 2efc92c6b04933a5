#include "bio/spectra/preprocess.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "bio/spectra/masses.h"
#include "libseq/core/error.h"

namespace strand::bio::spectra {
namespace {

/// Keeps the peaks whose index has keep[i] set, in order.
void keep_peaks(Spectrum& s, const std::vector<char>& keep) {
  size_t n = 0;
  for (size_t i = 0; i < s.mz.size(); ++i) {
    if (!keep[i]) continue;
    s.mz[n] = s.mz[i];
    s.intensity[n] = s.intensity[i];
    ++n;
  }
  s.mz.resize(n);
  s.intensity.resize(n);
}

}  // namespace

std::string preprocess(Spectrum& s, const PreprocessOptions& o) {
  STRAND_ASSERT(s.mz.size() == s.intensity.size(), "spectrum with ", s.mz.size(), " m/z values and ",
                s.intensity.size(), " intensities");
  if (s.ms_level != 2) return "MS level " + std::to_string(s.ms_level);
  const int z = s.precursor_charge;
  if (z < 1 || z > o.max_charge) return "charge " + std::to_string(z) + " outside 1.." + std::to_string(o.max_charge);
  if (!(s.precursor_mz > 0)) return "no precursor m/z";
  std::vector<char> keep(s.mz.size());
  const double neutral = (s.precursor_mz - kHydrogen) * z;
  for (size_t i = 0; i < s.mz.size(); ++i) {
    const double mz = s.mz[i];
    bool ok = mz >= o.min_mz && mz <= o.max_mz;
    for (int c = z; c >= 1 && ok && o.remove_precursor_tol > 0; --c)
      ok = std::abs(mz - (neutral / c + kHydrogen)) > o.remove_precursor_tol;
    keep[i] = ok;
  }
  keep_peaks(s, keep);
  double top = 0;
  for (double& v : s.intensity) {
    v = std::sqrt(std::max(v, 0.0));
    top = std::max(top, v);
  }
  if (top > 0)
    for (double& v : s.intensity) v /= top;
  // Peaks above the intensity floor, the most intense max_peaks of them.
  std::vector<size_t> order;
  for (size_t i = 0; i < s.mz.size(); ++i)
    if (top > 0 && s.intensity[i] > o.min_intensity) order.push_back(i);
  if (static_cast<int64_t>(order.size()) > o.max_peaks) {
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.intensity[a] > s.intensity[b]; });
    order.resize(static_cast<size_t>(o.max_peaks));
  }
  std::fill(keep.begin(), keep.end(), 0);
  keep.resize(s.mz.size());
  for (const size_t i : order) keep[i] = 1;
  keep_peaks(s, keep);
  if (static_cast<int>(s.mz.size()) < o.min_peaks)
    return std::to_string(s.mz.size()) + " peaks after filtering, fewer than " + std::to_string(o.min_peaks);
  double norm = 0;
  for (const double v : s.intensity) norm += v * v;
  norm = std::sqrt(norm);
  if (norm > 0)
    for (double& v : s.intensity) v /= norm;
  return {};
}

void sinusoidal_encode(double x, int d, double lambda_min, double lambda_max, float* out) {
  STRAND_ASSERT(d >= 2 && lambda_min > 0 && lambda_max > lambda_min, "bad sinusoidal encoding parameters");
  const int n_sin = (d + 1) / 2;
  const int n_cos = d - n_sin;
  const double ratio = lambda_max / lambda_min;
  const double two_pi = 2 * M_PI;
  const auto wavelength = [&](int k, int n) {
    return n == 1 ? lambda_min : lambda_min * std::pow(ratio, static_cast<double>(k) / (n - 1));
  };
  for (int k = 0; k < n_sin; ++k) out[k] = static_cast<float>(std::sin(two_pi * x / wavelength(k, n_sin)));
  for (int k = 0; k < n_cos; ++k) out[n_sin + k] = static_cast<float>(std::cos(two_pi * x / wavelength(k, n_cos)));
}

}  // namespace strand::bio::spectra
