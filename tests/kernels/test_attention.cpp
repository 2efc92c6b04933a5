// Conformance table for strand::attention (kernels/attention) against the plain reference
// (attention_ref.cpp, double loops), gradient checks against attention_naive and finite
// differences, masking and KV-cache semantics, argument errors, and the CUDA entry points.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_internal.h"
#include "kernels/common/device.h"

using strand::attention;
using strand::attention_naive;
using strand::attention_reference;

namespace {

// Oracles and tolerances (absolute, on outputs of magnitude <= ~3 from randn values):
// - float64: kernel and reference both accumulate in double and differ only in summation order
//   and exp/log rounding over <= 130 keys: <= 3e-15 observed; 1e-11 leaves room without hiding bugs.
constexpr double kTolDouble = 1e-11;
// - float32: the kernel accumulates in float (as FlashAttention does); scores, running max and sum
//   collect a few hundred roundings of 6e-8 over <= 130 keys x 33 dims: <= 1.1e-6 observed, the
//   same as attention_naive in float32; bound 1e-5. Over the whole float32 table the kernel's
//   summed error must also stay within 2x that of attention_naive in float32 (per case the
//   errors are a few float ulps, too few to compare one by one).
constexpr double kTolFloat = 1e-5;
constexpr double kFloatNaiveFactor = 2.0;
// - gradients in float64, blocked kernel vs ATen autograd through attention_naive: same math,
//   different summation order; <= 4e-15 observed.
constexpr double kTolGradDouble = 1e-10;

enum class MaskKind { kNone, kRightPadding, kEmptyRows };

const char* mask_name(MaskKind m) {
  switch (m) {
    case MaskKind::kNone:
      return "no mask";
    case MaskKind::kRightPadding:
      return "right padding";
    case MaskKind::kEmptyRows:
      return "left padding + fully masked batch";
  }
  return "?";
}

struct Case {
  int64_t batch, heads, len_q, len_k, dim, q_offset;
  bool causal;
  MaskKind mask;
  at::ScalarType dtype;
  bool strided;
};

std::string name(const Case& c) {
  return std::string(c.dtype == at::kFloat ? "float32" : "float64") + " B" + std::to_string(c.batch) + " H" +
         std::to_string(c.heads) + " Lq" + std::to_string(c.len_q) + " Lk" + std::to_string(c.len_k) + " D" +
         std::to_string(c.dim) + " q_offset " + std::to_string(c.q_offset) + (c.causal ? " causal" : " bidirectional") +
         ", " + mask_name(c.mask) + (c.strided ? ", non-contiguous" : "");
}

struct Inputs {
  at::Tensor q, k, v, mask;
};

/// Key padding mask (batch, len_k). kRightPadding: row b keeps its first len_k - b * len_k / 4 keys
/// (at least one). kEmptyRows: row 0 hides its first min(3, len_k - 1) keys (left padding, so early
/// causal queries see nothing), every other row hides every key.
at::Tensor make_mask(MaskKind kind, int64_t batch, int64_t len_k) {
  if (kind == MaskKind::kNone) return at::Tensor();
  auto mask = at::zeros({batch, len_k}, at::kBool);
  for (int64_t b = 0; b < batch; ++b) {
    if (kind == MaskKind::kRightPadding) {
      const int64_t keep = std::max<int64_t>(1, len_k - b * len_k / 4);
      mask[b].narrow(0, 0, keep).fill_(true);
    } else if (b == 0) {
      const int64_t hidden = std::min<int64_t>(3, len_k - 1);
      mask[b].narrow(0, hidden, len_k - hidden).fill_(true);
    }
  }
  return mask;
}

/// Random inputs; `strided` makes q, k and v transposed / permuted views (not contiguous).
Inputs make_inputs(const Case& c) {
  Inputs in;
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  if (c.strided) {
    in.q = at::randn({c.batch, c.len_q, c.heads, c.dim}, opt).transpose(1, 2);
    in.k = at::randn({c.batch, c.heads, c.dim, c.len_k}, opt).transpose(2, 3);
    in.v = at::randn({c.len_k, c.batch, c.heads, c.dim}, opt).permute({1, 2, 0, 3});
  } else {
    in.q = at::randn({c.batch, c.heads, c.len_q, c.dim}, opt);
    in.k = at::randn({c.batch, c.heads, c.len_k, c.dim}, opt);
    in.v = at::randn({c.batch, c.heads, c.len_k, c.dim}, opt);
  }
  // Dtype conversion keeps the strides of the views.
  in.q = in.q.to(c.dtype);
  in.k = in.k.to(c.dtype);
  in.v = in.v.to(c.dtype);
  in.mask = make_mask(c.mask, c.batch, c.len_k);
  return in;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

/// Writes the tensors of a failing case to a text file and returns its path.
std::string dump_failure(const std::string& what, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  static int counter = 0;
  const std::string path = ::testing::TempDir() + "attention_failure_" + std::to_string(counter++) + ".txt";
  std::ofstream out(path);
  out << what << "\n";
  for (const auto& [label, t] : tensors) out << "== " << label << "\n" << (t.defined() ? t : at::Tensor()) << "\n";
  return path;
}

double scale_for(int64_t dim) { return 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(dim, 1))); }

