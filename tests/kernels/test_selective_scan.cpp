// Conformance table for strand::selective_scan (kernels/selective_scan) against the plain
// reference (selective_scan_ref.cpp, double loops) and the ATen formulation, gradient checks
// against ATen autograd through selective_scan_aten and finite differences, both CPU code paths,
// determinism, argument errors, and the CUDA entry points.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <fstream>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/common/device.h"
#include "kernels/selective_scan/selective_scan.h"
#include "kernels/selective_scan/selective_scan_internal.h"
#include "kernels/selective_scan/selective_scan_params.h"

using strand::selective_scan;
using strand::selective_scan_aten;
using strand::selective_scan_reference;
using strand::kernels::ScanCpuPath;

namespace {

// Oracles and tolerances. Outputs and states are O(1..10): inputs are randn-sized, dt is about
// 0.3 and A about -1, so states decay by ~0.75 per step and stay bounded over long sequences.
// Errors are measured relative to the scale of the expected tensor (max |x|, at least 1).
// - float64 against the double reference: same recurrence; the kernel's exp is a Taylor
//   polynomial (a few ulp) and its sums run in another order: <= 7e-16 observed. 1e-12 leaves
//   three orders of magnitude without hiding an indexing bug (which gives O(1) errors).
constexpr double kTolDouble = 1e-12;
// - float32 against the double reference: the state is carried in float over up to 600 steps,
//   each adding a rounding of ~6e-8 relative to the state; the decay keeps the accumulated error
//   to a few roundings: <= 2.1e-7 observed, the same as selective_scan_aten in float32 (2.0e-7).
//   Bound 2e-6. Over the whole float32 table the kernel's summed error must also stay within 2x
//   that of selective_scan_aten (ATen's float kernels on the same formulation).
constexpr double kTolFloat = 2e-6;
constexpr double kFloatAtenFactor = 2.0;
// - gradients in float64, kernel vs ATen autograd through selective_scan_aten: same math, sums in
//   another order (and the backward's recomputed states): <= 2e-15 observed.
constexpr double kTolGradDouble = 1e-12;

struct Case {
  int64_t batch, dim, dstate, len;
  int64_t groups;  // 0: B and C are 3-dim (batch, N, L); else 4-dim (batch, G, N, L)
  bool has_D, has_z, has_bias, softplus, has_h0, return_last;
  at::ScalarType dtype;
  bool strided;
};

std::string name(const Case& c) {
  std::string s = std::string(c.dtype == at::kFloat ? "float32" : "float64") + " batch " + std::to_string(c.batch) +
                  " dim " + std::to_string(c.dim) + " N " + std::to_string(c.dstate) + " L " + std::to_string(c.len) +
                  (c.groups == 0 ? " B 3-dim" : " G " + std::to_string(c.groups));
  s += c.has_D ? " +D" : " -D";
  s += c.has_z ? " +z" : " -z";
  s += c.has_bias ? " +delta_bias" : " -delta_bias";
  s += c.softplus ? " +softplus" : " -softplus";
  s += c.has_h0 ? " +initial_state" : " -initial_state";
  s += c.return_last ? " +last_state" : " -last_state";
  return s + (c.strided ? ", non-contiguous" : "");
}

struct Inputs {
  at::Tensor u, delta, A, B, C, D, z, bias, h0;
};

/// Random inputs at Mamba-like scales; `strided` makes every tensor a transposed or sliced view.
Inputs make_inputs(const Case& c) {
  const auto opt = at::TensorOptions().dtype(c.dtype);
  const int64_t b = c.batch, d = c.dim, n = c.dstate, len = c.len;
  const int64_t g = c.groups == 0 ? 1 : c.groups;
  Inputs in;
  // (batch, dim, L) tensors: stored (batch, L, dim) and transposed, or every other step of 2L.
  const auto seq = [&](double scale, double shift) {
    if (!c.strided) return at::randn({b, d, len}, opt) * scale + shift;
    return (at::randn({b, len, d}, opt) * scale + shift).transpose(1, 2);
  };
  in.u = seq(1.0, 0.0);
  // softplus(-1 + 0.5 randn) ~ 0.3; without softplus, dt drawn directly in [0.05, 0.55).
  in.delta = c.softplus ? seq(0.5, -1.0)
                        : (c.strided ? (at::rand({b, d, 2 * len}, opt) * 0.5 + 0.05).slice(2, 0, 2 * len, 2)
                                     : at::rand({b, d, len}, opt) * 0.5 + 0.05);
  in.A = c.strided ? -at::exp(at::randn({n, d}, opt) * 0.5).t() : -at::exp(at::randn({d, n}, opt) * 0.5);
  const auto bc = [&] {
    auto t = c.strided ? at::randn({b, g, len, n}, opt).transpose(2, 3) : at::randn({b, g, n, len}, opt);
    return c.groups == 0 ? t.select(1, 0) : t;
  };
  in.B = bc();
  in.C = bc();
  if (c.has_D) in.D = c.strided ? at::randn({d, 2}, opt).select(1, 1) : at::randn({d}, opt);
  if (c.has_z) in.z = seq(1.0, 0.0);
  // Without softplus a negative bias could make dt < 0 and the state grow: keep it positive.
  if (c.has_bias) in.bias = c.softplus ? at::randn({d}, opt) * 0.3 : at::rand({d}, opt) * 0.1;
  if (c.has_h0) in.h0 = c.strided ? at::randn({b, n, d}, opt).transpose(1, 2) : at::randn({b, d, n}, opt);
  return in;
}

std::tuple<at::Tensor, at::Tensor> run_public(const Inputs& in, const Case& c) {
  return selective_scan(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, c.softplus, in.h0, c.return_last);
}

std::tuple<at::Tensor, at::Tensor> run_reference(const Inputs& in, const Case& c) {
  return selective_scan_reference(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, c.softplus, in.h0,
                                  c.return_last);
}

std::tuple<at::Tensor, at::Tensor> run_aten(const Inputs& in, const Case& c) {
  return selective_scan_aten(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, c.softplus, in.h0,
                             c.return_last);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

/// Largest |x|, at least 1: errors are judged relative to this scale.
double scale_of(const at::Tensor& t) { return t.numel() == 0 ? 1.0 : std::max(1.0, t.abs().max().item<double>()); }

/// Writes the tensors of a failing case to a text file and returns its path.
std::string dump_failure(const std::string& what, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  static int counter = 0;
  const std::string path = ::testing::TempDir() + "selective_scan_failure_" + std::to_string(counter++) + ".txt";
  std::ofstream out(path);
  out << what << "\n";
  for (const auto& [label, t] : tensors) out << "== " << label << "\n" << (t.defined() ? t : at::Tensor()) << "\n";
  return path;
}

std::vector<std::pair<std::string, at::Tensor>> labelled(const Inputs& in) {
  return {{"u", in.u}, {"delta", in.delta}, {"A", in.A},       {"B", in.B}, {"C", in.C},
          {"D", in.D}, {"z", in.z},         {"delta_bias", in.bias}, {"initial_state", in.h0}};
}

std::vector<Case> conformance_cases() {
  // (batch, dim, N, L, groups): odd sizes, N around the vector widths (4 doubles, 8 floats),
  // L around the 256-step chunk, G = 1 as 3-dim and 4-dim B/C, and G = 3.
  struct Shape {
    int64_t batch, dim, dstate, len, groups;
  };
  const std::vector<Shape> shapes = {{1, 1, 1, 1, 0},    {2, 3, 7, 31, 0},    {1, 33, 16, 257, 0},
                                     {2, 3, 17, 0, 0},   {2, 6, 16, 600, 3},  {1, 3, 7, 257, 1},
                                     {2, 33, 17, 31, 3}, {1, 1, 16, 600, 0},  {2, 3, 1, 256, 3},
                                     {1, 3, 16, 1, 3},   {2, 33, 1, 600, 1},  {1, 6, 17, 512, 0}};
  std::vector<Case> cases;
  int64_t turn = 0;
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (const auto& s : shapes) {
      // Every optional argument present, absent, and two alternating mixes.
      for (int pattern = 0; pattern < 4; ++pattern) {
        const bool odd = pattern == 2, even = pattern == 3;
        const bool all = pattern == 0;
        Case c{s.batch, s.dim, s.dstate, s.len, s.groups,
               all || odd, all || even, all || odd, all || even, all || odd, all || even, dtype, turn % 2 == 1};
        cases.push_back(c);
        ++turn;
      }
    }
  }
  return cases;
}

}  // namespace

