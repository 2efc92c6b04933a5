// Conformance table for strand::reverse_complement_ids against the plain reference
// (kernels/rc_ids/rc_ids_ref.cpp). Integer op: results must match exactly.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include "kernels/common/device.h"
#include "kernels/rc_ids/rc_ids.h"

using strand::kernels::reverse_complement_ids;
using strand::kernels::reverse_complement_ids_ref;

namespace {

// Caduceus vocabulary complement map (reference/mamba.md §6.1): A=7<->T=10, C=8<->G=9, others identity.
at::Tensor caduceus_complement(at::ScalarType dtype) {
  auto c = at::arange(16, at::kLong);
  c[7] = 10;
  c[10] = 7;
  c[8] = 9;
  c[9] = 8;
  return c.to(dtype);
}

struct Case {
  int64_t batch, length;
  at::ScalarType dtype;
  bool with_lengths, transposed;
};

std::string name(const Case& c) {
  return std::to_string(c.batch) + "x" + std::to_string(c.length) + (c.dtype == at::kInt ? " int32" : " int64") +
         (c.with_lengths ? " lengths" : "") + (c.transposed ? " non-contiguous" : "");
}

}  // namespace

TEST(RcIds, MatchesReferenceOverConformanceTable) {
  std::vector<Case> cases;
  for (auto dtype : {at::kInt, at::kLong}) {
    for (int64_t length : {0, 1, 31, 32, 33, 257}) {
      for (int64_t batch : {1, 3, 17}) {
        for (bool with_lengths : {false, true}) {
          for (bool transposed : {false, true}) cases.push_back({batch, length, dtype, with_lengths, transposed});
        }
      }
    }
  }
  at::manual_seed(0);
  for (const auto& c : cases) {
    const auto comp = caduceus_complement(c.dtype);
    at::Tensor ids = c.transposed ? at::randint(0, 16, {c.length, c.batch}, at::kLong).t()
                                  : at::randint(0, 16, {c.batch, c.length}, at::kLong);
    ids = ids.to(c.dtype);  // preserves the transposed strides
    if (c.transposed && c.length > 1 && c.batch > 1) {
      ASSERT_FALSE(ids.is_contiguous()) << name(c);
    }
    strand::compat::optional<at::Tensor> lengths;
    if (c.with_lengths) lengths = at::randint(0, c.length + 1, {c.batch}, at::kLong);
    const auto got = reverse_complement_ids(ids, comp, lengths);
    const auto want = reverse_complement_ids_ref(ids, comp, lengths);
    ASSERT_EQ(got.scalar_type(), c.dtype) << name(c);
    ASSERT_TRUE(at::equal(got, want)) << name(c) << "\nids\n" << ids << "\ngot\n" << got << "\nwant\n" << want;
  }
}

TEST(RcIds, KnownSequenceAndPaddingUntouched) {
  // ACGTN (7 8 9 10 11) reversed and complemented is NACGT (11 7 8 9 10); padding 4 stays.
  const auto ids = at::tensor({7, 8, 9, 10, 11, 4, 4}, at::kLong).view({1, 7});
  const auto lengths = at::tensor({5}, at::kLong);
  const auto out = reverse_complement_ids(ids, caduceus_complement(at::kLong), lengths);
  EXPECT_TRUE(at::equal(out, at::tensor({11, 7, 8, 9, 10, 4, 4}, at::kLong).view({1, 7}))) << out;
  // Applying it twice is the identity.
  EXPECT_TRUE(at::equal(reverse_complement_ids(out, caduceus_complement(at::kLong), lengths), ids));
}

TEST(RcIds, BadArgumentsAreClearErrors) {
  const auto comp = caduceus_complement(at::kLong);
  EXPECT_THROW(reverse_complement_ids(at::zeros({4}, at::kLong), comp), c10::Error);
  EXPECT_THROW(reverse_complement_ids(at::zeros({1, 4}, at::kFloat), comp), c10::Error);
  EXPECT_THROW(reverse_complement_ids(at::zeros({1, 4}, at::kInt), comp), c10::Error);
  EXPECT_THROW(reverse_complement_ids(at::full({1, 4}, 16, at::kLong), comp), c10::Error);
  EXPECT_THROW(reverse_complement_ids(at::zeros({2, 4}, at::kLong), comp, at::tensor({1, 5}, at::kLong)), c10::Error);
  EXPECT_THROW(reverse_complement_ids(at::zeros({2, 4}, at::kLong), comp, at::tensor({1}, at::kLong)), c10::Error);
}

TEST(RcIds, CudaEntryPointInCpuBuildSaysBuiltWithoutCuda) {
  if (strand::kernels::built_with_cuda()) GTEST_SKIP() << "this build has CUDA kernels";
  // Route the call to the CUDA dispatch key explicitly: a CPU-only LibTorch cannot make CUDA tensors.
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("strand::reverse_complement_ids", "")
                .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const strand::compat::optional<at::Tensor>&)>();
  const auto ids = at::zeros({1, 2}, at::kLong);
  try {
    op.redispatch(c10::DispatchKeySet(c10::DispatchKey::CUDA), ids, caduceus_complement(at::kLong), strand::compat::nullopt);
    FAIL() << "the CUDA entry point did not throw";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("strand::reverse_complement_ids has no CUDA implementation in this build"),
              std::string::npos)
        << e.what();
  }
}

TEST(RcIds, CudaMatchesReference) {
  if (!strand::kernels::built_with_cuda() || strand::kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA device";
  at::manual_seed(1);
  for (auto dtype : {at::kInt, at::kLong}) {
    const auto ids = at::randint(0, 16, {5, 1000}, at::kLong).to(dtype);
    const auto lengths = at::randint(0, 1001, {5}, at::kLong);
    const auto comp = caduceus_complement(dtype);
    const auto got = reverse_complement_ids(ids.cuda(), comp.cuda(), lengths.cuda()).cpu();
    EXPECT_TRUE(at::equal(got, reverse_complement_ids_ref(ids, comp, lengths)));
    const auto strided = ids.t().contiguous().t();
    EXPECT_TRUE(at::equal(reverse_complement_ids(strided.cuda(), comp.cuda(), lengths.cuda()).cpu(),
                          reverse_complement_ids_ref(ids, comp, lengths)));
  }
}
