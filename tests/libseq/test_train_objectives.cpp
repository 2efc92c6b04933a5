// Training objectives: CLM loss against a hand computation, MLM corruption statistics (selection
// rate, 80/10/10 split, span lengths) with tolerances derived from their standard deviations,
// pads / N never selected, and reverse complement of padded DNA batches.
#include "libseq/train/objectives.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "libseq/core/error.h"

namespace {

using strand::train::kIgnoreIndex;
using strand::train::MlmMaskOptions;

// The "char" DNA vocabulary: <pad>0 <unk>1 <cls>2 <eos>3 <mask>4 A5 C6 G7 T8 N9.
constexpr int64_t kPad = 0, kCls = 2, kEos = 3, kMask = 4, kA = 5, kC = 6, kG = 7, kT = 8, kN = 9;

at::Tensor complement_map() {
  // A<->T, C<->G; specials and N map to themselves.
  return at::tensor(std::vector<int64_t>{0, 1, 2, 3, 4, kT, kG, kC, kA, kN}, at::kLong);
}

double log_sum_exp(const std::vector<double>& v) {
  double m = v[0];
  for (double x : v) m = std::max(m, x);
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

TEST(ClmLoss, MatchesHandComputationOn2x3) {
  // logits[b][t] over V = 3; row 0 has three real tokens, row 1 two and a pad.
  const std::vector<std::vector<std::vector<double>>> z = {{{1.0, 2.0, 0.5}, {0.0, -1.0, 3.0}, {2.0, 2.0, 2.0}},
                                                           {{-0.5, 0.25, 1.5}, {4.0, 0.0, -2.0}, {9.0, 9.0, 9.0}}};
  const std::vector<std::vector<int64_t>> ids = {{0, 2, 1}, {1, 0, 0}};
  const std::vector<std::vector<bool>> real = {{true, true, true}, {true, true, false}};
  std::vector<float> flat;
  for (const auto& row : z)
    for (const auto& pos : row)
      for (double v : pos) flat.push_back(static_cast<float>(v));
  const at::Tensor logits = at::tensor(flat).reshape({2, 3, 3}).requires_grad_();
  const at::Tensor id_t = at::tensor(std::vector<int64_t>{0, 2, 1, 1, 0, 0}, at::kLong).reshape({2, 3});
  const at::Tensor mask = at::tensor(std::vector<uint8_t>{1, 1, 1, 1, 1, 0}).to(at::kBool).reshape({2, 3});

  // Hand computation: position t predicts ids[t + 1] when both are real.
  double sum = 0;
  int count = 0;
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t + 1 < 3; ++t)
      if (real[b][t] && real[b][t + 1]) {
        sum += log_sum_exp(z[b][t]) - z[b][t][ids[b][t + 1]];
        ++count;
      }
  ASSERT_EQ(count, 3);

  const auto loss = strand::train::clm_loss(logits, id_t, mask);
  EXPECT_EQ(loss.count.item<int64_t>(), 3);
  EXPECT_EQ(loss.mean.scalar_type(), at::kFloat);
  EXPECT_EQ(loss.sum.scalar_type(), at::kDouble);
  // float32 log-softmax of O(1) logits: relative error a few ulp of float.
  EXPECT_NEAR(loss.sum.item<double>(), sum, 1e-5 * sum);
  EXPECT_NEAR(loss.mean.item<double>(), sum / 3, 1e-5 * sum / 3);
  loss.mean.backward();
  // The last position of each row and the pad predict nothing: zero gradient there.
  EXPECT_TRUE(logits.grad().select(1, 2).eq(0).all().item<bool>());
  EXPECT_TRUE(logits.grad().select(0, 1).select(0, 1).eq(0).all().item<bool>());
  EXPECT_FALSE(logits.grad().select(0, 0).select(0, 0).eq(0).all().item<bool>());
}

TEST(ClmLoss, LeftPaddingNeverPredictsTheFirstRealToken) {
  const at::Tensor logits = at::randn({1, 4, 5});
  const at::Tensor ids = at::tensor(std::vector<int64_t>{0, 3, 4, 1}, at::kLong).reshape({1, 4});
  const at::Tensor mask = at::tensor(std::vector<uint8_t>{0, 1, 1, 1}).to(at::kBool).reshape({1, 4});
  EXPECT_EQ(strand::train::clm_loss(logits, ids, mask).count.item<int64_t>(), 2);
}

TEST(ClmLoss, EmptyTargetsGiveZeroNotNan) {
  const at::Tensor logits = at::randn({2, 3, 4}).requires_grad_();
  const at::Tensor ids = at::zeros({2, 3}, at::kLong);
  const at::Tensor mask = at::zeros({2, 3}, at::kBool);
  const auto loss = strand::train::clm_loss(logits, ids, mask);
  EXPECT_EQ(loss.count.item<int64_t>(), 0);
  EXPECT_EQ(loss.mean.item<float>(), 0.0f);
  loss.mean.backward();
  EXPECT_TRUE(logits.grad().eq(0).all().item<bool>());
}

TEST(ClmLoss, RejectsBadInput) {
  const at::Tensor logits = at::randn({2, 3, 4});
  const at::Tensor ids = at::zeros({2, 3}, at::kLong);
  const at::Tensor mask = at::ones({2, 3}, at::kBool);
  EXPECT_THROW(strand::train::clm_loss(logits.reshape({6, 4}), ids, mask), strand::ShapeError);
  EXPECT_THROW(strand::train::clm_loss(logits, ids.to(at::kInt), mask), strand::ShapeError);
  EXPECT_THROW(strand::train::clm_loss(logits, ids, mask.to(at::kLong)), strand::ShapeError);
  EXPECT_THROW(strand::train::clm_loss(logits, at::zeros({2, 4}, at::kLong), at::ones({2, 4}, at::kBool)),
               strand::ShapeError);
  EXPECT_THROW(strand::train::clm_loss(logits, ids.fill_(4), mask), strand::InputError);  // id 4 >= V
}

TEST(MlmLoss, ScoresOnlyLabelledPositions) {
  const at::Tensor logits = at::randn({2, 4, 6}, at::kDouble);
  const at::Tensor labels =
      at::tensor(std::vector<int64_t>{kIgnoreIndex, 3, kIgnoreIndex, 5, 0, kIgnoreIndex, kIgnoreIndex, 2}, at::kLong)
          .reshape({2, 4});
  const auto loss = strand::train::mlm_loss(logits, labels);
  double expected = 0;
  const auto lp = at::log_softmax(logits, -1);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 4; ++t) {
      const int64_t y = labels[b][t].item<int64_t>();
      if (y != kIgnoreIndex) expected -= lp[b][t][y].item<double>();
    }
  EXPECT_EQ(loss.count.item<int64_t>(), 4);
  // The loss runs in float32 from double logits: float rounding only.
  EXPECT_NEAR(loss.sum.item<double>(), expected, 1e-5 * std::fabs(expected));
  EXPECT_THROW(strand::train::mlm_loss(logits, labels.masked_fill(labels.eq(5), 6)), strand::InputError);
}