std::vector<Case> conformance_cases() {
  // (Lq, Lk, q_offset): self-attention at odd sizes around the 64-wide blocks, then Lq != Lk with
  // the KV-cache offset Lk - Lq, an offset that is not Lk - Lq, and Lq > Lk.
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {1, 1, 0},   {31, 31, 0},   {32, 32, 0},  {33, 33, 0},  {65, 65, 0}, {130, 130, 0},
      {1, 65, 64}, {31, 130, 99}, {33, 65, 32}, {5, 130, 10}, {65, 33, 0}, {130, 31, 0}};
  const int64_t dims[] = {8, 16, 33};
  std::vector<Case> cases;
  int64_t block = 0;
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (bool causal : {false, true}) {
      for (auto mask : {MaskKind::kNone, MaskKind::kRightPadding, MaskKind::kEmptyRows}) {
        for (size_t s = 0; s < shapes.size(); ++s) {
          const auto& [len_q, len_k, q_offset] = shapes[s];
          // Head dim and layout rotate with the (dtype, causal, mask) block, so every shape meets
          // every head dim and both layouts.
          const int64_t turn = static_cast<int64_t>(s) + block;
          cases.push_back({2, 3, len_q, len_k, dims[turn % 3], q_offset, causal, mask, dtype, turn % 2 == 1});
        }
        ++block;
      }
    }
  }
  return cases;
}

}  // namespace