TEST(SelectiveScan, MatchesReferenceOverConformanceTable) {
  at::manual_seed(0);
  const auto cases = conformance_cases();
  ASSERT_EQ(cases.size(), 96u);
  double float_error = 0, float_aten_error = 0;
  for (const auto& c : cases) {
    const Inputs in = make_inputs(c);
    if (c.strided && c.len > 1 && c.dim > 1) {  // a view with a length-1 axis may count as contiguous
      ASSERT_FALSE(in.u.is_contiguous() || in.delta.is_contiguous()) << name(c);
    }
    const auto [out, last] = run_public(in, c);
    const auto [want_out, want_last] = run_reference(in, c);
    ASSERT_EQ(out.scalar_type(), c.dtype) << name(c);
    ASSERT_EQ(out.sizes(), in.u.sizes()) << name(c);
    ASSERT_EQ(last.defined(), c.return_last) << name(c);
    const double scale = scale_of(want_out);
    const double tol = c.dtype == at::kFloat ? kTolFloat : kTolDouble;
    const double err = max_abs_diff(out, want_out) / scale;
    ASSERT_TRUE(std::isfinite(err) && err <= tol)
        << name(c) << ": max |kernel - reference| / scale = " << err << " > " << tol << "; inputs in "
        << dump_failure(name(c), [&] {
             auto t = labelled(in);
             t.push_back({"expected", want_out});
             t.push_back({"actual", out});
             return t;
           }());
    if (c.return_last) {
      ASSERT_EQ(last.sizes(), at::IntArrayRef({c.batch, c.dim, c.dstate})) << name(c);
      ASSERT_EQ(last.scalar_type(), c.dtype) << name(c);
      ASSERT_LE(max_abs_diff(last, want_last) / scale_of(want_last), tol) << name(c) << " last_state";
    }
    // Not vacuous.
    if (c.len > 0) {
      ASSERT_GT(want_out.abs().max().item<double>(), 1e-3) << name(c);
    }

    // Both CPU code paths, through the internal entry.
    for (auto path : {ScanCpuPath::kPortable, ScanCpuPath::kAvx2}) {
      if (path == ScanCpuPath::kAvx2 && !strand::kernels::selective_scan_cpu_has_avx2()) continue;
      const auto [o, l, states] = strand::kernels::selective_scan_forward_cpu(
          in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, c.softplus, in.h0, true, path);
      ASSERT_LE(max_abs_diff(o, want_out) / scale, tol) << name(c) << " path " << static_cast<int>(path);
      ASSERT_EQ(states.sizes(),
                at::IntArrayRef({c.batch, c.dim, strand::kernels::selective_scan_chunks(c.len), c.dstate}));
    }

    const auto [aten_out, aten_last] = run_aten(in, c);
    const double aten_err = max_abs_diff(aten_out, want_out) / scale;
    if (c.dtype == at::kFloat) {
      float_error += err;
      float_aten_error += aten_err;
    } else {
      ASSERT_LE(aten_err, kTolDouble) << name(c) << ": selective_scan_aten disagrees with the reference";
    }
    if (c.return_last) {
      ASSERT_LE(max_abs_diff(aten_last, want_last) / scale_of(want_last), tol) << name(c) << " aten last_state";
    }
  }
  EXPECT_LE(float_error, kFloatAtenFactor * float_aten_error)
      << "summed float32 error: kernel " << float_error << ", selective_scan_aten " << float_aten_error;
}