// A DNA batch with varying lengths, N runs and pads.
struct DnaBatch {
  at::Tensor ids;
  at::Tensor maskable;
};

DnaBatch make_dna_batch(int64_t batch, int64_t length, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor ids = at::randint(kA, kT + 1, {batch, length}, gen, at::kLong);
  // Every 17th base is N.
  ids.masked_fill_(at::arange(length, at::kLong).remainder(17).eq(3).unsqueeze(0).expand_as(ids), kN);
  const at::Tensor lengths = at::randint(length / 2, length + 1, {batch}, gen, at::kLong);
  const at::Tensor real = at::arange(length, at::kLong).unsqueeze(0) < lengths.unsqueeze(1);
  ids.masked_fill_(real.logical_not(), kPad);
  return {ids, real & ids.ne(kN)};
}

MlmMaskOptions dna_options() {
  MlmMaskOptions o;
  o.mask_token_id = kMask;
  o.random_lo = kA;
  o.random_hi = kT + 1;
  return o;
}

TEST(MlmMask, SelectionRateAnd80_10_10Split) {
  const auto batch = make_dna_batch(256, 512, 11);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto out = strand::train::mlm_mask(batch.ids, batch.maskable, dna_options(), gen);

  const at::Tensor selected = out.labels.ne(kIgnoreIndex);
  const double n = batch.maskable.sum().item<double>();
  const double k = selected.sum().item<double>();
  ASSERT_GT(n, 50000);
  // Binomial(n, 0.15): sd = sqrt(0.15 * 0.85 / n) ~ 0.0011 for n ~ 1e5; 5 sd. The at-least-one
  // rule adds at most 0.85^200 per row here (rows hold >= 240 maskable positions): negligible.
  const double sd_rate = std::sqrt(0.15 * 0.85 / n);
  EXPECT_NEAR(k / n, 0.15, 5 * sd_rate);

  // Split among the k selected positions. A random replacement draws one of the 4 bases, so
  // 1/4 of the "random" 10% keep their base: P(mask) = 0.8, P(changed to another base) =
  // 0.1 * 3/4 = 0.075, P(unchanged) = 0.1 + 0.1 / 4 = 0.125. Binomial sd sqrt(q (1 - q) / k), 5 sd.
  const at::Tensor in_sel = out.input_ids.masked_select(selected);
  const at::Tensor orig_sel = batch.ids.masked_select(selected);
  const double masked = in_sel.eq(kMask).sum().item<double>() / k;
  const double changed = (in_sel.ne(kMask) & in_sel.ne(orig_sel)).sum().item<double>() / k;
  const double kept = in_sel.eq(orig_sel).sum().item<double>() / k;
  EXPECT_NEAR(masked, 0.8, 5 * std::sqrt(0.8 * 0.2 / k));
  EXPECT_NEAR(changed, 0.075, 5 * std::sqrt(0.075 * 0.925 / k));
  EXPECT_NEAR(kept, 0.125, 5 * std::sqrt(0.125 * 0.875 / k));
  // Random replacements are bases.
  const at::Tensor replaced = in_sel.masked_select(in_sel.ne(kMask));
  EXPECT_TRUE((replaced.ge(kA) & replaced.le(kT)).all().item<bool>());
  // Labels hold the original ids.
  EXPECT_TRUE(out.labels.masked_select(selected).equal(orig_sel));
}