TEST(Attention, MatchesReferenceOverConformanceTable) {
  at::manual_seed(0);
  const auto cases = conformance_cases();
  ASSERT_EQ(cases.size(), 144u);
  double float_error = 0, float_naive_error = 0;
  for (const auto& c : cases) {
    const Inputs in = make_inputs(c);
    if (c.strided && c.len_q > 1 && c.len_k > 1) {  // a view with a length-1 axis may count as contiguous
      ASSERT_FALSE(in.q.is_contiguous() || in.k.is_contiguous() || in.v.is_contiguous()) << name(c);
    }
    const double scale = scale_for(c.dim);
    const auto got = attention(in.q, in.k, in.v, in.mask, c.causal, scale, c.q_offset);
    const auto want = attention_reference(in.q, in.k, in.v, in.mask, c.causal, scale, c.q_offset);
    ASSERT_EQ(got.scalar_type(), c.dtype) << name(c);
    ASSERT_EQ(got.sizes(), in.q.sizes()) << name(c);
    // The reference is computed from the same (rounded) inputs, in double.
    const double err = max_abs_diff(got, want);
    const double tol = c.dtype == at::kFloat ? kTolFloat : kTolDouble;
    ASSERT_TRUE(std::isfinite(err) && err <= tol)
        << name(c) << ": max |kernel - reference| = " << err << " > " << tol << "; inputs in "
        << dump_failure(
               name(c),
               {{"q", in.q}, {"k", in.k}, {"v", in.v}, {"mask", in.mask}, {"expected", want}, {"actual", got}});
    // Rows that see no key are exactly zero in both, and only those.
    ASSERT_TRUE(at::equal(got.ne(0).any(-1), want.ne(0).any(-1))) << name(c);
    // Not vacuous: every case but causal ones with left padding has a visible key in some row.
    if (!(c.causal && c.mask == MaskKind::kEmptyRows)) {
      ASSERT_GT(want.abs().max().item<double>(), 0.1) << name(c);
    }
    const auto naive = attention_naive(in.q, in.k, in.v, in.mask, c.causal, scale, c.q_offset);
    const double naive_err = max_abs_diff(naive, want);
    if (c.dtype == at::kFloat) {
      float_error += err;
      float_naive_error += naive_err;
    } else {
      ASSERT_LE(naive_err, kTolDouble) << name(c) << ": attention_naive disagrees with the reference";
    }
  }
  EXPECT_LE(float_error, kFloatNaiveFactor * float_naive_error)
      << "summed float32 error: blocked kernel " << float_error << ", attention_naive " << float_naive_error;
}

TEST(Attention, EveryCpuIsaPathMatchesTheReference) {
  // The registered op runs the widest path this CPU has (checked by every test above); the
  // narrower compiled paths meet the same oracles here: forward over the whole conformance
  // table against the reference, backward in double against ATen autograd through
  // attention_naive, and float gradients against the double ones.
  using strand::kernels::CpuIsa;
  const auto widest = static_cast<int>(strand::kernels::cpu_isa());
  for (int i = 0; i <= widest; ++i) {
    const auto isa = static_cast<CpuIsa>(i);
    SCOPED_TRACE(std::string("CPU path ") + strand::kernels::cpu_isa_name(isa));
    at::manual_seed(10);
    int gradient_cases = 0;
    for (const auto& c : conformance_cases()) {
      const Inputs in = make_inputs(c);
      const auto mask = in.mask.defined() ? strand::compat::optional<at::Tensor>(in.mask) : strand::compat::nullopt;
      const double scale = scale_for(c.dim);
      const auto [out, lse] = strand::kernels::attention_forward_cpu(in.q, in.k, in.v, mask, c.causal, scale, c.q_offset, isa);
      const auto want = attention_reference(in.q, in.k, in.v, in.mask, c.causal, scale, c.q_offset);
      const double tol = c.dtype == at::kFloat ? kTolFloat : kTolDouble;
      ASSERT_LE(max_abs_diff(out, want), tol) << name(c);
      ASSERT_TRUE(at::equal(out.ne(0).any(-1), want.ne(0).any(-1))) << name(c);
      if (c.batch * c.len_q * c.len_k > 2 * 65 * 65) continue;  // gradients on the smaller cases (time)
      ++gradient_cases;
      const auto grad_out = at::randn(in.q.sizes(), in.q.options());
      const auto got = strand::kernels::attention_backward_cpu(grad_out, in.q, in.k, in.v, mask, out, lse, c.causal, scale,
                                                               c.q_offset, isa);
      const auto qd = in.q.to(at::kDouble).requires_grad_(), kd = in.k.to(at::kDouble).requires_grad_();
      const auto vd = in.v.to(at::kDouble).requires_grad_();
      const auto ref = torch::autograd::grad({attention_naive(qd, kd, vd, in.mask, c.causal, scale, c.q_offset)},
                                             {qd, kd, vd}, {grad_out.to(at::kDouble)});
      // float32: the gradients collect more roundings than the outputs (dS sums over keys, dK
      // and dV over queries); 20x the output bound still separates them from a wrong gradient.
      const double grad_tol = c.dtype == at::kFloat ? 20 * kTolFloat : kTolGradDouble;
      EXPECT_LE(max_abs_diff(std::get<0>(got), ref[0]), grad_tol) << name(c) << " dq";
      EXPECT_LE(max_abs_diff(std::get<1>(got), ref[1]), grad_tol) << name(c) << " dk";
      EXPECT_LE(max_abs_diff(std::get<2>(got), ref[2]), grad_tol) << name(c) << " dv";
    }
    EXPECT_GE(gradient_cases, 40);
  }
}