namespace {

/// Every defined input of `in`, with the names used in messages.
std::vector<std::pair<std::string, at::Tensor*>> differentiable(Inputs& in) {
  std::vector<std::pair<std::string, at::Tensor*>> all = {
      {"u", &in.u}, {"delta", &in.delta}, {"A", &in.A},       {"B", &in.B},          {"C", &in.C},
      {"D", &in.D}, {"z", &in.z},         {"delta_bias", &in.bias}, {"initial_state", &in.h0}};
  std::vector<std::pair<std::string, at::Tensor*>> defined;
  for (const auto& e : all) {
    if (e.second->defined()) defined.push_back(e);
  }
  return defined;
}

/// How the loss uses the outputs.
enum class LossUse { kOutAndLast, kOutOnly, kLastOnly };

const char* loss_name(LossUse use) {
  switch (use) {
    case LossUse::kOutAndLast:
      return "loss(out, last_state)";
    case LossUse::kOutOnly:
      return "loss(out), last_state not returned";
    case LossUse::kLastOnly:
      return "loss(last_state) only";
  }
  return "?";
}

/// Gradients of sum(out * w_out) + sum(last_state * w_last) (terms per `use`) with respect to
/// every defined input, through `fn`.
std::vector<at::Tensor> loss_gradients(
    const std::function<std::tuple<at::Tensor, at::Tensor>(const Inputs&, const Case&)>& fn, const Inputs& in0,
    Case c, LossUse use, const at::Tensor& w_out, const at::Tensor& w_last) {
  Inputs in = in0;
  std::vector<at::Tensor> leaves;
  for (auto& [label, t] : differentiable(in)) {
    *t = t->detach().clone().requires_grad_();
    leaves.push_back(*t);
  }
  c.return_last = use != LossUse::kOutOnly;
  const auto [out, last] = fn(in, c);
  at::Tensor loss;
  if (use != LossUse::kLastOnly) loss = (out * w_out).sum();
  if (use != LossUse::kOutOnly) loss = loss.defined() ? loss + (last * w_last).sum() : (last * w_last).sum();
  return torch::autograd::grad({loss}, leaves, {}, /*retain_graph=*/false, /*create_graph=*/false,
                               /*allow_unused=*/true);
}

}  // namespace

