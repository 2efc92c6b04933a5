// Conformance table for strand::causal_conv1d (kernels/causal_conv1d) against the plain reference
// (causal_conv1d_ref.cpp, double loops); decode and segment-splitting semantics; gradients against
// ATen autograd of an ATen formulation (grouped conv1d with left padding) and finite differences;
// argument errors; the CUDA entry points.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/causal_conv1d/causal_conv1d.h"
#include "kernels/common/device.h"
#include "kernels/common/torch_compat.h"

using strand::causal_conv1d;
using strand::causal_conv1d_reference;
using strand::causal_conv1d_update;

namespace {

// Oracles and tolerances (absolute; inputs are randn, so outputs are at most ~10 in magnitude):
// - float64: kernel and reference both compute in double from the same inputs and differ only
//   in the order of <= 5 additions and in exp rounding: <= 1.8e-15 observed; 1e-12 hides no bug.
constexpr double kTolDouble = 1e-12;
// - float32: the kernel accumulates <= 4 products and the bias in float and applies silu in
//   float; a handful of roundings of 6e-8 relative on values <= 10: <= 1.9e-6 observed; 1e-5.
constexpr double kTolFloat = 1e-5;
// - gradients in float64 against ATen autograd of conv1d: same sums in another order, the
//   weight and bias gradients over <= 2 x 257 terms: <= 7.6e-14 observed; bound 1e-11.
constexpr double kTolGradDouble = 1e-11;

struct Case {
  int64_t width, dim, len;
  bool bias, silu, init;
  at::ScalarType dtype;
  bool strided;   // x, bias and initial_state are non-contiguous views
  bool weight3d;  // weight given as (dim, 1, W) instead of (dim, W)
};

std::string name(const Case& c) {
  return std::string(c.dtype == at::kFloat ? "float32" : "float64") + " W" + std::to_string(c.width) + " dim" +
         std::to_string(c.dim) + " L" + std::to_string(c.len) + (c.bias ? " bias" : "") + (c.silu ? " silu" : "") +
         (c.init ? " initial_state" : "") + (c.strided ? " non-contiguous" : "") +
         (c.weight3d ? " weight (dim,1,W)" : " weight (dim,W)");
}

struct Inputs {
  at::Tensor x, weight, bias, init;
};

constexpr int64_t kBatch = 2;

/// Random inputs in the dtype of the case; `strided` makes x, bias and init views with gaps or
/// transposes (dtype conversion keeps the strides of a view).
Inputs make_inputs(const Case& c) {
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  Inputs in;
  if (c.strided) {
    in.x = at::randn({kBatch, c.len, c.dim}, opt).transpose(1, 2);
    in.bias = at::randn({c.dim, 2}, opt).select(1, 1);
    in.init = at::randn({c.width - 1, kBatch, c.dim}, opt).permute({1, 2, 0});
  } else {
    in.x = at::randn({kBatch, c.dim, c.len}, opt);
    in.bias = at::randn({c.dim}, opt);
    in.init = at::randn({kBatch, c.dim, c.width - 1}, opt);
  }
  // Weight: (dim, W) transposed from (W, dim) when strided, so every stride pattern is met.
  in.weight = c.strided ? at::randn({c.width, c.dim}, opt).t() : at::randn({c.dim, c.width}, opt);
  if (c.weight3d) in.weight = in.weight.unsqueeze(1);
  in.x = in.x.to(c.dtype);
  in.weight = in.weight.to(c.dtype);
  in.bias = c.bias ? in.bias.to(c.dtype) : at::Tensor();
  in.init = c.init ? in.init.to(c.dtype) : at::Tensor();
  return in;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

/// Writes the tensors of a failing case to a text file and returns its path.
std::string dump_failure(const std::string& what, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  static int counter = 0;
  const std::string path = ::testing::TempDir() + "causal_conv1d_failure_" + std::to_string(counter++) + ".txt";
  std::ofstream out(path);
  out << what << "\n";
  for (const auto& [label, t] : tensors) out << "== " << label << "\n" << (t.defined() ? t : at::Tensor()) << "\n";
  return path;
}

/// The ATen formulation: left-pad x with the initial state (or zeros) and run a grouped conv1d.
at::Tensor conv_aten(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& init,
                     bool silu) {
  const int64_t dim = x.size(1), width = weight.size(-1);
  const auto xin = init.defined() ? at::cat({init, x}, 2) : at::constant_pad_nd(x, {width - 1, 0});
  const auto pre = at::conv1d(xin, weight.reshape({dim, 1, width}), bias, at::IntArrayRef{1}, at::IntArrayRef{0},
                              at::IntArrayRef{1}, dim);
  return silu ? at::silu(pre) : pre;
}

std::vector<Case> conformance_cases() {
  std::vector<Case> cases;
  int64_t turn = 0;
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (int64_t width : {2, 3, 4}) {
      for (int64_t dim : {1, 3, 33}) {
        for (int64_t len : {0, 1, 2, 5, 257}) {
          for (int flags = 0; flags < 8; ++flags) {
            // Layout and weight layout rotate with the case index, so every shape and flag
            // combination meets both of each over the table.
            cases.push_back({width, dim, len, (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0, dtype,
                             turn % 2 == 1, (turn / 2) % 2 == 1});
            ++turn;
          }
          ++turn;  // odd number of flag combinations per shape: shift the rotation
        }
      }
    }
  }
  return cases;
}

void expect_error(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(CausalConv1d, MatchesReferenceOverConformanceTable) {
  at::manual_seed(0);
  const auto cases = conformance_cases();
  ASSERT_EQ(cases.size(), 720u);
  int strided_seen = 0, weight3d_seen = 0;
  for (const auto& c : cases) {
    const Inputs in = make_inputs(c);
    if (c.strided && c.len > 1 && c.dim > 1) {
      ASSERT_FALSE(in.x.is_contiguous()) << name(c);
      ++strided_seen;
    }
    weight3d_seen += c.weight3d ? 1 : 0;
    const auto got = causal_conv1d(in.x, in.weight, in.bias, in.init, c.silu);
    const auto want = causal_conv1d_reference(in.x, in.weight, in.bias, in.init, c.silu);
    ASSERT_EQ(got.scalar_type(), c.dtype) << name(c);
    ASSERT_EQ(got.sizes(), in.x.sizes()) << name(c);
    ASSERT_TRUE(got.is_contiguous()) << name(c);
    const double err = max_abs_diff(got, want);
    const double tol = c.dtype == at::kFloat ? kTolFloat : kTolDouble;
    ASSERT_TRUE(std::isfinite(err) && err <= tol)
        << name(c) << ": max |kernel - reference| = " << err << " > " << tol << "; inputs in "
        << dump_failure(name(c), {{"x", in.x},
                                  {"weight", in.weight},
                                  {"bias", in.bias},
                                  {"initial_state", in.init},
                                  {"expected", want},
                                  {"actual", got}});
    if (c.len > 0) {
      ASSERT_GT(want.abs().max().item<double>(), 1e-3) << name(c) << ": vacuous case";
    }
  }
  EXPECT_GT(strided_seen, 100);
  EXPECT_GT(weight3d_seen, 300);
}

TEST(CausalConv1d, IntegerInputsAreExact) {
  // Small integers: every product and sum is exact in float32, so without silu the kernel must
  // equal the reference bit for bit (any wrong tap or offset changes an integer).
  at::manual_seed(1);
  for (int64_t width : {2, 3, 4}) {
    for (auto dtype : {at::kFloat, at::kDouble}) {
      const auto x = at::randint(-8, 9, {3, 5, 40}).to(dtype);
      const auto w = at::randint(-4, 5, {5, width}).to(dtype);
      const auto bias = at::randint(-4, 5, {5}).to(dtype);
      const auto init = at::randint(-8, 9, {3, 5, width - 1}).to(dtype);
      const auto got = causal_conv1d(x, w, bias, init, false);
      EXPECT_TRUE(at::equal(got, causal_conv1d_reference(x, w, bias, init, false))) << "W" << width;
      EXPECT_TRUE(at::equal(got, conv_aten(x, w, bias, init, false))) << "W" << width;
      // The first output of each row depends on the initial state: out[0] = bias + sum_k w[k] * xin[k - W + 1].
      const auto first = bias + (w.narrow(1, 0, width - 1) * init).sum(2) + w.select(1, width - 1) * x.select(2, 0);
      EXPECT_TRUE(at::equal(got.select(2, 0), first)) << "W" << width;
    }
  }
}

TEST(CausalConv1d, DecodeStepsMatchTheFullConvolution) {
  at::manual_seed(2);
  const int64_t batch = 2, dim = 7, len = 19;
  for (int64_t width : {2, 3, 4}) {
    for (bool silu : {false, true}) {
      for (auto dtype : {at::kFloat, at::kDouble}) {
        const double tol = dtype == at::kFloat ? kTolFloat : kTolDouble;
        const auto x = at::randn({batch, dim, len}, dtype);
        const auto w = at::randn({dim, 1, width}, dtype);
        const auto bias = at::randn({dim}, dtype);
        const std::string what = "W" + std::to_string(width) + (silu ? " silu " : " ") + c10::toString(dtype);
        // From a zero state: the Mamba-1 cache after a fresh start.
        {
          auto state = at::zeros({batch, dim, width}, dtype);
          const auto full = causal_conv1d(x, w, bias, at::Tensor(), silu);
          for (int64_t t = 0; t < len; ++t) {
            const auto step = causal_conv1d_update(x.select(2, t), state, w, bias, silu);
            ASSERT_EQ(step.sizes(), at::IntArrayRef({batch, dim}));
            ASSERT_LE(max_abs_diff(step, full.select(2, t)), tol) << what << " step " << t;
          }
          // The state holds the last W inputs, newest last.
          EXPECT_TRUE(at::equal(state, x.narrow(2, len - width, width))) << what;
        }
        // From a state that holds the tail of a previous segment, kept channel-last (the Mamba-2
        // cache layout): a non-contiguous state updated in place.
        {
          const auto previous = at::randn({batch, dim, 11}, dtype);
          auto storage = previous.narrow(2, 11 - width, width).transpose(1, 2).contiguous();  // (batch, W, dim)
          auto state = storage.transpose(1, 2);                                                 // (batch, dim, W) view
          ASSERT_FALSE(state.is_contiguous());
          const auto full = causal_conv1d(x, w, bias, previous.narrow(2, 11 - (width - 1), width - 1), silu);
          for (int64_t t = 0; t < len; ++t) {
            const auto step = causal_conv1d_update(x.select(2, t), state, w, bias, silu);
            ASSERT_LE(max_abs_diff(step, full.select(2, t)), tol) << what << " tail state, step " << t;
          }
          EXPECT_TRUE(at::equal(storage.transpose(1, 2), x.narrow(2, len - width, width))) << what;
        }
      }
    }
  }
}

TEST(CausalConv1d, UpdateAcceptsStridedInputsAndBothWeightLayouts) {
  at::manual_seed(3);
  const int64_t batch = 3, dim = 5, width = 4;
  const auto x = at::randn({dim, batch}, at::kDouble).t();  // non-contiguous (batch, dim)
  const auto w = at::randn({width, dim}, at::kDouble).t();  // non-contiguous (dim, W)
  const auto bias = at::randn({dim, 3}, at::kDouble).select(1, 2);
  const auto state0 = at::randn({batch, dim, width}, at::kDouble);
  auto s2 = state0.clone(), s3 = state0.clone();
  const auto out2 = causal_conv1d_update(x, s2, w, bias, true);
  const auto out3 = causal_conv1d_update(x, s3, w.unsqueeze(1), bias, true);
  // Reference: the documented shift, then one reference output over the new state.
  const auto shifted = at::cat({state0.narrow(2, 1, width - 1), x.unsqueeze(2)}, 2);
  const auto want = causal_conv1d_reference(shifted, w, bias, at::Tensor(), true).select(2, width - 1);
  EXPECT_LE(max_abs_diff(out2, want), kTolDouble);
  EXPECT_TRUE(at::equal(out2, out3));
  EXPECT_TRUE(at::equal(s2, shifted));
  EXPECT_TRUE(at::equal(s3, shifted));
}

TEST(CausalConv1d, SplittingASequenceWithTheInitialStateEqualsTheWhole) {
  at::manual_seed(4);
  const int64_t batch = 2, dim = 6, len = 23;
  for (int64_t width : {2, 3, 4}) {
    const auto x = at::randn({batch, dim, len}, at::kDouble);
    const auto w = at::randn({dim, width}, at::kDouble);
    const auto bias = at::randn({dim}, at::kDouble);
    const auto init = at::randn({batch, dim, width - 1}, at::kDouble);
    for (bool with_init : {false, true}) {
      const auto init0 = with_init ? init : at::Tensor();
      const auto whole = causal_conv1d(x, w, bias, init0, true);
      for (int64_t split : {0, 1, 2, 3, 10, 22, 23}) {
        const auto first = x.narrow(2, 0, split), second = x.narrow(2, split, len - split);
        // The W - 1 inputs before `second`: the tail of [initial_state or zeros, first].
        const auto before = at::cat({with_init ? init : at::zeros({batch, dim, width - 1}, x.options()), first}, 2);
        const auto carried = before.narrow(2, before.size(2) - (width - 1), width - 1);
        const auto joined =
            at::cat({causal_conv1d(first, w, bias, init0, true), causal_conv1d(second, w, bias, carried, true)}, 2);
        EXPECT_LE(max_abs_diff(joined, whole), kTolDouble)
            << "W" << width << " split " << split << (with_init ? " with initial_state" : "");
      }
    }
  }
}

TEST(CausalConv1d, GradientsMatchAtenAutogradInDouble) {
  at::manual_seed(5);
  int64_t turn = 0;
  for (int64_t width : {2, 3, 4}) {
    for (int64_t len : {0, 1, 5, 257}) {
      for (int flags = 0; flags < 8; ++flags) {
        const Case c{width, 33, len, (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0, at::kDouble,
                     turn % 2 == 0, (turn / 2) % 2 == 0};
        ++turn;
        Inputs in = make_inputs(c);
        std::vector<at::Tensor> leaves = {in.x.requires_grad_(), in.weight.requires_grad_()};
        if (c.bias) leaves.push_back(in.bias.requires_grad_());
        if (c.init) leaves.push_back(in.init.requires_grad_());
        // A non-contiguous cotangent as well.
        const auto grad_out = at::randn({kBatch, len, c.dim}, at::kDouble).transpose(1, 2);
        const auto got = torch::autograd::grad({causal_conv1d(in.x, in.weight, in.bias, in.init, c.silu)}, leaves,
                                               {grad_out});
        // L = 0: at::conv1d rejects an input shorter than the kernel; every gradient is zero.
        std::vector<at::Tensor> want;
        if (len == 0) {
          for (const auto& leaf : leaves) want.push_back(at::zeros_like(leaf));
        } else {
          want = torch::autograd::grad({conv_aten(in.x, in.weight, in.bias, in.init, c.silu)}, leaves, {grad_out});
        }
        const char* labels[] = {"dx", "dweight", c.bias ? "dbias" : "dinitial_state", "dinitial_state"};
        for (size_t i = 0; i < leaves.size(); ++i) {
          ASSERT_EQ(got[i].sizes(), leaves[i].sizes()) << name(c) << " " << labels[i];
          const double err = max_abs_diff(got[i], want[i]);
          ASSERT_LE(err, kTolGradDouble) << name(c) << " " << labels[i] << "; inputs in "
                                         << dump_failure(name(c), {{"x", in.x},
                                                                   {"weight", in.weight},
                                                                   {"bias", in.bias},
                                                                   {"initial_state", in.init},
                                                                   {"grad_out", grad_out},
                                                                   {"expected", want[i]},
                                                                   {"actual", got[i]}});
          if (len > 0) {
            ASSERT_GT(want[i].abs().max().item<double>(), 1e-3) << name(c) << " " << labels[i];
          }
        }
      }
    }
  }
}

TEST(CausalConv1d, Float32GradientsAreClose) {
  // float32 backward vs the float64 ATen gradient: the weight sums over 2 x 300 terms are
  // accumulated in double by the kernel and rounded once; the other gradients sum <= 4 float
  // products; 1e-4 covers inputs of magnitude ~3 with margin.
  at::manual_seed(6);
  const auto x = at::randn({2, 9, 300}).requires_grad_(), w = at::randn({9, 1, 4}).requires_grad_(),
             bias = at::randn({9}).requires_grad_(), init = at::randn({2, 9, 3}).requires_grad_();
  const auto grad_out = at::randn({2, 9, 300});
  const auto got = torch::autograd::grad({causal_conv1d(x, w, bias, init, true)}, {x, w, bias, init}, {grad_out});
  std::vector<at::Tensor> leaves64;
  for (const auto& t : {x, w, bias, init}) leaves64.push_back(t.detach().to(at::kDouble).requires_grad_());
  const auto want = torch::autograd::grad(
      {conv_aten(leaves64[0], leaves64[1], leaves64[2], leaves64[3], true)}, leaves64, {grad_out.to(at::kDouble)});
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i].scalar_type(), at::kFloat);
    EXPECT_LE(max_abs_diff(got[i], want[i]), 1e-4) << i;
  }
}

TEST(CausalConv1d, GradientsMatchFiniteDifferences) {
  // Central differences in double: truncation error ~ eps^2 = 1e-12 times third derivatives of
  // order 1, rounding ~ 1e-16 / eps = 1e-10; 1e-7 separates both from a wrong gradient.
  at::manual_seed(7);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  for (int64_t width : {2, 4}) {
    const auto x0 = at::randn({2, 3, 5}, opt), w0 = at::randn({3, 1, width}, opt), b0 = at::randn({3}, opt),
               s0 = at::randn({2, 3, width - 1}, opt), weight = at::randn({2, 3, 5}, opt);
    for (bool silu : {false, true}) {
      const auto loss = [&](const std::vector<at::Tensor>& v) {
        return (causal_conv1d(v[0], v[1], v[2], v[3], silu) * weight).sum();
      };
      std::vector<at::Tensor> leaves;
      for (const auto& t : {x0, w0, b0, s0}) leaves.push_back(t.clone().requires_grad_());
      const auto grads = torch::autograd::grad({loss(leaves)}, leaves);
      constexpr double eps = 1e-6;
      for (size_t which = 0; which < 4; ++which) {
        for (int64_t e = 0; e < leaves[which].numel(); ++e) {
          const auto at_shift = [&](double delta) {
            std::vector<at::Tensor> v = {x0.clone(), w0.clone(), b0.clone(), s0.clone()};
            v[which].view(-1)[e] += delta;
            return loss(v).item<double>();
          };
          const double numeric = (at_shift(eps) - at_shift(-eps)) / (2 * eps);
          ASSERT_NEAR(grads[which].reshape(-1)[e].item<double>(), numeric, 1e-7)
              << "W" << width << (silu ? " silu" : "") << " input " << which << " element " << e;
        }
      }
    }
  }
}

TEST(CausalConv1d, ResultsDoNotDependOnTheThreadCount) {
  at::manual_seed(8);
  const int original = at::get_num_threads();
  const auto x = at::randn({4, 40, 600}).requires_grad_(), w = at::randn({40, 3}).requires_grad_(),
             bias = at::randn({40}).requires_grad_();
  const auto grad_out = at::randn({4, 40, 600});
  std::vector<at::Tensor> first;
  for (int threads : {1, 3}) {
    at::set_num_threads(threads);
    const auto out = causal_conv1d(x, w, bias, at::Tensor(), true);
    auto grads = torch::autograd::grad({out}, {x, w, bias}, {grad_out});
    grads.push_back(out.detach());
    if (first.empty()) {
      first = grads;
      continue;
    }
    for (size_t i = 0; i < grads.size(); ++i) EXPECT_TRUE(at::equal(grads[i], first[i])) << threads << " " << i;
  }
  at::set_num_threads(original);
}

TEST(CausalConv1d, InferenceModeAndSecondDerivatives) {
  at::manual_seed(9);
  const auto x = at::randn({2, 4, 12}), w = at::randn({4, 4});
  const auto plain = causal_conv1d(x, w, at::Tensor(), at::Tensor(), true);
  at::Tensor inference, step;
  {
    const c10::InferenceMode guard;  // skips the Autograd kernels
    inference = causal_conv1d(x, w, at::Tensor(), at::Tensor(), true);
    auto state = at::zeros({2, 4, 4});
    step = causal_conv1d_update(x.select(2, 0), state, w, at::Tensor(), true);
  }
  EXPECT_TRUE(at::equal(plain, inference));
  EXPECT_LE(max_abs_diff(step, plain.select(2, 0)), kTolFloat);

  const auto xg = at::randn({1, 2, 6}, at::kDouble).requires_grad_();
  const auto out = causal_conv1d(xg, at::randn({2, 3}, at::kDouble), at::Tensor(), at::Tensor(), true);
  const auto g = torch::autograd::grad({out.sum()}, {xg}, {}, /*retain_graph=*/true, /*create_graph=*/false);
  EXPECT_EQ(g[0].sizes(), xg.sizes());
  EXPECT_THROW(torch::autograd::grad({out.sum()}, {xg}, {}, /*retain_graph=*/true, /*create_graph=*/true),
               c10::Error);
}

TEST(CausalConv1d, BadArgumentsAreClearErrors) {
  const auto x = at::randn({2, 3, 7});
  const auto w = at::randn({3, 4});
  expect_error([&] { causal_conv1d(x, at::randn({3, 1}), at::Tensor(), at::Tensor(), false); },
               "kernel width W must be in 2..4, got W = 1");
  expect_error([&] { causal_conv1d(x, at::randn({3, 1, 5}), at::Tensor(), at::Tensor(), false); },
               "kernel width W must be in 2..4, got W = 5");
  expect_error([&] { causal_conv1d(x[0], w, at::Tensor(), at::Tensor(), false); }, "x must be (batch, dim, L)");
  expect_error([&] { causal_conv1d(x, at::randn({4, 4}), at::Tensor(), at::Tensor(), false); },
               "weight has 4 channels but x has dim = 3");
  expect_error([&] { causal_conv1d(x, at::randn({3, 2, 4}), at::Tensor(), at::Tensor(), false); },
               "weight must be (dim, W) or (dim, 1, W)");
  expect_error([&] { causal_conv1d(x, w, at::randn({4}), at::Tensor(), false); }, "bias must be (dim) = (3)");
  expect_error([&] { causal_conv1d(x, w, at::Tensor(), at::randn({2, 3, 4}), false); },
               "initial_state must be (batch, dim, W - 1) = (2, 3, 3)");
  expect_error([&] { causal_conv1d(x, w.to(at::kDouble), at::Tensor(), at::Tensor(), false); },
               "weight must have the dtype of x");
  expect_error([&] { causal_conv1d(x, w, at::randn({3}, at::kDouble), at::Tensor(), false); },
               "bias must have the dtype of x");
  expect_error([&] { causal_conv1d(x.to(at::kHalf), w.to(at::kHalf), at::Tensor(), at::Tensor(), false); },
               "support float32 and float64, got Half");
  expect_error([&] { causal_conv1d(x.to(at::kLong), w.to(at::kLong), at::Tensor(), at::Tensor(), false); },
               "floating-point");
  auto state = at::zeros({2, 3, 4});
  expect_error([&] { causal_conv1d_update(x, state, w, at::Tensor(), false); }, "x must be (batch, dim)");
  expect_error([&] { causal_conv1d_update(x.select(2, 0), at::zeros({2, 3, 3}), w, at::Tensor(), false); },
               "conv_state must be (batch, dim, W) = (2, 3, 4)");
  expect_error([&] { causal_conv1d_update(x.select(2, 0), state, at::randn({3, 5}), at::Tensor(), false); },
               "kernel width W must be in 2..4");
  expect_error([&] { causal_conv1d_update(x.select(2, 0), state.to(at::kDouble), w, at::Tensor(), false); },
               "conv_state must have the dtype of x");
  const auto wg = w.clone().requires_grad_();
  expect_error([&] { causal_conv1d_update(x.select(2, 0), state, wg, at::Tensor(), false); },
               "causal_conv1d_update is not differentiable");
  {
    const at::NoGradGuard no_grad;  // the documented way to decode with trainable weights
    EXPECT_EQ(causal_conv1d_update(x.select(2, 0), state, wg, at::Tensor(), false).sizes(),
              at::IntArrayRef({2, 3}));
  }
}

TEST(CausalConv1d, CudaEntryPointsInCpuBuildSayBuiltWithoutCuda) {
  if (strand::kernels::built_with_cuda()) GTEST_SKIP() << "this build has CUDA kernels";
  // Route the calls to the CUDA dispatch key explicitly: a CPU-only LibTorch cannot make CUDA tensors.
  const auto x = at::zeros({1, 2, 3}), w = at::zeros({2, 3});
  const auto expect_no_cuda = [](const std::function<void()>& call, const std::string& op) {
    try {
      call();
      ADD_FAILURE() << op << ": the CUDA entry point did not throw";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(op + " has no CUDA implementation in this build"), std::string::npos)
          << e.what();
    }
  };
  const auto cuda = c10::DispatchKeySet(c10::DispatchKey::CUDA);
  expect_no_cuda(
      [&] {
        c10::Dispatcher::singleton()
            .findSchemaOrThrow("strand::causal_conv1d", "")
            .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const strand::compat::optional<at::Tensor>&,
                              const strand::compat::optional<at::Tensor>&, bool)>()
            .redispatch(cuda, x, w, strand::compat::nullopt, strand::compat::nullopt, true);
      },
      "strand::causal_conv1d");
  expect_no_cuda(
      [&] {
        auto state = at::zeros({1, 2, 3});
        c10::Dispatcher::singleton()
            .findSchemaOrThrow("strand::causal_conv1d_update", "")
            .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                              const strand::compat::optional<at::Tensor>&, bool)>()
            .redispatch(cuda, x.select(2, 0), state, w, strand::compat::nullopt, true);
      },
      "strand::causal_conv1d_update");
}