TEST(MlmMask, PadsSpecialsAndNNeverSelectedOrChanged) {
  for (const double span : {1.0, 4.0}) {
    const auto batch = make_dna_batch(64, 300, 3);
    auto options = dna_options();
    options.mean_span_length = span;
    options.select_prob = 0.3;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
    const auto out = strand::train::mlm_mask(batch.ids, batch.maskable, options, gen);
    const at::Tensor fixed = batch.maskable.logical_not();
    EXPECT_TRUE(out.labels.masked_select(fixed).eq(kIgnoreIndex).all().item<bool>()) << "span " << span;
    EXPECT_TRUE(out.input_ids.masked_select(fixed).equal(batch.ids.masked_select(fixed))) << "span " << span;
    // Unselected maskable positions are unchanged too.
    const at::Tensor untouched = batch.maskable & out.labels.eq(kIgnoreIndex);
    EXPECT_TRUE(out.input_ids.masked_select(untouched).equal(batch.ids.masked_select(untouched)));
    EXPECT_GT(batch.ids.eq(kN).sum().item<int64_t>(), 0);
    EXPECT_GT(batch.ids.eq(kPad).sum().item<int64_t>(), 0);
  }
}

TEST(MlmMask, AtLeastOnePositionPerRowWithAMaskablePosition) {
  // 4000 rows with a single maskable position each (selected alone with p = 0.15), plus an
  // all-pad row that must stay untouched.
  const int64_t rows = 4001, length = 8;
  at::Tensor ids = at::full({rows, length}, kA, at::kLong);
  at::Tensor maskable = at::zeros({rows, length}, at::kBool);
  for (int64_t r = 0; r + 1 < rows; ++r) maskable[r][r % length] = true;
  ids[rows - 1].fill_(kPad);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto out = strand::train::mlm_mask(ids, maskable, dna_options(), gen);
  const at::Tensor per_row = out.labels.ne(kIgnoreIndex).sum(1);
  EXPECT_TRUE(per_row.narrow(0, 0, rows - 1).eq(1).all().item<bool>());
  EXPECT_EQ(per_row[rows - 1].item<int64_t>(), 0);

  auto off = dna_options();
  off.at_least_one = false;
  const auto plain = strand::train::mlm_mask(ids, maskable, off, gen);
  const double frac = plain.labels.ne(kIgnoreIndex).sum().item<double>() / (rows - 1);
  EXPECT_NEAR(frac, 0.15, 5 * std::sqrt(0.15 * 0.85 / (rows - 1)));  // binomial, 5 sd
}