TEST(SelectiveScan, GradientsMatchAtenAutogradInDouble) {
  at::manual_seed(2);
  struct GradCase {
    Case c;
    LossUse use;
  };
  const auto k = at::kDouble;
  const std::vector<GradCase> cases = {
      {{2, 3, 7, 31, 0, true, true, true, true, true, true, k, false}, LossUse::kOutAndLast},
      {{2, 6, 16, 600, 3, true, true, true, true, true, true, k, true}, LossUse::kOutAndLast},
      {{1, 33, 17, 257, 0, false, false, false, false, true, true, k, false}, LossUse::kOutAndLast},
      {{2, 3, 1, 256, 3, true, false, true, false, true, true, k, true}, LossUse::kOutAndLast},
      {{1, 3, 16, 1, 1, false, true, false, true, false, true, k, false}, LossUse::kOutAndLast},
      {{1, 6, 16, 513, 0, true, true, true, true, true, true, k, false}, LossUse::kOutOnly},
      {{2, 6, 5, 300, 2, true, true, true, true, true, true, k, true}, LossUse::kLastOnly},
      {{2, 3, 5, 0, 0, true, true, true, true, true, true, k, false}, LossUse::kOutAndLast},
      {{1, 4, 9, 40, 4, false, true, false, true, false, false, k, false}, LossUse::kOutOnly},
  };
  const auto public_fn = [](const Inputs& in, const Case& c) { return run_public(in, c); };
  const auto aten_fn = [](const Inputs& in, const Case& c) { return run_aten(in, c); };
  for (const auto& [c, use] : cases) {
    Inputs in = make_inputs(c);
    const auto w_out = at::randn({c.batch, c.dim, c.len}, at::kDouble);
    const auto w_last = at::randn({c.batch, c.dim, c.dstate}, at::kDouble);
    const auto got = loss_gradients(public_fn, in, c, use, w_out, w_last);
    const auto want = loss_gradients(aten_fn, in, c, use, w_out, w_last);
    const auto names = differentiable(in);
    ASSERT_EQ(got.size(), names.size());
    const std::string what = name(c) + ", " + loss_name(use);
    for (size_t i = 0; i < got.size(); ++i) {
      const std::string label = what + ": d" + names[i].first;
      // An input the loss does not reach has no gradient in ATen autograd (undefined) and zeros
      // from the kernel (which always returns every gradient).
      const at::Tensor expected = want[i].defined() ? want[i] : at::zeros_like(*names[i].second);
      ASSERT_TRUE(got[i].defined()) << label;
      ASSERT_EQ(got[i].sizes(), names[i].second->sizes()) << label;
      const double err = max_abs_diff(got[i], expected) / scale_of(expected);
      ASSERT_LE(err, kTolGradDouble) << label << "; inputs in "
                                     << dump_failure(label, [&] {
                                          auto t = labelled(in);
                                          t.push_back({"expected", expected});
                                          t.push_back({"actual", got[i]});
                                          return t;
                                        }());
    }
    // Not vacuous: with L > 0 the gradients of u and A are not all zero.
    // Not vacuous: with L > 0 the gradient of u is not all zero, nor that of A once a state
    // exists before some step (dA_n sums g_t dt_t exp(dt_t A) h_{t-1}).
    if (c.len > 0 && use != LossUse::kLastOnly) {
      EXPECT_GT(want[0].abs().max().item<double>(), 1e-3) << what;
      if (c.len > 1 || c.has_h0) {
        EXPECT_GT(want[2].abs().max().item<double>(), 1e-3) << what;
      }
    }
  }
}

