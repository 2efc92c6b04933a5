// strand::mlstm: the reference recurrence, the parallel and chunkwise forms and the step agree;
// states thread across calls; extreme gates stay finite; chunkwise gradients against finite
// differences in double.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <vector>

#include "kernels/mlstm/mlstm.h"

namespace {

struct Inputs {
  at::Tensor q, k, v, i, f;
};

Inputs random_inputs(int64_t B, int64_t H, int64_t S, int64_t Dk, int64_t Dv, double gate_spread, uint64_t seed) {
  at::manual_seed(seed);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  return {at::randn({B, H, S, Dk}, opt), at::randn({B, H, S, Dk}, opt), at::randn({B, H, S, Dv}, opt),
          at::randn({B, H, S}, opt) * gate_spread, at::randn({B, H, S}, opt) * gate_spread + 1.5};
}

at::Tensor step_loop(const Inputs& x, strand::MlstmState& state) {
  std::vector<at::Tensor> out;
  for (int64_t t = 0; t < x.q.size(2); ++t)
    out.push_back(strand::mlstm_step(x.q.select(2, t), x.k.select(2, t), x.v.select(2, t), x.i.select(2, t),
                                     x.f.select(2, t), state));
  return at::stack(out, 2);
}

void expect_close(const at::Tensor& a, const at::Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double err = (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
  EXPECT_LT(err, tol) << what;
}

}  // namespace

TEST(Mlstm, EveryFormMatchesTheReference) {
  for (const double spread : {1.0, 8.0}) {
    const Inputs x = random_inputs(2, 3, 13, 4, 3, spread, 11);
    strand::MlstmState ref_last;
    const at::Tensor ref = strand::mlstm_reference(x.q, x.k, x.v, x.i, x.f, {}, &ref_last);
    expect_close(strand::mlstm_parallel(x.q, x.k, x.v, x.i, x.f), ref, 1e-10, "parallel");
    for (const int64_t chunk : {1, 4, 5, 13, 64}) {
      strand::MlstmState last;
      expect_close(strand::mlstm_chunkwise(x.q, x.k, x.v, x.i, x.f, {}, &last, chunk), ref, 1e-10,
                   "chunkwise " + std::to_string(chunk));
      expect_close(last.C, ref_last.C, 1e-9, "last C");
      expect_close(last.n, ref_last.n, 1e-9, "last n");
      expect_close(last.m, ref_last.m, 1e-12, "last m");
    }
    strand::MlstmState state;
    expect_close(step_loop(x, state), ref, 1e-10, "step");
    expect_close(state.C, ref_last.C, 1e-9, "step C");
  }
}

TEST(Mlstm, StatesThreadAcrossCalls) {
  const Inputs x = random_inputs(1, 2, 17, 3, 5, 2.0, 12);
  const at::Tensor whole = strand::mlstm_reference(x.q, x.k, x.v, x.i, x.f);
  const auto part = [&](int64_t start, int64_t len) {
    return Inputs{x.q.narrow(2, start, len), x.k.narrow(2, start, len), x.v.narrow(2, start, len),
                  x.i.narrow(2, start, len), x.f.narrow(2, start, len)};
  };
  const Inputs a = part(0, 7), b = part(7, 10);
  strand::MlstmState mid;
  const at::Tensor first = strand::mlstm_chunkwise(a.q, a.k, a.v, a.i, a.f, {}, &mid, 4);
  const at::Tensor second = strand::mlstm_chunkwise(b.q, b.k, b.v, b.i, b.f, mid, nullptr, 3);
  expect_close(at::cat({first, second}, 2), whole, 1e-10, "two chunkwise calls");
  const at::Tensor second_ref = strand::mlstm_reference(b.q, b.k, b.v, b.i, b.f, mid);
  expect_close(second_ref, second, 1e-10, "reference from the middle state");
}

TEST(Mlstm, ExtremeGatesStayFinite) {
  Inputs x = random_inputs(1, 1, 40, 4, 4, 1.0, 13);
  x.i = x.i * 30;        // input gates up to exp(+-90)
  x.f = x.f * 30 - 20;   // forget gates down to logsigmoid(-100)
  const at::Tensor ref = strand::mlstm_reference(x.q, x.k, x.v, x.i, x.f);
  ASSERT_TRUE(at::isfinite(ref).all().item<bool>());
  expect_close(strand::mlstm_chunkwise(x.q, x.k, x.v, x.i, x.f, {}, nullptr, 8), ref, 1e-9, "chunkwise");
  expect_close(strand::mlstm_parallel(x.q, x.k, x.v, x.i, x.f), ref, 1e-9, "parallel");
  // float32 inputs: same answer within float rounding.
  const at::Tensor f32 = strand::mlstm_chunkwise(x.q.to(at::kFloat), x.k.to(at::kFloat), x.v.to(at::kFloat),
                                                 x.i.to(at::kFloat), x.f.to(at::kFloat), {}, nullptr, 8);
  EXPECT_EQ(f32.scalar_type(), at::kFloat);
  expect_close(f32, ref, 1e-4, "float32");
}

TEST(Mlstm, ChunkwiseGradientsMatchFiniteDifferences) {
  const Inputs x0 = random_inputs(1, 2, 6, 3, 2, 2.0, 14);
  const at::Tensor weight = at::randn({1, 2, 6, 2}, at::TensorOptions().dtype(at::kDouble));
  std::vector<at::Tensor> args = {x0.q.clone(), x0.k.clone(), x0.v.clone(), x0.i.clone(), x0.f.clone()};
  const auto loss = [&](const std::vector<at::Tensor>& a) {
    return (strand::mlstm_chunkwise(a[0], a[1], a[2], a[3], a[4], {}, nullptr, 4) * weight).sum();
  };
  for (auto& a : args) a.set_requires_grad(true);
  loss(args).backward();
  const double h = 1e-6;
  for (size_t which = 0; which < args.size(); ++which) {
    const at::Tensor analytic = args[which].grad();
    at::Tensor flat = args[which].detach().clone().reshape({-1});
    for (int64_t e = 0; e < flat.numel(); ++e) {
      std::vector<at::Tensor> plus, minus;
      for (size_t j = 0; j < args.size(); ++j) {
        plus.push_back(args[j].detach().clone());
        minus.push_back(args[j].detach().clone());
      }
      plus[which].view({-1})[e] += h;
      minus[which].view({-1})[e] -= h;
      const double numeric = (loss(plus).item<double>() - loss(minus).item<double>()) / (2 * h);
      EXPECT_NEAR(analytic.reshape({-1})[e].item<double>(), numeric, 1e-6) << "argument " << which << " element " << e;
    }
  }
}