TEST(Attention, FullyMaskedRowsAreZeroWithZeroGradientNeverNaN) {
  at::manual_seed(1);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  // Left padding of 4 keys: with causal attention, queries 0..3 see only padding.
  auto mask = at::ones({2, 40}, at::kBool);
  mask[0].narrow(0, 0, 4).fill_(false);
  mask[1].fill_(false);  // batch 1: nothing visible at all
  for (bool causal : {true, false}) {
    const auto q = at::randn({2, 2, 40, 8}, opt).requires_grad_();
    const auto k = at::randn({2, 2, 40, 8}, opt).requires_grad_();
    const auto v = at::randn({2, 2, 40, 8}, opt).requires_grad_();
    for (bool naive : {false, true}) {
      const auto out = (naive ? attention_naive : attention)(q, k, v, mask, causal, 0.3, 0);
      const auto grads = torch::autograd::grad({out}, {q, k, v}, {at::ones_like(out)});
      const std::string what = std::string(naive ? "naive" : "kernel") + (causal ? " causal" : " bidirectional");
      for (const auto& t : {out, grads[0], grads[1], grads[2]}) ASSERT_TRUE(at::isfinite(t).all().item<bool>()) << what;
      EXPECT_EQ(out[1].abs().max().item<double>(), 0.0) << what;
      EXPECT_EQ(grads[0][1].abs().max().item<double>(), 0.0) << what;
      EXPECT_EQ(grads[1][1].abs().max().item<double>(), 0.0) << what;
      EXPECT_EQ(grads[2][1].abs().max().item<double>(), 0.0) << what;
      // Padded keys of batch 0 receive no gradient.
      EXPECT_EQ(grads[1][0].narrow(1, 0, 4).abs().max().item<double>(), 0.0) << what;
      EXPECT_EQ(grads[2][0].narrow(1, 0, 4).abs().max().item<double>(), 0.0) << what;
      if (causal) {
        EXPECT_EQ(out[0].narrow(1, 0, 4).abs().max().item<double>(), 0.0) << what;
        EXPECT_EQ(grads[0][0].narrow(1, 0, 4).abs().max().item<double>(), 0.0) << what;
      }
      EXPECT_GT(out[0].narrow(1, 4, 36).abs().min().item<double>(), 0.0) << what;
    }
  }
}