TEST(SelectiveScan, BothCpuCodePathsGiveTheSameGradients) {
  // The portable and the AVX2 + FMA builds of the kernel differ only in rounding (FMA, vector
  // width); compare each with ATen autograd in double, with float32 against each other.
  at::manual_seed(9);
  if (!strand::kernels::selective_scan_cpu_has_avx2()) {
    // Without AVX2 + FMA only the portable path exists; asking for the other one is a clear error.
    const Inputs in = make_inputs({1, 2, 3, 5, 1, false, false, false, false, false, false, at::kFloat, false});
    try {
      strand::kernels::selective_scan_forward_cpu(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, false,
                                                  in.h0, false, ScanCpuPath::kAvx2);
      ADD_FAILURE() << "the AVX2 path ran on a processor without AVX2 + FMA";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find("lacks AVX2 or FMA"), std::string::npos) << e.what();
    }
    return;
  }
  for (auto dtype : {at::kDouble, at::kFloat}) {
    const Case c{2, 6, 17, 300, 3, true, true, true, true, true, true, dtype, true};
    const Inputs in = make_inputs(c);
    const auto grad_out = at::randn({c.batch, c.dim, c.len}, dtype);
    const auto grad_last = at::randn({c.batch, c.dim, c.dstate}, dtype);
    std::vector<std::vector<at::Tensor>> results;
    for (auto path : {ScanCpuPath::kPortable, ScanCpuPath::kAvx2}) {
      const auto [out, last, states] = strand::kernels::selective_scan_forward_cpu(
          in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, c.softplus, in.h0, true, path);
      const auto g = strand::kernels::selective_scan_backward_cpu(grad_out, grad_last, in.u, in.delta, in.A, in.B,
                                                                  in.C, in.D, in.z, in.bias, c.softplus, in.h0,
                                                                  states, path);
      results.push_back({out, last, std::get<0>(g), std::get<1>(g), std::get<2>(g), std::get<3>(g), std::get<4>(g),
                         std::get<5>(g), std::get<6>(g), std::get<7>(g), std::get<8>(g)});
    }
    // float32: both paths round differently at every step (FMA, exp); the difference is of the
    // order of the kernel's float32 error (kTolFloat): <= 1.7e-7 observed.
    const double tol = dtype == at::kFloat ? kTolFloat : kTolGradDouble;
    for (size_t i = 0; i < results[0].size(); ++i) {
      EXPECT_LE(max_abs_diff(results[0][i], results[1][i]) / scale_of(results[0][i]), tol)
          << name(c) << " result " << i;
    }
  }
}

TEST(SelectiveScan, GradientsMatchFiniteDifferences) {
  // Central differences in double: truncation error ~ eps^2 = 1e-12 times third derivatives of
  // order 1, rounding error ~ 1e-16 * |loss| / eps ~ 1e-8 for losses up to ~100 (<= 3e-9
  // observed); 1e-6, relative to max(1, |gradient|), separates both from a wrong gradient. Loss = sum(out * w_out) + sum(last_state * w_last), so the last_state path counts.
  at::manual_seed(3);
  struct FdCase {
    Case c;
    int64_t samples;  // elements checked per input (0: all)
  };
  const auto k = at::kDouble;
  const std::vector<FdCase> cases = {
      {{1, 2, 3, 5, 2, true, true, true, true, true, true, k, false}, 0},
      {{1, 2, 3, 5, 0, true, false, true, false, true, true, k, false}, 0},
      // Crosses the chunk boundary at 256: the backward's recompute from a saved state.
      {{1, 2, 4, 300, 1, true, true, true, true, true, true, k, false}, 12},
  };
  for (const auto& [c, samples] : cases) {
    Inputs in = make_inputs(c);
    const auto w_out = at::randn({c.batch, c.dim, c.len}, at::kDouble);
    const auto w_last = at::randn({c.batch, c.dim, c.dstate}, at::kDouble);
    const auto public_fn = [](const Inputs& x, const Case& cc) { return run_public(x, cc); };
    const auto grads = loss_gradients(public_fn, in, c, LossUse::kOutAndLast, w_out, w_last);
    const auto loss_at = [&](const Inputs& x) {
      const auto [out, last] = run_public(x, c);
      return ((out * w_out).sum() + (last * w_last).sum()).item<double>();
    };
    const auto names = differentiable(in);
    constexpr double eps = 1e-6;
    for (size_t i = 0; i < names.size(); ++i) {
      const int64_t numel = names[i].second->numel();
      const int64_t count = samples == 0 ? numel : std::min(samples, numel);
      for (int64_t s = 0; s < count; ++s) {
        // Sampled elements spread over the tensor, including its last one.
        const int64_t e = samples == 0 || count == 1 ? s : s * (numel - 1) / (count - 1);
        const auto at_shift = [&](double step) {
          Inputs x = in;
          *differentiable(x)[i].second = names[i].second->clone();
          differentiable(x)[i].second->view(-1)[e] += step;
          return loss_at(x);
        };
        const double numeric = (at_shift(eps) - at_shift(-eps)) / (2 * eps);
        const double analytic = grads[i].reshape(-1)[e].item<double>();
        ASSERT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
            << name(c) << ": d" << names[i].first << " element " << e;
      }
    }
  }
}

TEST(SelectiveScan, BackwardIsDeterministic) {
  // batch * G = 1 pair gives the backward several channel blocks with their own dB/dC buffers
  // (when there are several threads): two runs must agree bit for bit.
  at::manual_seed(4);
  const Case c{1, 33, 16, 600, 0, true, true, true, true, true, true, at::kFloat, false};
  const Inputs in = make_inputs(c);
  const auto w_out = at::randn({c.batch, c.dim, c.len});
  const auto w_last = at::randn({c.batch, c.dim, c.dstate});
  const auto public_fn = [](const Inputs& x, const Case& cc) { return run_public(x, cc); };
  const auto first = loss_gradients(public_fn, in, c, LossUse::kOutAndLast, w_out, w_last);
  const auto second = loss_gradients(public_fn, in, c, LossUse::kOutAndLast, w_out, w_last);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(at::equal(first[i], second[i])) << "gradient " << i;
}

