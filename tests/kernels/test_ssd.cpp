// Conformance table for the SSD scan of Mamba-2 (kernels/ssd): ssd_chunked and ssd_scan (CPU
// path through strand::selective_scan) against the plain recurrence (ssd_ref.cpp, double loops);
// chunk-size independence; splitting a sequence through the final state; gradients of ssd_scan
// against those of ssd_chunked for every input and finite differences; argument errors; the op
// registered in the dispatcher; CUDA (chunked path) when a GPU is present.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <fstream>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/common/device.h"
#include "kernels/common/torch_compat.h"
#include "kernels/ssd/ssd.h"

using strand::ssd_chunked;
using strand::ssd_reference;
using strand::ssd_scan;

namespace {

// Oracles and tolerances. Errors are measured as max |got - want| / (1 + max |want|): outputs
// reach ~10 (sums of N products of O(1) values), states ~3.
// - float64: the recurrence and the chunked form are the same sums in another order, with
//   exp(sum of log-decays) instead of a product of exps, over <= 200 steps: <= 2.5e-15 observed
//   (chunked and scan alike); 1e-12 leaves room without hiding a wrong term.
constexpr double kTolDouble = 1e-12;
// - float32: ssd_chunked and the selective scan compute in float; the chunked form adds up to
//   Q x N (<= 256 x 16) products per output and cumulative log-decays over up to 256 steps whose
//   rounding enters an exp: <= 1.6e-6 observed (final state of ssd_chunked), <= 3e-7 for outputs;
//   bound 2e-5.
constexpr double kTolFloat = 2e-5;
// - gradients in float64, ssd_scan (selective scan backward) vs ATen autograd of ssd_chunked:
//   same derivatives, different summation order over L x N terms: <= 1.4e-15 observed; 1e-11.
constexpr double kTolGradDouble = 1e-11;

/// Which optional arguments a case passes.
struct Options {
  bool D, z, dt_bias, softplus, init, final_state;
};

struct Case {
  int64_t heads, groups, head_dim, state, len, chunk;
  Options opt;
  at::ScalarType dtype;
  bool strided;
};

std::string name(const Case& c) {
  return std::string(c.dtype == at::kFloat ? "float32" : "float64") + " H" + std::to_string(c.heads) + " G" +
         std::to_string(c.groups) + " P" + std::to_string(c.head_dim) + " N" + std::to_string(c.state) + " L" +
         std::to_string(c.len) + " chunk " + std::to_string(c.chunk) + (c.opt.D ? " D" : "") + (c.opt.z ? " z" : "") +
         (c.opt.dt_bias ? " dt_bias" : "") + (c.opt.softplus ? " softplus" : "") +
         (c.opt.init ? " initial_state" : "") + (c.opt.final_state ? " final_state" : "") +
         (c.strided ? " non-contiguous" : "");
}

constexpr int64_t kBatch = 2;

struct Inputs {
  at::Tensor x, dt, A, B, C, D, z, dt_bias, init;
};

/// Random inputs with a stable recurrence: dt in (0.05, 0.5) (also positive without softplus),
/// dt_bias in (0, 0.1), A in (-2, -0.5), so every step decays. `strided` builds every tensor as
/// a permuted or sliced view (dtype conversion keeps the strides of a view).
Inputs make_inputs(const Case& c) {
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  const int64_t b = kBatch, L = c.len, H = c.heads, P = c.head_dim, G = c.groups, N = c.state;
  Inputs in;
  if (c.strided) {
    in.x = at::randn({b, H, L, P}, opt).transpose(1, 2);
    in.dt = (at::rand({H, b, L}, opt) * 0.45 + 0.05).permute({1, 2, 0});
    in.A = -(at::rand({H, 2}, opt) * 1.5 + 0.5).select(1, 0);
    in.B = at::randn({N, b, G, L}, opt).permute({1, 3, 2, 0});
    in.C = at::randn({b, G, L, N}, opt).transpose(1, 2);
    in.D = at::randn({2, H}, opt).select(0, 1);
    in.z = at::randn({P, b, L, H}, opt).permute({1, 2, 3, 0});
    in.dt_bias = (at::rand({H, 3}, opt) * 0.1).select(1, 2);
    in.init = at::randn({b, P, H, N}, opt).transpose(1, 2);
  } else {
    in.x = at::randn({b, L, H, P}, opt);
    in.dt = at::rand({b, L, H}, opt) * 0.45 + 0.05;
    in.A = -(at::rand({H}, opt) * 1.5 + 0.5);
    in.B = at::randn({b, L, G, N}, opt);
    in.C = at::randn({b, L, G, N}, opt);
    in.D = at::randn({H}, opt);
    in.z = at::randn({b, L, H, P}, opt);
    in.dt_bias = at::rand({H}, opt) * 0.1;
    in.init = at::randn({b, H, P, N}, opt);
  }
  const auto to = [&](at::Tensor& t, bool keep) { t = keep ? t.to(c.dtype) : at::Tensor(); };
  to(in.x, true);
  to(in.dt, true);
  to(in.A, true);
  to(in.B, true);
  to(in.C, true);
  to(in.D, c.opt.D);
  to(in.z, c.opt.z);
  to(in.dt_bias, c.opt.dt_bias);
  to(in.init, c.opt.init);
  return in;
}

using ScanFn = std::function<std::tuple<at::Tensor, at::Tensor>(const Inputs&, const Options&, int64_t)>;

std::tuple<at::Tensor, at::Tensor> run_scan(const Inputs& in, const Options& o, int64_t chunk) {
  return ssd_scan(in.x, in.dt, in.A, in.B, in.C, in.D, in.z, in.dt_bias, o.softplus, in.init, o.final_state, chunk);
}
std::tuple<at::Tensor, at::Tensor> run_chunked(const Inputs& in, const Options& o, int64_t chunk) {
  return ssd_chunked(in.x, in.dt, in.A, in.B, in.C, in.D, in.z, in.dt_bias, o.softplus, in.init, o.final_state,
                     chunk);
}
std::tuple<at::Tensor, at::Tensor> run_reference(const Inputs& in, const Options& o) {
  return ssd_reference(in.x, in.dt, in.A, in.B, in.C, in.D, in.z, in.dt_bias, o.softplus, in.init, o.final_state);
}

/// max |a - b| / (1 + max |b|); 0 for empty tensors.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  if (b.numel() == 0) return 0.0;
  const auto bd = b.to(at::kDouble);
  return (a.to(at::kDouble) - bd).abs().max().item<double>() / (1.0 + bd.abs().max().item<double>());
}