TEST(Attention, GradientsMatchNaiveAutogradInDouble) {
  at::manual_seed(2);
  struct GradCase {
    int64_t len_q, len_k, dim, q_offset;
    bool causal;
    MaskKind mask;
    bool strided;
  };
  const std::vector<GradCase> cases = {
      {31, 31, 8, 0, false, MaskKind::kNone, false},           {65, 65, 33, 0, true, MaskKind::kNone, true},
      {130, 130, 16, 0, true, MaskKind::kRightPadding, false}, {33, 33, 8, 0, false, MaskKind::kRightPadding, true},
      {65, 65, 16, 0, true, MaskKind::kEmptyRows, false},      {32, 32, 8, 0, false, MaskKind::kEmptyRows, true},
      {31, 130, 16, 99, true, MaskKind::kNone, true},          {5, 130, 8, 10, true, MaskKind::kRightPadding, false},
      {130, 31, 33, 0, true, MaskKind::kNone, false},          {1, 65, 16, 64, true, MaskKind::kNone, false},
      {130, 65, 8, 0, false, MaskKind::kRightPadding, true}};
  static auto forward_op = c10::Dispatcher::singleton()
                               .findSchemaOrThrow("strand::_attention_forward", "")
                               .typed<std::tuple<at::Tensor, at::Tensor>(
                                   const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                   const strand::compat::optional<at::Tensor>&, bool, double, int64_t)>();
  for (const auto& g : cases) {
    const Case c{2, 2, g.len_q, g.len_k, g.dim, g.q_offset, g.causal, g.mask, at::kDouble, g.strided};
    Inputs in = make_inputs(c);
    in.q.requires_grad_();
    in.k.requires_grad_();
    in.v.requires_grad_();
    const double scale = scale_for(c.dim);
    const auto grad_out = at::randn(in.q.sizes(), in.q.options());
    const auto out = attention(in.q, in.k, in.v, in.mask, c.causal, scale, c.q_offset);
    const auto got = torch::autograd::grad({out}, {in.q, in.k, in.v}, {grad_out});
    const auto out_naive = attention_naive(in.q, in.k, in.v, in.mask, c.causal, scale, c.q_offset);
    const auto want = torch::autograd::grad({out_naive}, {in.q, in.k, in.v}, {grad_out});
    const char* labels[] = {"dq", "dk", "dv"};
    for (int i = 0; i < 3; ++i) {
      const double err = max_abs_diff(got[i], want[i]);
      ASSERT_LE(err, kTolGradDouble) << name(c) << " " << labels[i] << "; inputs in "
                                     << dump_failure(name(c), {{"q", in.q},
                                                               {"k", in.k},
                                                               {"v", in.v},
                                                               {"mask", in.mask},
                                                               {"grad_out", grad_out},
                                                               {"expected", want[i]},
                                                               {"actual", got[i]}});
      ASSERT_GT(want[i].abs().max().item<double>(), 1e-3) << name(c) << " " << labels[i];
    }
    // The CUDA backward path (materialised from the logsumexp) runs on any device: check it here.
    at::Tensor out2, lse;
    const auto mask_opt = in.mask.defined() ? strand::compat::optional<at::Tensor>(in.mask) : strand::compat::nullopt;
    {
      const at::NoGradGuard no_grad;
      std::tie(out2, lse) =
          forward_op.call(in.q.detach(), in.k.detach(), in.v.detach(), mask_opt, c.causal, scale, c.q_offset);
    }
    const auto materialised = strand::kernels::attention_backward_materialised(
        grad_out, in.q.detach(), in.k.detach(), in.v.detach(), mask_opt, out2, lse, c.causal, scale, c.q_offset);
    EXPECT_LE(max_abs_diff(std::get<0>(materialised), want[0]), kTolGradDouble) << name(c) << " materialised dq";
    EXPECT_LE(max_abs_diff(std::get<1>(materialised), want[1]), kTolGradDouble) << name(c) << " materialised dk";
    EXPECT_LE(max_abs_diff(std::get<2>(materialised), want[2]), kTolGradDouble) << name(c) << " materialised dv";
  }
}

TEST(Attention, ResultsDoNotDependOnTheThreadCount) {
  // The backward splits key blocks into more groups (with partial dQ buffers) when batch * heads
  // gives too few tasks for the threads; every split must give the same gradients.
  at::manual_seed(8);
  const int original = at::get_num_threads();
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  const auto q = at::randn({1, 2, 130, 16}, opt).requires_grad_(), k = at::randn({1, 2, 200, 16}, opt).requires_grad_(),
             v = at::randn({1, 2, 200, 16}, opt).requires_grad_();
  const auto grad_out = at::randn({1, 2, 130, 16}, opt);
  std::vector<at::Tensor> first;
  for (int threads : {1, 3, 8}) {
    at::set_num_threads(threads);
    const auto out = attention(q, k, v, at::Tensor(), true, 0.25, 70);
    auto grads = torch::autograd::grad({out}, {q, k, v}, {grad_out});
    grads.push_back(out.detach());
    if (first.empty()) {
      first = grads;
      continue;
    }
    for (size_t i = 0; i < grads.size(); ++i) EXPECT_LE(max_abs_diff(grads[i], first[i]), 1e-13) << threads << " " << i;
  }
  at::set_num_threads(original);
}