TEST(SelectiveScan, ResultsAgreeAcrossThreadCounts) {
  // Different thread counts split the channels of a group into different blocks; the sums then
  // differ only in rounding.
  at::manual_seed(8);
  const int original = at::get_num_threads();
  const Case c{1, 12, 16, 300, 2, true, true, true, true, true, true, at::kDouble, false};
  const Inputs in = make_inputs(c);
  const auto w_out = at::randn({c.batch, c.dim, c.len}, at::kDouble);
  const auto w_last = at::randn({c.batch, c.dim, c.dstate}, at::kDouble);
  const auto public_fn = [](const Inputs& x, const Case& cc) { return run_public(x, cc); };
  std::vector<at::Tensor> reference;
  for (int threads : {1, 3, 8}) {
    at::set_num_threads(threads);
    const auto grads = loss_gradients(public_fn, in, c, LossUse::kOutAndLast, w_out, w_last);
    if (reference.empty()) {
      reference = grads;
      continue;
    }
    for (size_t i = 0; i < grads.size(); ++i) {
      EXPECT_LE(max_abs_diff(grads[i], reference[i]) / scale_of(reference[i]), 1e-13) << threads << " " << i;
    }
  }
  at::set_num_threads(original);
}

TEST(SelectiveScan, EmptySequenceReturnsTheInitialState) {
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  const auto u = at::zeros({2, 3, 0}, opt), A = -at::ones({3, 4}, opt), B = at::zeros({2, 4, 0}, opt);
  const auto h0 = at::randn({2, 3, 4}, opt).requires_grad_();
  const auto [out, last] = selective_scan(u, u, A, B, B, at::Tensor(), at::Tensor(), at::Tensor(), true, h0, true);
  EXPECT_EQ(out.sizes(), u.sizes());
  EXPECT_TRUE(at::equal(last, h0));
  const auto w = at::randn({2, 3, 4}, opt);
  const auto grads = torch::autograd::grad({(last * w).sum()}, {h0});
  EXPECT_TRUE(at::equal(grads[0], w));
  // Without an initial state the last state is zero.
  const auto [out2, last2] =
      selective_scan(u, u, A, B, B, at::Tensor(), at::Tensor(), at::Tensor(), true, at::Tensor(), true);
  EXPECT_EQ(last2.abs().max().item<double>(), 0.0);
}

TEST(SelectiveScan, ExtremeDecayAndNaNInputs) {
  // A = -1e4: exp(dt A) underflows (the kernel's exp clamps its argument and gives <= 1e-38 in
  // float32, 1e-307 in float64, where libm gives 0), so the state forgets everything each step:
  // h_t = dt_t B_t u_t. Both must agree with the reference to the table's tolerances.
  at::manual_seed(10);
  for (auto dtype : {at::kFloat, at::kDouble}) {
    Case c{2, 3, 7, 40, 0, true, true, true, true, true, true, dtype, false};
    Inputs in = make_inputs(c);
    in.A = at::full({c.dim, c.dstate}, -1e4, dtype);
    const auto [out, last] = run_public(in, c);
    const auto [want_out, want_last] = run_reference(in, c);
    const double tol = dtype == at::kFloat ? kTolFloat : kTolDouble;
    EXPECT_LE(max_abs_diff(out, want_out) / scale_of(want_out), tol) << name(c);
    EXPECT_LE(max_abs_diff(last, want_last) / scale_of(want_last), tol) << name(c);
    // A NaN input reaches the output of its own row from its step on, and no other row.
    in.u = in.u.clone();
    in.u[1][2][10] = std::nan("");
    const auto [nan_out, nan_last] = run_public(in, c);
    EXPECT_TRUE(at::isnan(nan_out[1][2].narrow(0, 10, c.len - 10)).all().item<bool>()) << name(c);
    EXPECT_FALSE(at::isnan(nan_out[1][2].narrow(0, 0, 10)).any().item<bool>()) << name(c);
    EXPECT_FALSE(at::isnan(nan_out[0]).any().item<bool>()) << name(c);
  }
}