TEST(MlmMask, SpanMaskingRateAndMeanSpanLength) {
  const int64_t rows = 64, length = 2048;
  const double p = 0.15, m = 3.0;
  const at::Tensor ids = at::full({rows, length}, kC, at::kLong);
  const at::Tensor maskable = at::ones({rows, length}, at::kBool);
  auto options = dna_options();
  options.mean_span_length = m;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(77);
  const auto out = strand::train::mlm_mask(ids, maskable, options, gen);
  const at::Tensor sel = out.labels.ne(kIgnoreIndex).contiguous();

  // Coverage: one gap + span cycle is the independent unit; the delta method gives
  // Var(rate) ~ Var(S - p (S + G)) / ((m + g)^2 N_cycles) with S ~ Geom(mean m, var m(m-1)),
  // G ~ Geom(mean g = m (1-p) / p, var g(g-1)), N_cycles = rows * length * p / m. Here g = 17,
  // Var(S - pS - pG) = 0.85^2 * 6 + 0.15^2 * 272 = 10.46, so sd ~ 0.0020; 5 sd. The stationary
  // start makes every position's coverage probability exactly p, so row ends add no bias.
  const double g = m * (1 - p) / p;
  const double cycles = rows * length * p / m;
  const double var_unit = (1 - p) * (1 - p) * m * (m - 1) + p * p * g * (g - 1);
  const double sd_rate = std::sqrt(var_unit / ((m + g) * (m + g) * cycles));
  EXPECT_NEAR(sel.to(at::kDouble).mean().item<double>(), p, 5 * sd_rate);

  // Runs of selected positions are the spans (gaps are >= 1, so spans never merge).
  std::vector<int64_t> runs;
  const auto acc = sel.accessor<bool, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t run = 0;
    for (int64_t t = 0; t < length; ++t) {
      if (acc[r][t]) {
        ++run;
      } else if (run > 0) {
        runs.push_back(run);
        run = 0;
      }
    }
    // A span cut by the row end is not a complete span; leave it out.
  }
  ASSERT_GT(runs.size(), 5000u);
  double mean = 0;
  int64_t ones = 0;
  for (int64_t len : runs) {
    mean += static_cast<double>(len);
    ones += len == 1;
  }
  mean /= static_cast<double>(runs.size());
  // Geometric on {1, 2, ...} with mean m: sd sqrt(m (m - 1)); standard error over the runs, 5 se.
  EXPECT_NEAR(mean, m, 5 * std::sqrt(m * (m - 1) / static_cast<double>(runs.size())));
  // P(length 1) = 1/m; binomial sd, 5 sd.
  const double q = 1 / m;
  EXPECT_NEAR(static_cast<double>(ones) / static_cast<double>(runs.size()), q,
              5 * std::sqrt(q * (1 - q) / static_cast<double>(runs.size())));
}

TEST(MlmMask, SeededGeneratorIsReproducibleAndIndependentOfTheGlobalOne) {
  const auto batch = make_dna_batch(8, 64, 2);
  for (const double span : {1.0, 3.0}) {
    auto options = dna_options();
    options.mean_span_length = span;
    auto g1 = at::make_generator<at::CPUGeneratorImpl>(42);
    auto g2 = at::make_generator<at::CPUGeneratorImpl>(42);
    const auto a = strand::train::mlm_mask(batch.ids, batch.maskable, options, g1);
    at::rand({100});  // moves the global generator only
    const auto b = strand::train::mlm_mask(batch.ids, batch.maskable, options, g2);
    EXPECT_TRUE(a.input_ids.equal(b.input_ids));
    EXPECT_TRUE(a.labels.equal(b.labels));
    const auto c = strand::train::mlm_mask(batch.ids, batch.maskable, options, g2);
    EXPECT_FALSE(a.labels.equal(c.labels));  // the generator advanced
  }
}