TEST(Attention, GradientsMatchFiniteDifferences) {
  // Central differences in double: truncation error ~ eps^2 = 1e-12 times third derivatives of
  // order 1, rounding error ~ 1e-16 / eps = 1e-10; 1e-7 separates both from a wrong gradient.
  at::manual_seed(3);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  auto mask = at::ones({1, 9}, at::kBool);
  mask[0][0] = false;  // left padding: query 0 (position 4) still sees keys 1..4
  mask[0][6] = false;
  const auto q0 = at::randn({1, 2, 5, 3}, opt), k0 = at::randn({1, 2, 9, 3}, opt), v0 = at::randn({1, 2, 9, 3}, opt);
  const auto weight = at::randn({1, 2, 5, 3}, opt);
  for (bool causal : {true, false}) {
    const auto loss = [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
      return (attention(q, k, v, mask, causal, 0.7, 4) * weight).sum();
    };
    auto q = q0.clone().requires_grad_(), k = k0.clone().requires_grad_(), v = v0.clone().requires_grad_();
    const auto grads = torch::autograd::grad({loss(q, k, v)}, {q, k, v});
    const at::Tensor inputs[] = {q0, k0, v0};
    constexpr double eps = 1e-6;
    for (int which = 0; which < 3; ++which) {
      const auto flat = inputs[which].view(-1);
      for (int64_t e = 0; e < flat.numel(); ++e) {
        const auto at_shift = [&](double delta) {
          at::Tensor x[] = {q0.clone(), k0.clone(), v0.clone()};
          x[which].view(-1)[e] += delta;
          return loss(x[0], x[1], x[2]).item<double>();
        };
        const double numeric = (at_shift(eps) - at_shift(-eps)) / (2 * eps);
        const double analytic = grads[which].reshape(-1)[e].item<double>();
        ASSERT_NEAR(analytic, numeric, 1e-7)
            << (causal ? "causal" : "bidirectional") << " input " << which << " element " << e;
      }
    }
    // Key 0 and key 6 are padding: zero gradient, exactly.
    EXPECT_EQ(grads[1].select(2, 0).abs().max().item<double>(), 0.0);
    EXPECT_EQ(grads[2].select(2, 6).abs().max().item<double>(), 0.0);
  }
}

TEST(Attention, KvCacheDecodingMatchesFullCausalAttention) {
  at::manual_seed(4);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  const int64_t len = 70;
  const auto q = at::randn({2, 2, len, 16}, opt), k = at::randn({2, 2, len, 16}, opt),
             v = at::randn({2, 2, len, 16}, opt);
  const auto full = attention(q, k, v, at::Tensor(), true, 0.25, 0);
  // Token by token: query t attends to the t + 1 cached keys.
  for (int64_t t = 0; t < len; ++t) {
    const auto step =
        attention(q.narrow(2, t, 1), k.narrow(2, 0, t + 1), v.narrow(2, 0, t + 1), at::Tensor(), true, 0.25, t);
    ASSERT_LE(max_abs_diff(step, full.narrow(2, t, 1)), kTolDouble) << "step " << t;
  }
  // Chunked prefill: queries 10..69 over all 70 keys.
  const auto chunk = attention(q.narrow(2, 10, len - 10), k, v, at::Tensor(), true, 0.25, 10);
  EXPECT_LE(max_abs_diff(chunk, full.narrow(2, 10, len - 10)), kTolDouble);
}