TEST(SelectiveScan, OtherDevicesTakeTheAtenPath) {
  // No strand kernel is registered for the Meta device: the public entry routes it to
  // selective_scan_aten, which gives the shapes and dtypes without data.
  const auto meta = at::TensorOptions().device(at::kMeta).dtype(at::kFloat);
  const auto u = at::empty({2, 6, 5}, meta), A = at::empty({6, 4}, meta), B = at::empty({2, 3, 4, 5}, meta);
  const auto [out, last] =
      selective_scan(u, u, A, B, B, at::empty({6}, meta), u, at::empty({6}, meta), true, at::Tensor(), true);
  EXPECT_TRUE(out.is_meta());
  EXPECT_EQ(out.sizes(), u.sizes());
  EXPECT_EQ(last.sizes(), at::IntArrayRef({2, 6, 4}));
}

TEST(SelectiveScan, InferenceModeNoGradAndAutogradGiveTheSameOutput) {
  at::manual_seed(5);
  const Case c{2, 6, 16, 300, 3, true, true, true, true, true, true, at::kFloat, false};
  Inputs in = make_inputs(c);
  at::Tensor out_inf, last_inf;
  {
    const c10::InferenceMode guard;  // skips the Autograd kernel: the CPU kernel is called directly
    std::tie(out_inf, last_inf) = run_public(in, c);
  }
  // Without an input that requires grad the Autograd kernel calls the same kernel directly.
  const auto [out_plain, last_plain] = run_public(in, c);
  // With one, it runs the autograd function's forward (which also keeps the chunk states).
  in.u.requires_grad_();
  const auto [out, last] = run_public(in, c);
  EXPECT_TRUE(out.requires_grad());
  for (const auto& [o, l] : {std::make_pair(out, last), std::make_pair(out_plain, last_plain)}) {
    EXPECT_TRUE(at::equal(o.detach(), out_inf));
    EXPECT_TRUE(at::equal(l.detach(), last_inf));
  }
}

TEST(SelectiveScan, SecondDerivativesAreRejected) {
  at::manual_seed(6);
  const Case c{1, 2, 3, 5, 0, true, true, true, true, true, true, at::kDouble, false};
  Inputs in = make_inputs(c);
  in.u.requires_grad_();
  const auto [out, last] = run_public(in, c);
  const auto g = torch::autograd::grad({out.sum()}, {in.u}, {}, /*retain_graph=*/true, /*create_graph=*/false);
  EXPECT_EQ(g[0].sizes(), in.u.sizes());
  try {
    torch::autograd::grad({out.sum()}, {in.u}, {}, /*retain_graph=*/true, /*create_graph=*/true);
    ADD_FAILURE() << "create_graph did not throw";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("second derivatives are not supported"), std::string::npos) << e.what();
  }
}

TEST(SelectiveScan, BadArgumentsAreClearErrors) {
  const auto u = at::randn({2, 6, 5});
  const auto A = -at::ones({6, 4});
  const auto B = at::randn({2, 4, 5});
  const auto B4 = at::randn({2, 3, 4, 5});
  const auto expect_error = [](const std::function<void()>& call, const std::string& needle) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const at::Tensor none;
  const auto scan = [&](const at::Tensor& uu, const at::Tensor& dd, const at::Tensor& AA, const at::Tensor& BB,
                        const at::Tensor& CC, const at::Tensor& D, const at::Tensor& z, const at::Tensor& bias,
                        const at::Tensor& h0) {
    return [=] { selective_scan(uu, dd, AA, BB, CC, D, z, bias, true, h0, true); };
  };
  expect_error(scan(u[0], u[0], A, B, B, none, none, none, none), "u must be (batch, dim, L)");
  expect_error(scan(u, u.narrow(2, 0, 4), A, B, B, none, none, none, none), "delta must be (batch, dim, L)");
  expect_error(scan(u, u, A.narrow(0, 0, 5), B, B, none, none, none, none), "A must be (dim, N) with dim = 6");
  expect_error(scan(u, u, A, B.narrow(1, 0, 3), B.narrow(1, 0, 3), none, none, none, none),
               "B must be (batch, N, L) = (2, 4, 5)");
  expect_error(scan(u, u, A, B4.narrow(1, 0, 0), B4.narrow(1, 0, 0), none, none, none, none), "with G >= 1");
  expect_error(scan(u, u, A, at::randn({2, 4, 4, 5}), at::randn({2, 4, 4, 5}), none, none, none, none),
               "must be divisible by the number of groups G (4)");
  expect_error(scan(u, u, A, B4, B, none, none, none, none), "C must have the shape of B");
  expect_error(scan(u, u, A, B, B, at::ones({5}), none, none, none), "D must be (dim) = (6)");
  expect_error(scan(u, u, A, B, B, none, u.narrow(1, 0, 5), none, none), "z must be (batch, dim, L)");
  expect_error(scan(u, u, A, B, B, none, none, at::ones({2, 6}), none), "delta_bias must be (dim) = (6)");
  expect_error(scan(u, u, A, B, B, none, none, none, at::zeros({2, 6, 3})),
               "initial_state must be (batch, dim, N) = (2, 6, 4)");
  expect_error(scan(u, u, A.to(at::kDouble), B, B, none, none, none, none), "but A is Double");
  expect_error(scan(u.to(at::kLong), u.to(at::kLong), A.to(at::kLong), B.to(at::kLong), B.to(at::kLong), none, none,
                    none, none),
               "u must be a floating-point tensor");
  expect_error(scan(u.to(at::kHalf), u.to(at::kHalf), A.to(at::kHalf), B.to(at::kHalf), B.to(at::kHalf), none, none,
                    none, none),
               "supports float32 and float64, got Half");
  expect_error([&] { selective_scan_aten(u, u, A, B, B.narrow(2, 0, 4), none, none, none, true, none, true); },
               "C must have the shape of B");
  // The ATen formulation takes half precision (computed in float32).
  const auto [out_half, last_half] = selective_scan_aten(u.to(at::kHalf), u.to(at::kHalf), A.to(at::kHalf),
                                                         B.to(at::kHalf), B.to(at::kHalf), none, none, none, true,
                                                         none, true);
  EXPECT_EQ(out_half.scalar_type(), at::kHalf);
  EXPECT_EQ(last_half.scalar_type(), at::kFloat);
}