TEST(MlmMask, RejectsBadOptionsAndInputs) {
  const auto batch = make_dna_batch(2, 16, 1);
  auto o = dna_options();
  o.mask_token_id = -1;
  EXPECT_THROW(strand::train::mlm_mask(batch.ids, batch.maskable, o), strand::InputError);
  o = dna_options();
  o.random_hi = o.random_lo;
  EXPECT_THROW(strand::train::mlm_mask(batch.ids, batch.maskable, o), strand::InputError);
  o = dna_options();
  o.mask_prob = 0.95;
  EXPECT_THROW(strand::train::mlm_mask(batch.ids, batch.maskable, o), strand::InputError);
  o = dna_options();
  o.select_prob = 0.7;
  o.mean_span_length = 2.0;  // needs p <= 2/3
  EXPECT_THROW(strand::train::mlm_mask(batch.ids, batch.maskable, o), strand::InputError);
  EXPECT_THROW(strand::train::mlm_mask(batch.ids, batch.maskable.narrow(1, 0, 8), dna_options()),
               strand::ShapeError);
  EXPECT_THROW(strand::train::mlm_mask(batch.ids.to(at::kInt), batch.maskable, dna_options()), strand::ShapeError);
}

TEST(ReverseComplement, HandExamplesKeepPadsAndSpecialsInPlace) {
  const at::Tensor ids =
      at::tensor(std::vector<int64_t>{kA, kC, kG, kG, kPad, kPad, kCls, kA, kA, kC, kEos, kPad}, at::kLong)
          .reshape({2, 6});
  // Row 0: prefix of 4 bases. Row 1: <cls> and <eos> left out of the mask.
  const at::Tensor mask = at::tensor(std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0}).to(at::kBool).reshape({2, 6});
  const at::Tensor rc = strand::train::reverse_complement_batch(ids, complement_map(), mask);
  const at::Tensor expected =
      at::tensor(std::vector<int64_t>{kC, kC, kG, kT, kPad, kPad, kCls, kG, kT, kT, kEos, kPad}, at::kLong)
          .reshape({2, 6});
  EXPECT_TRUE(rc.equal(expected)) << rc;

  const at::Tensor lengths = at::tensor(std::vector<int64_t>{4, 0}, at::kLong);
  const at::Tensor rc_len = strand::train::reverse_complement_batch_lengths(ids, complement_map(), lengths);
  EXPECT_TRUE(rc_len[0].equal(expected[0]));
  EXPECT_TRUE(rc_len[1].equal(ids[1]));  // length 0: unchanged
}

TEST(ReverseComplement, TwiceIsIdentityAndMatchesLengthsForm) {
  const auto batch = make_dna_batch(32, 100, 8);
  const at::Tensor real = batch.ids.ne(kPad);
  const at::Tensor lengths = real.sum(1);
  const at::Tensor once = strand::train::reverse_complement_batch(batch.ids, complement_map(), real);
  EXPECT_FALSE(once.equal(batch.ids));
  EXPECT_TRUE(strand::train::reverse_complement_batch(once, complement_map(), real).equal(batch.ids));
  EXPECT_TRUE(strand::train::reverse_complement_batch_lengths(batch.ids, complement_map(), lengths).equal(once));
  // Pads stay at the end, and the base composition is complemented (A count becomes T count).
  EXPECT_TRUE(once.masked_select(real.logical_not()).eq(kPad).all().item<bool>());
  EXPECT_EQ(once.eq(kA).sum().item<int64_t>(), batch.ids.eq(kT).sum().item<int64_t>());
  // Reference for one row, plain loop.
  const int64_t n = lengths[5].item<int64_t>();
  const auto comp = complement_map();
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(once[5][i].item<int64_t>(), comp[batch.ids[5][n - 1 - i].item<int64_t>()].item<int64_t>());
  }
}

TEST(ReverseComplement, RejectsBadInput) {
  const at::Tensor ids = at::full({2, 4}, kA, at::kLong);
  const at::Tensor mask = at::ones({2, 4}, at::kBool);
  EXPECT_THROW(strand::train::reverse_complement_batch(ids.fill_(12), complement_map(), mask), strand::InputError);
  EXPECT_THROW(strand::train::reverse_complement_batch(at::full({2, 4}, kA, at::kLong), complement_map().to(at::kInt), mask),
               strand::ShapeError);
  EXPECT_THROW(strand::train::reverse_complement_batch_lengths(at::full({2, 4}, kA, at::kLong), complement_map(),
                                                               at::tensor(std::vector<int64_t>{5, 1}, at::kLong)),
               strand::InputError);
}

}  // namespace