TEST(Attention, InferenceModeAndNoGradGiveTheSameOutput) {
  at::manual_seed(5);
  const auto q = at::randn({1, 2, 33, 8}), k = at::randn({1, 2, 40, 8}), v = at::randn({1, 2, 40, 8});
  const auto plain = attention(q, k, v, at::Tensor(), true, 0.35, 7);
  at::Tensor inference;
  {
    const c10::InferenceMode guard;  // skips the Autograd kernel: the CPU kernel is called directly
    inference = attention(q, k, v, at::Tensor(), true, 0.35, 7);
  }
  EXPECT_TRUE(at::equal(plain, inference));
  const auto want = attention_reference(q, k, v, at::Tensor(), true, 0.35, 7);
  EXPECT_LE(max_abs_diff(plain, want), kTolFloat);
}

TEST(Attention, EmptyAndDegenerateShapes) {
  const auto q = at::randn({2, 1, 4, 8}, at::kDouble);
  // No keys at all: every row is empty.
  const auto empty_k = at::zeros({2, 1, 0, 8}, at::kDouble);
  EXPECT_EQ(attention(q, empty_k, empty_k, at::Tensor(), false, 1.0).abs().max().item<double>(), 0.0);
  // No queries.
  const auto k = at::randn({2, 1, 5, 8}, at::kDouble);
  EXPECT_EQ(attention(q.narrow(2, 0, 0), k, k, at::Tensor(), true, 1.0).sizes().vec(),
            std::vector<int64_t>({2, 1, 0, 8}));
}

TEST(Attention, SecondDerivativesAreRejected) {
  const auto q = at::randn({1, 1, 4, 2}, at::kDouble).requires_grad_();
  const auto out = attention(q, q, q, at::Tensor(), false, 1.0);
  const auto g = torch::autograd::grad({out.sum()}, {q}, {}, /*retain_graph=*/true, /*create_graph=*/false);
  EXPECT_EQ(g[0].sizes(), q.sizes());
  EXPECT_THROW(torch::autograd::grad({out.sum()}, {q}, {}, /*retain_graph=*/true, /*create_graph=*/true), c10::Error);
}

TEST(Attention, BadArgumentsAreClearErrors) {
  const auto q = at::randn({2, 3, 5, 8});
  const auto k = at::randn({2, 3, 7, 8});
  const auto expect_error = [](const std::function<void()>& call, const std::string& needle) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&] { attention(q[0], k, k, at::Tensor(), false, 1.0); }, "q must be (batch, heads, Lq, head_dim)");
  expect_error([&] { attention(q, k.narrow(0, 0, 1), k, at::Tensor(), false, 1.0); }, "batch sizes differ");
  expect_error([&] { attention(q, k.narrow(1, 0, 2), k, at::Tensor(), false, 1.0); }, "head counts differ");
  expect_error([&] { attention(q, k, k.narrow(2, 0, 6), at::Tensor(), false, 1.0); }, "k and v lengths differ");
  expect_error([&] { attention(q, k.narrow(3, 0, 4), k, at::Tensor(), false, 1.0); }, "head_dim differs");
  expect_error([&] { attention(q, k.to(at::kDouble), k, at::Tensor(), false, 1.0); }, "share one dtype");
  expect_error([&] { attention(q.to(at::kHalf), k.to(at::kHalf), k.to(at::kHalf), at::Tensor(), false, 1.0); },
               "supports float32 and float64, got Half");
  expect_error([&] { attention(q.to(at::kLong), k.to(at::kLong), k.to(at::kLong), at::Tensor(), false, 1.0); },
               "floating-point");
  expect_error([&] { attention(q, k, k, at::ones({2, 6}, at::kBool), false, 1.0); }, "key_padding_mask must be");
  expect_error([&] { attention(q, k, k, at::ones({2, 7}, at::kLong), false, 1.0); }, "must be bool");
  expect_error([&] { attention(q, k, k, at::Tensor(), true, 1.0, -1); }, "q_offset must be >= 0");
  expect_error([&] { attention(q, k, k, at::Tensor(), true, std::nan("")); }, "scale must be finite");
  expect_error([&] { attention_naive(q, k, k, at::ones({2, 6}, at::kBool), false, 1.0); }, "key_padding_mask");
}