TEST(CausalConv1d, CudaMatchesReference) {
  if (!strand::kernels::built_with_cuda() || strand::kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device";
  at::manual_seed(10);
  for (const auto& c : conformance_cases()) {
    const Inputs in = make_inputs(c);
    const auto cuda = [](const at::Tensor& t) { return t.defined() ? t.cuda() : t; };
    const auto got = causal_conv1d(cuda(in.x), cuda(in.weight), cuda(in.bias), cuda(in.init), c.silu).cpu();
    const auto want = causal_conv1d_reference(in.x, in.weight, in.bias, in.init, c.silu);
    ASSERT_LE(max_abs_diff(got, want), c.dtype == at::kFloat ? kTolFloat : kTolDouble) << name(c);
  }
  // Backward on CUDA against ATen autograd on CPU, both weight layouts, with and without silu.
  for (int flags = 0; flags < 4; ++flags) {
    const Case c{4, 33, 257, true, (flags & 1) != 0, true, at::kDouble, true, (flags & 2) != 0};
    const Inputs in = make_inputs(c);
    std::vector<at::Tensor> gpu, cpu;
    for (const auto& t : {in.x, in.weight, in.bias, in.init}) {
      gpu.push_back(t.cuda().requires_grad_());
      cpu.push_back(t.clone().requires_grad_());
    }
    const auto grad_out = at::randn({kBatch, c.dim, c.len}, at::kDouble);
    const auto got =
        torch::autograd::grad({causal_conv1d(gpu[0], gpu[1], gpu[2], gpu[3], c.silu)}, gpu, {grad_out.cuda()});
    const auto want = torch::autograd::grad({conv_aten(cpu[0], cpu[1], cpu[2], cpu[3], c.silu)}, cpu, {grad_out});
    for (size_t i = 0; i < 4; ++i) EXPECT_LE(max_abs_diff(got[i].cpu(), want[i]), kTolGradDouble) << name(c) << " " << i;
  }
  // Decode on CUDA with a channel-last state.
  const auto x = at::randn({2, 6, 9}, at::kDouble), w = at::randn({6, 1, 4}, at::kDouble), b = at::randn({6}, at::kDouble);
  auto state = at::zeros({2, 4, 6}, at::kDouble).cuda().transpose(1, 2);
  const auto full = causal_conv1d_reference(x, w, b, at::Tensor(), true);
  for (int64_t t = 0; t < 9; ++t) {
    const auto step = causal_conv1d_update(x.select(2, t).cuda(), state, w.cuda(), b.cuda(), true).cpu();
    EXPECT_LE(max_abs_diff(step, full.select(2, t)), kTolDouble) << "step " << t;
  }
}