TEST(SelectiveScan, CudaEntryPointInCpuBuildSaysBuiltWithoutCuda) {
  if (strand::kernels::built_with_cuda()) GTEST_SKIP() << "this build has CUDA kernels";
  // Route the call to the CUDA dispatch key explicitly: a CPU-only LibTorch cannot make CUDA tensors.
  using Opt = strand::compat::optional<at::Tensor>;
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("strand::selective_scan", "")
                .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                          const at::Tensor&, const at::Tensor&, const Opt&,
                                                          const Opt&, const Opt&, bool, const Opt&, bool)>();
  const auto u = at::zeros({1, 2, 3}), A = at::zeros({2, 4}), B = at::zeros({1, 4, 3});
  try {
    op.redispatch(c10::DispatchKeySet(c10::DispatchKey::CUDA), u, u, A, B, B, Opt(), Opt(), Opt(), true, Opt(),
                  false);
    FAIL() << "the CUDA entry point did not throw";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("strand::selective_scan has no CUDA implementation in this build"),
              std::string::npos)
        << e.what();
  }
}

TEST(SelectiveScan, CudaMatchesReference) {
  if (!strand::kernels::built_with_cuda() || strand::kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device";
  at::manual_seed(7);
  const auto to_cuda = [](const Inputs& in) {
    Inputs g;
    const auto move = [](const at::Tensor& t) { return t.defined() ? t.cuda() : t; };
    g.u = move(in.u);
    g.delta = move(in.delta);
    g.A = move(in.A);
    g.B = move(in.B);
    g.C = move(in.C);
    g.D = move(in.D);
    g.z = move(in.z);
    g.bias = move(in.bias);
    g.h0 = move(in.h0);
    return g;
  };
  for (const auto& c : conformance_cases()) {
    const Inputs in = make_inputs(c);
    const auto [out, last] = run_public(to_cuda(in), c);
    const auto [want_out, want_last] = run_reference(in, c);
    const double tol = c.dtype == at::kFloat ? kTolFloat : kTolDouble;
    ASSERT_LE(max_abs_diff(out.cpu(), want_out) / scale_of(want_out), tol) << name(c);
    if (c.return_last) {
      ASSERT_LE(max_abs_diff(last.cpu(), want_last) / scale_of(want_last), tol) << name(c);
    }
  }
  // Backward on CUDA against ATen autograd on CPU, in double.
  const Case c{2, 6, 16, 600, 3, true, true, true, true, true, true, at::kDouble, true};
  const Inputs in = make_inputs(c);
  const auto w_out = at::randn({c.batch, c.dim, c.len}, at::kDouble);
  const auto w_last = at::randn({c.batch, c.dim, c.dstate}, at::kDouble);
  const auto cuda_fn = [&](const Inputs& x, const Case& cc) {
    const auto [o, l] = run_public(to_cuda(x), cc);
    return std::make_tuple(o.cpu(), l.cpu());
  };
  const auto aten_fn = [](const Inputs& x, const Case& cc) { return run_aten(x, cc); };
  const auto got = loss_gradients(cuda_fn, in, c, LossUse::kOutAndLast, w_out, w_last);
  const auto want = loss_gradients(aten_fn, in, c, LossUse::kOutAndLast, w_out, w_last);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(max_abs_diff(got[i], want[i]) / scale_of(want[i]), kTolGradDouble) << "gradient " << i;
  }
}