TEST(Attention, LongSequenceRunsWithoutTheScoreMatrix) {
  // L = 8192: a materialised (L, L) float32 score matrix would take 256 MiB; the blocked kernel
  // keeps O(L * D). Spot-check a few rows against the reference.
  at::manual_seed(6);
  const int64_t len = 8192;
  const auto q = at::randn({1, 1, len, 16}), k = at::randn({1, 1, len, 16}), v = at::randn({1, 1, len, 16});
  // Up to 8192 keys per row in float32: more roundings than the table's 130, so a looser bound.
  constexpr double kTolLong = 5e-5;
  const auto start = std::chrono::steady_clock::now();
  const auto out = attention(q, k, v, at::Tensor(), true, 0.25);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);
  for (int64_t row : {0, 1, 4095, 8191}) {
    const auto want = attention_reference(q.narrow(2, row, 1), k, v, at::Tensor(), true, 0.25, row);
    EXPECT_LE(max_abs_diff(out.narrow(2, row, 1), want), kTolLong) << "row " << row;
  }
}

TEST(Attention, CudaEntryPointInCpuBuildSaysBuiltWithoutCuda) {
  if (strand::kernels::built_with_cuda()) GTEST_SKIP() << "this build has CUDA kernels";
  // Route the call to the CUDA dispatch key explicitly: a CPU-only LibTorch cannot make CUDA tensors.
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("strand::attention", "")
                .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                  const strand::compat::optional<at::Tensor>&, bool, double, int64_t)>();
  const auto q = at::zeros({1, 1, 2, 4});
  try {
    op.redispatch(c10::DispatchKeySet(c10::DispatchKey::CUDA), q, q, q, strand::compat::nullopt, false, 1.0, 0);
    FAIL() << "the CUDA entry point did not throw";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("strand::attention has no CUDA implementation in this build"),
              std::string::npos)
        << e.what();
  }
}

TEST(Attention, CudaMatchesReference) {
  if (!strand::kernels::built_with_cuda() || strand::kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device";
  at::manual_seed(7);
  for (const auto& c : conformance_cases()) {
    const Inputs in = make_inputs(c);
    const double scale = scale_for(c.dim);
    const auto mask = in.mask.defined() ? in.mask.cuda() : at::Tensor();
    const auto got = attention(in.q.cuda(), in.k.cuda(), in.v.cuda(), mask, c.causal, scale, c.q_offset).cpu();
    const auto want = attention_reference(in.q, in.k, in.v, in.mask, c.causal, scale, c.q_offset);
    const double tol = c.dtype == at::kFloat ? kTolFloat : kTolDouble;
    ASSERT_LE(max_abs_diff(got, want), tol) << name(c);
    ASSERT_TRUE(at::equal(got.ne(0).any(-1), want.ne(0).any(-1))) << name(c);
  }
  // Backward on CUDA (materialised from the logsumexp) against ATen autograd on CPU.
  const Case c{2, 3, 65, 130, 16, 65, true, MaskKind::kRightPadding, at::kDouble, true};
  const Inputs in = make_inputs(c);
  const auto grad_out = at::randn(in.q.sizes(), at::kDouble);
  const auto q = in.q.cuda().requires_grad_(), k = in.k.cuda().requires_grad_(), v = in.v.cuda().requires_grad_();
  const auto out = attention(q, k, v, in.mask.cuda(), c.causal, 0.25, c.q_offset);
  const auto got = torch::autograd::grad({out}, {q, k, v}, {grad_out.cuda()});
  const auto qc = in.q.clone().requires_grad_(), kc = in.k.clone().requires_grad_(), vc = in.v.clone().requires_grad_();
  const auto want = torch::autograd::grad({attention_naive(qc, kc, vc, in.mask, c.causal, 0.25, c.q_offset)},
                                          {qc, kc, vc}, {grad_out});
  for (int i = 0; i < 3; ++i) EXPECT_LE(max_abs_diff(got[i].cpu(), want[i]), kTolGradDouble) << i;
}
