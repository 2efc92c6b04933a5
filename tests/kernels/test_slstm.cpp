// strand::slstm: the ATen recurrence against the double reference, states across calls, float32,
// and gradients against finite differences in double.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "kernels/slstm/slstm.h"

namespace {

struct Inputs {
  at::Tensor wx, R, bias;
};

Inputs random_inputs(int64_t B, int64_t T, int64_t N, int64_t D, uint64_t seed) {
  at::manual_seed(seed);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  return {at::randn({B, T, 4, N, D}, opt) * 2, at::randn({N, D, 4, D}, opt) * 0.5, at::randn({4, N, D}, opt)};
}

void expect_close(const at::Tensor& a, const at::Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_LT((a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>(), tol) << what;
}

}  // namespace

TEST(Slstm, ForwardMatchesTheReference) {
  const Inputs x = random_inputs(2, 9, 3, 4, 21);
  strand::SlstmState ref_last;
  const at::Tensor ref = strand::slstm_reference(x.wx, x.R, x.bias, {}, &ref_last);
  ASSERT_TRUE(at::isfinite(ref).all().item<bool>());
  strand::SlstmState last;
  expect_close(strand::slstm_forward(x.wx, x.R, x.bias, {}, &last), ref, 1e-12, "forward");
  expect_close(last.c, ref_last.c, 1e-12, "c");
  expect_close(last.n, ref_last.n, 1e-12, "n");
  expect_close(last.m, ref_last.m, 1e-12, "m");
  // float32 within float rounding.
  const at::Tensor f32 = strand::slstm_forward(x.wx.to(at::kFloat), x.R.to(at::kFloat), x.bias.to(at::kFloat));
  EXPECT_EQ(f32.scalar_type(), at::kFloat);
  expect_close(f32, ref, 1e-4, "float32");
}

TEST(Slstm, StatesThreadAcrossCalls) {
  const Inputs x = random_inputs(1, 12, 2, 3, 22);
  const at::Tensor whole = strand::slstm_reference(x.wx, x.R, x.bias);
  strand::SlstmState mid;
  const at::Tensor a = strand::slstm_forward(x.wx.narrow(1, 0, 5), x.R, x.bias, {}, &mid);
  const at::Tensor b = strand::slstm_forward(x.wx.narrow(1, 5, 7), x.R, x.bias, mid);
  expect_close(at::cat({a, b}, 1), whole, 1e-12, "two calls");
  const at::Tensor b_ref = strand::slstm_reference(x.wx.narrow(1, 5, 7), x.R, x.bias, mid);
  expect_close(b_ref, b, 1e-12, "reference from the middle state");
}

TEST(Slstm, GradientsMatchFiniteDifferences) {
  const Inputs x = random_inputs(1, 4, 2, 2, 23);
  const at::Tensor weight = at::randn({1, 4, 2, 2}, at::TensorOptions().dtype(at::kDouble));
  std::vector<at::Tensor> args = {x.wx.clone(), x.R.clone(), x.bias.clone()};
  const auto loss = [&](const std::vector<at::Tensor>& a) { return (strand::slstm_forward(a[0], a[1], a[2]) * weight).sum(); };
  for (auto& a : args) a.set_requires_grad(true);
  loss(args).backward();
  const double h = 1e-6;
  for (size_t which = 0; which < args.size(); ++which) {
    const at::Tensor analytic = args[which].grad().reshape({-1});
    for (int64_t e = 0; e < args[which].numel(); ++e) {
      std::vector<at::Tensor> plus, minus;
      for (const auto& a : args) {
        plus.push_back(a.detach().clone());
        minus.push_back(a.detach().clone());
      }
      plus[which].view({-1})[e] += h;
      minus[which].view({-1})[e] -= h;
      const double numeric = (loss(plus).item<double>() - loss(minus).item<double>()) / (2 * h);
      EXPECT_NEAR(analytic[e].item<double>(), numeric, 1e-6) << "argument " << which << " element " << e;
    }
  }
}