/// Writes the tensors of a failing case to a text file and returns its path.
std::string dump_failure(const std::string& what, const Inputs& in,
                         const std::vector<std::pair<std::string, at::Tensor>>& results) {
  static int counter = 0;
  const std::string path = ::testing::TempDir() + "ssd_failure_" + std::to_string(counter++) + ".txt";
  std::ofstream out(path);
  out << what << "\n";
  const std::vector<std::pair<std::string, at::Tensor>> inputs = {
      {"x", in.x}, {"dt", in.dt}, {"A", in.A},          {"B", in.B},    {"C", in.C},
      {"D", in.D}, {"z", in.z},   {"dt_bias", in.dt_bias}, {"initial_state", in.init}};
  for (const auto& list : {inputs, results}) {
    for (const auto& [label, t] : list) out << "== " << label << "\n" << (t.defined() ? t : at::Tensor()) << "\n";
  }
  return path;
}

Options options_from_bits(int bits) {
  return {(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0, (bits & 8) != 0, (bits & 16) != 0, (bits & 32) != 0};
}

/// Every (H, G) pair, L and dtype; head_dim, state size, chunk size, optional arguments and layout
/// rotate with the case index so that each value meets many of the others.
std::vector<Case> conformance_cases() {
  const std::pair<int64_t, int64_t> head_groups[] = {{1, 1}, {2, 1}, {2, 2}, {6, 1}, {6, 2}, {6, 3}};
  const int64_t head_dims[] = {1, 5, 16};
  const int64_t states[] = {1, 7, 16};
  const int64_t chunks[] = {1, 16, 64, 256};
  std::vector<Case> cases;
  int64_t turn = 0;
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (int64_t len : {0, 1, 63, 64, 65, 200}) {
      for (const auto& [heads, groups] : head_groups) {
        // 37 is odd and prime to 64: the option bits cycle through all 64 combinations.
        cases.push_back({heads, groups, head_dims[turn % 3], states[(turn / 3) % 3], len, chunks[turn % 4],
                         options_from_bits(static_cast<int>((turn * 37) % 64)), dtype, (turn / 2) % 2 == 1});
        ++turn;
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

/// Checks `got` (out, final_state) of one implementation against the reference.
void check_against_reference(const std::string& what, const Case& c, const Inputs& in,
                             const std::tuple<at::Tensor, at::Tensor>& got,
                             const std::tuple<at::Tensor, at::Tensor>& want) {
  const auto& [out, final_state] = got;
  const auto& [want_out, want_final] = want;
  ASSERT_EQ(out.sizes(), in.x.sizes()) << what;
  ASSERT_EQ(out.scalar_type(), c.dtype) << what;
  ASSERT_EQ(final_state.defined(), c.opt.final_state) << what;
  const double tol = c.dtype == at::kFloat ? kTolFloat : kTolDouble;
  const double err = relative_error(out, want_out);
  ASSERT_TRUE(std::isfinite(err) && err <= tol)
      << what << ": out error " << err << " > " << tol << "; inputs in "
      << dump_failure(what, in, {{"expected", want_out}, {"actual", out}});
  if (c.opt.final_state) {
    ASSERT_EQ(final_state.sizes(), at::IntArrayRef({kBatch, c.heads, c.head_dim, c.state})) << what;
    const double err_state = relative_error(final_state, want_final);
    ASSERT_TRUE(std::isfinite(err_state) && err_state <= tol)
        << what << ": final_state error " << err_state << " > " << tol << "; inputs in "
        << dump_failure(what, in, {{"expected", want_final}, {"actual", final_state}});
  }
}

}  // namespace

TEST(Ssd, ChunkedAndScanMatchReferenceOverConformanceTable) {
  at::manual_seed(0);
  const auto cases = conformance_cases();
  ASSERT_EQ(cases.size(), 72u);
  for (const auto& c : cases) {
    const Inputs in = make_inputs(c);
    if (c.strided && c.len > 1 && c.head_dim > 1) {
      ASSERT_FALSE(in.x.is_contiguous()) << name(c);
    }
    const auto want = run_reference(in, c.opt);
    if (c.len > 0) {
      ASSERT_GT(std::get<0>(want).abs().max().item<double>(), 1e-2) << name(c) << ": vacuous case";
    }
    check_against_reference("ssd_chunked " + name(c), c, in, run_chunked(in, c.opt, c.chunk), want);
    check_against_reference("ssd_scan " + name(c), c, in, run_scan(in, c.opt, c.chunk), want);
  }
}

TEST(Ssd, EveryOptionalArgumentPresentOrAbsent) {
  // All 64 combinations of D, z, dt_bias, softplus, initial_state and final_state on one shape.
  at::manual_seed(1);
  for (int bits = 0; bits < 64; ++bits) {
    for (auto dtype : {at::kFloat, at::kDouble}) {
      const Case c{4, 2, 3, 5, 21, 8, options_from_bits(bits), dtype, bits % 3 == 0};
      const Inputs in = make_inputs(c);
      const auto want = run_reference(in, c.opt);
      check_against_reference("ssd_chunked " + name(c), c, in, run_chunked(in, c.opt, c.chunk), want);
      check_against_reference("ssd_scan " + name(c), c, in, run_scan(in, c.opt, c.chunk), want);
    }
  }
}

TEST(Ssd, EmptySequenceReturnsTheInitialState) {
  at::manual_seed(2);
  for (bool with_init : {false, true}) {
    const Case c{2, 1, 3, 4, 0, 16, {true, true, true, true, with_init, true}, at::kDouble, false};
    const Inputs in = make_inputs(c);
    for (const ScanFn& fn : {ScanFn(run_scan), ScanFn(run_chunked)}) {
      const auto [out, final_state] = fn(in, c.opt, c.chunk);
      EXPECT_EQ(out.sizes(), at::IntArrayRef({kBatch, 0, 2, 3}));
      EXPECT_TRUE(at::equal(final_state, with_init ? in.init : at::zeros({kBatch, 2, 3, 4}, at::kDouble)));
    }
  }
}

TEST(Ssd, ChunkedResultsDoNotDependOnChunkSize) {
  // Each chunk size regroups the same sums: in double the results agree to rounding.
  at::manual_seed(3);
  const Case c{6, 3, 4, 7, 131, 1, {true, true, true, true, true, true}, at::kDouble, false};
  const Inputs in = make_inputs(c);
  const auto [out1, state1] = run_chunked(in, c.opt, 1);
  ASSERT_GT(out1.abs().max().item<double>(), 1e-2);
  for (int64_t chunk : {2, 3, 16, 64, 130, 131, 256, 1000}) {
    const auto [out, state] = run_chunked(in, c.opt, chunk);
    EXPECT_LE(relative_error(out, out1), 1e-12) << "chunk " << chunk;
    EXPECT_LE(relative_error(state, state1), 1e-12) << "chunk " << chunk;
  }
  // ssd_scan on CPU ignores chunk_size beyond checking it.
  const auto [scan_a, scan_state_a] = run_scan(in, c.opt, 1);
  const auto [scan_b, scan_state_b] = run_scan(in, c.opt, 64);
  EXPECT_TRUE(at::equal(scan_a, scan_b));
  EXPECT_TRUE(at::equal(scan_state_a, scan_state_b));
}

TEST(Ssd, SplittingThroughTheFinalStateEqualsTheWhole) {
  // Prefill in two parts: the final state of the first is the initial state of the second.
  at::manual_seed(4);
  const Case c{4, 2, 3, 5, 50, 16, {true, true, true, true, true, true}, at::kDouble, false};
  const Inputs in = make_inputs(c);
  for (const ScanFn& fn : {ScanFn(run_scan), ScanFn(run_chunked)}) {
    const auto [whole, whole_state] = fn(in, c.opt, c.chunk);
    for (int64_t split : {1, 17, 32, 49}) {
      const auto part = [&](int64_t start, int64_t length, const at::Tensor& init) {
        Inputs p = in;
        for (at::Tensor* t : {&p.x, &p.dt, &p.B, &p.C, &p.z}) *t = t->narrow(1, start, length);
        p.init = init;
        return fn(p, c.opt, c.chunk);
      };
      const auto [first, first_state] = part(0, split, in.init);
      const auto [second, second_state] = part(split, c.len - split, first_state);
      EXPECT_LE(relative_error(at::cat({first, second}, 1), whole), kTolDouble) << "split " << split;
      EXPECT_LE(relative_error(second_state, whole_state), kTolDouble) << "split " << split;
    }
  }
}

TEST(Ssd, ScanGradientsMatchChunkedGradientsInDouble) {
  at::manual_seed(5);
  for (bool strided : {false, true}) {
    for (bool softplus : {false, true}) {
      const Case c{4, 2, 3, 5, 37, 16, {true, true, true, softplus, true, true}, at::kDouble, strided};
      Inputs in = make_inputs(c);
      std::vector<at::Tensor> leaves = {in.x, in.dt, in.A, in.B, in.C, in.D, in.z, in.dt_bias, in.init};
      for (auto& t : leaves) t.requires_grad_();
      const auto grad_out = at::randn({kBatch, c.len, c.heads, c.head_dim}, at::kDouble);
      const auto grad_state = at::randn({kBatch, c.heads, c.head_dim, c.state}, at::kDouble);
      const auto grads_of = [&](const ScanFn& fn) {
        const auto [out, final_state] = fn(in, c.opt, c.chunk);
        return torch::autograd::grad({out, final_state}, leaves, {grad_out, grad_state});
      };
      const auto got = grads_of(run_scan);
      const auto want = grads_of(run_chunked);
      const char* labels[] = {"dx", "ddt", "dA", "dB", "dC", "dD", "dz", "ddt_bias", "dinitial_state"};
      for (size_t i = 0; i < leaves.size(); ++i) {
        ASSERT_TRUE(got[i].defined() && want[i].defined()) << name(c) << " " << labels[i];
        ASSERT_EQ(got[i].sizes(), leaves[i].sizes()) << name(c) << " " << labels[i];
        const double err = relative_error(got[i], want[i]);
        EXPECT_LE(err, kTolGradDouble) << name(c) << " " << labels[i];
        EXPECT_GT(want[i].abs().max().item<double>(), 1e-3) << name(c) << " " << labels[i];
      }
    }
  }
}

TEST(Ssd, GradientsMatchFiniteDifferences) {
  // Central differences in double: truncation ~ eps^2 = 1e-12 times third derivatives of order 1,
  // rounding ~ 1e-16 / eps = 1e-10; 1e-7 separates both from a wrong gradient.
  at::manual_seed(6);
  const Case c{2, 1, 2, 3, 5, 2, {true, true, true, true, true, true}, at::kDouble, false};
  const Inputs in0 = make_inputs(c);
  const auto w_out = at::randn({kBatch, c.len, c.heads, c.head_dim}, at::kDouble);
  const auto w_state = at::randn({kBatch, c.heads, c.head_dim, c.state}, at::kDouble);
  const auto fields = [](Inputs& in) {
    return std::vector<at::Tensor*>{&in.x, &in.dt, &in.A, &in.B, &in.C, &in.D, &in.z, &in.dt_bias, &in.init};
  };
  for (const ScanFn& fn : {ScanFn(run_scan), ScanFn(run_chunked)}) {
    const auto loss = [&](const Inputs& in) {
      const auto [out, final_state] = fn(in, c.opt, c.chunk);
      return (out * w_out).sum() + (final_state * w_state).sum();
    };
    Inputs in = in0;
    std::vector<at::Tensor> leaves;
    for (at::Tensor* t : fields(in)) {
      *t = t->clone().requires_grad_();
      leaves.push_back(*t);
    }
    const auto grads = torch::autograd::grad({loss(in)}, leaves);
    constexpr double eps = 1e-6;
    for (size_t which = 0; which < leaves.size(); ++which) {
      for (int64_t e = 0; e < leaves[which].numel(); ++e) {
        const auto at_shift = [&](double delta) {
          Inputs shifted = in0;
          at::Tensor& t = *fields(shifted)[which];
          t = t.clone();
          t.view(-1)[e] += delta;
          return loss(shifted).item<double>();
        };
        const double numeric = (at_shift(eps) - at_shift(-eps)) / (2 * eps);
        ASSERT_NEAR(grads[which].reshape(-1)[e].item<double>(), numeric, 1e-7) << "input " << which << " element " << e;
      }
    }
  }
}

TEST(Ssd, RegisteredOpMatchesTheCppEntryAndDifferentiates) {
  at::manual_seed(7);
  using Opt = strand::compat::optional<at::Tensor>;
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("strand::ssd_scan", "")
                .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                          const at::Tensor&, const at::Tensor&, const Opt&, const Opt&,
                                                          const Opt&, bool, const Opt&, bool, int64_t)>();
  const Case c{2, 2, 3, 4, 9, 4, {true, false, true, true, false, true}, at::kDouble, false};
  Inputs in = make_inputs(c);
  in.x.requires_grad_();
  const auto [out, state] = op.call(in.x, in.dt, in.A, in.B, in.C, in.D, strand::compat::nullopt, in.dt_bias, true,
                                    strand::compat::nullopt, true, 4);
  const auto [want_out, want_state] = run_scan(in, c.opt, 4);
  EXPECT_TRUE(at::equal(out, want_out));
  EXPECT_TRUE(at::equal(state, want_state));
  const auto g = torch::autograd::grad({out.sum()}, {in.x});
  const auto g_want = torch::autograd::grad({std::get<0>(run_chunked(in, c.opt, 4)).sum()}, {in.x});
  EXPECT_LE(relative_error(g[0], g_want[0]), kTolGradDouble);
}

TEST(Ssd, BadArgumentsAreClearErrors) {
  const Case c{4, 2, 3, 5, 6, 4, {true, true, true, true, true, true}, at::kFloat, false};
  const Inputs in = make_inputs(c);
  for (const ScanFn& fn : {ScanFn(run_scan), ScanFn(run_chunked)}) {
    const auto with = [&](const std::function<void(Inputs&)>& edit) {
      return [&fn, &in, &c, edit] {
        Inputs bad = in;
        edit(bad);
        fn(bad, c.opt, c.chunk);
      };
    };
    expect_error(with([](Inputs& b) { b.x = b.x[0]; }), "x must be (batch, L, H, P)");
    expect_error(with([](Inputs& b) { b.dt = b.dt.narrow(1, 0, 5); }), "dt must be (batch, L, H) = (2, 6, 4)");
    expect_error(with([](Inputs& b) { b.A = at::randn({3}); }), "A must be (H) = (4)");
    expect_error(with([](Inputs& b) { b.B = at::randn({2, 6, 3, 5}); }),
                 "H = 4 must be a multiple of the number of groups G = 3");
    expect_error(with([](Inputs& b) { b.C = at::randn({2, 6, 2, 4}); }), "C must be (batch, L, G, N) like B");
    expect_error(with([](Inputs& b) { b.B = at::randn({2, 7, 2, 5}); }), "B must be (batch, L, G, N) = (2, 6, G, N)");
    expect_error(with([](Inputs& b) { b.D = at::randn({3}); }), "D must be (H) = (4)");
    expect_error(with([](Inputs& b) { b.dt_bias = at::randn({4, 1}); }), "dt_bias must be (H) = (4)");
    expect_error(with([](Inputs& b) { b.z = b.z.narrow(3, 0, 2); }), "z must be (batch, L, H, P) like x");
    expect_error(with([](Inputs& b) { b.init = at::randn({2, 4, 3, 6}); }),
                 "initial_state must be (batch, H, P, N) = (2, 4, 3, 5)");
    expect_error(with([](Inputs& b) { b.B = b.B.to(at::kDouble); }), "B must have the dtype of x (Float)");
    expect_error(with([](Inputs& b) { b.x = b.x.to(at::kLong); }), "x must be a floating-point tensor");
  }
  expect_error([&] { run_scan(in, c.opt, 0); }, "chunk_size must be >= 1, got 0");
  expect_error([&] { run_chunked(in, c.opt, -3); }, "chunk_size must be >= 1, got -3");
  Inputs half = in;
  for (at::Tensor* t : {&half.x, &half.dt, &half.A, &half.B, &half.C, &half.D, &half.z, &half.dt_bias, &half.init}) {
    *t = t->to(at::kHalf);
  }
  expect_error([&] { run_scan(half, c.opt, 4); }, "supports float32 and float64, got Half");
}

TEST(Ssd, CudaMatchesReference) {
  if (!strand::kernels::built_with_cuda() || strand::kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device";
  at::manual_seed(8);
  for (const auto& c : conformance_cases()) {
    const Inputs in = make_inputs(c);
    Inputs gpu = in;
    for (at::Tensor* t : {&gpu.x, &gpu.dt, &gpu.A, &gpu.B, &gpu.C, &gpu.D, &gpu.z, &gpu.dt_bias, &gpu.init}) {
      if (t->defined()) *t = t->cuda();
    }
    const auto [out, final_state] = run_scan(gpu, c.opt, c.chunk);
    ASSERT_TRUE(out.is_cuda()) << name(c);
    check_against_reference("ssd_scan CUDA " + name(c), c, in,
                            {out.cpu(), final_state.defined() ? final_state.cpu() : final_state},
                            run_reference(in, c.opt));
  }
}
