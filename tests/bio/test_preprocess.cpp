// Spectrum preprocessing (Casanovo v5 order and defaults) on hand-made spectra, and the
// sinusoidal encodings against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "bio/spectra/preprocess.h"

namespace sp = strand::bio::spectra;

namespace {

sp::Spectrum spectrum(std::vector<double> mz, std::vector<double> intensity, double precursor_mz = 500, int charge = 2) {
  sp::Spectrum s;
  s.mz = std::move(mz);
  s.intensity = std::move(intensity);
  s.precursor_mz = precursor_mz;
  s.precursor_charge = charge;
  return s;
}

}  // namespace

TEST(Preprocess, RangePrecursorSqrtFloorTopAndNorm) {
  sp::PreprocessOptions o;
  o.min_peaks = 1;
  o.max_peaks = 3;
  // Precursor 500 m/z at 2+: neutral (500 - 1.007825) * 2; its peaks sit at 500.0 (2+) and
  // 998.992175 (1+), each cleared within 2 Da.
  auto s = spectrum({40, 120, 200, 300, 499, 501.9, 700, 997.5, 1001.5, 2600},
                    {100, 400, 16, 0.0001, 900, 900, 100, 900, 900, 900});
  ASSERT_EQ(sp::preprocess(s, o), "");
  // Left after steps 1-2: 120 (400), 200 (16), 300 (1e-4), 700 (100), 1001.5 (900).
  // sqrt / max: 120 -> 20/30, 200 -> 4/30, 300 -> 0.01/30 (below the 0.01 floor), 700 -> 10/30,
  // 1001.5 -> 1. The three most intense, in m/z order: 120, 700, 1001.5.
  EXPECT_EQ(s.mz, (std::vector<double>{120, 700, 1001.5}));
  const double norm = std::sqrt(20.0 * 20 + 10 * 10 + 30 * 30);
  ASSERT_EQ(s.intensity.size(), 3u);
  EXPECT_NEAR(s.intensity[0], 20 / norm, 1e-12);
  EXPECT_NEAR(s.intensity[1], 10 / norm, 1e-12);
  EXPECT_NEAR(s.intensity[2], 30 / norm, 1e-12);
}

TEST(Preprocess, RejectsWithAReason) {
  sp::PreprocessOptions o;
  std::vector<double> mz;
  std::vector<double> in;
  for (int i = 0; i < 19; ++i) {
    mz.push_back(100 + 10 * i);
    in.push_back(1);
  }
  auto few = spectrum(mz, in);
  EXPECT_EQ(sp::preprocess(few, o), "19 peaks after filtering, fewer than 20");
  mz.push_back(400);
  in.push_back(1);
  auto enough = spectrum(mz, in);
  EXPECT_EQ(sp::preprocess(enough, o), "");
  EXPECT_EQ(enough.mz.size(), 20u);
  auto charge5 = spectrum(mz, in, 500, 5);
  EXPECT_EQ(sp::preprocess(charge5, o), "charge 5 outside 1..4");
  auto charge0 = spectrum(mz, in, 500, 0);
  EXPECT_EQ(sp::preprocess(charge0, o), "charge 0 outside 1..4");
  auto ms1 = spectrum(mz, in);
  ms1.ms_level = 1;
  EXPECT_EQ(sp::preprocess(ms1, o), "MS level 1");
}

TEST(Preprocess, SinusoidalEncodingByHand) {
  float out[5];
  // d = 4: sin at wavelengths 1 and 100, then cos at 1 and 100.
  sp::sinusoidal_encode(0.25, 4, 1, 100, out);
  EXPECT_NEAR(out[0], 1.0, 1e-7);
  EXPECT_NEAR(out[1], std::sin(2 * M_PI * 0.25 / 100), 1e-7);
  EXPECT_NEAR(out[1], 0.01570731, 1e-7);
  EXPECT_NEAR(out[2], 0.0, 1e-7);
  EXPECT_NEAR(out[3], 0.99987663, 1e-7);
  // d = 5: three sines (wavelengths 1, 10, 100) and two cosines (1, 100).
  sp::sinusoidal_encode(2.5, 5, 1, 100, out);
  EXPECT_NEAR(out[0], 0.0, 1e-6);                                  // sin(5 pi)
  EXPECT_NEAR(out[1], 1.0, 1e-6);                                  // sin(pi / 2)
  EXPECT_NEAR(out[2], std::sin(2 * M_PI * 2.5 / 100), 1e-7);
  EXPECT_NEAR(out[3], -1.0, 1e-6);                                 // cos(5 pi)
  EXPECT_NEAR(out[4], std::cos(2 * M_PI * 2.5 / 100), 1e-7);
}

TEST(Preprocess, EncodingKeepsTheFinestWavelengthAtHighMz) {
  // 1999.9995 / 0.001 = 1,999,999.5 periods: the finest sine is sin(3,999,999 pi) = 0. In float
  // the m/z alone would be off by up to 6e-5, a phase error of 0.4 rad.
  float out[512];
  sp::sinusoidal_encode(1999.9995, 512, sp::kMzLambdaMin, sp::kMzLambdaMax, out);
  EXPECT_NEAR(out[0], 0.0, 1e-4);
  EXPECT_NEAR(out[256], -1.0, 1e-4);  // cos(3,999,999 pi)
}
