// CPU kernel of strand::attention: blocks of kBlockQ queries x kBlockK keys with a running max,
// running sum and rescaled accumulator per query row (FlashAttention, Dao et al. 2022), so no
// (Lq, Lk) buffer exists. Backward as in FlashAttention-2 (Dao 2023): probabilities are
// recomputed per block from the saved logsumexp, D_i = rowsum(dO * O), dS = P * (dP - D_i).
// It is one parallel pass over key blocks: a task owns its key blocks' dK and dV, and adds its dQ
// contributions into a buffer of its own group (one group when batch * heads already gives every
// thread work, else a few, summed at the end), so no two tasks write the same memory.
//
// Every inner loop runs over a fixed 64-wide row with no reduction in it, so the compiler
// vectorises it without reassociating floating-point sums: the forward keeps its block state
// transposed (scores st[key][row], accumulator acct[dim][row], running max and sum per query
// row); the backward forms P and dS as [row][key], accumulates dK and dV transposed along the key
// block, and dQ from dS transposed along the query block. In float32 the exponential is a
// polynomial inlined into those loops (exp_kernel), so it vectorises too.
//
// The per-task loops are compiled three times, for the baseline x86-64 ISA, AVX2+FMA and AVX-512,
// by inlining one always-inline body into functions with GCC/Clang target attributes; the
// registered ops run the widest path the CPU supports (kernels/common/device.h cpu_isa()).
// Everything those functions call out of line is baseline code, so no AVX instruction leaks into
// code shared with the rest of the library.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <tuple>
#include <vector>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_internal.h"
#include "kernels/common/device.h"

namespace strand::kernels {
namespace {

constexpr int64_t kBlockQ = 64;
constexpr int64_t kBlockK = 64;

#define STRAND_ALWAYS_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRAND_ATTENTION_X86 1
#define STRAND_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define STRAND_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#endif

/// exp(x) for the softmax. float: 2^n * e^r with n = round(x / ln 2) (by adding 1.5 * 2^23, whose
/// sum keeps n in its low mantissa bits) and r = x - n ln 2 (ln 2 in two parts, Cody and Waite),
/// e^r from the degree-7 minimax polynomial of Cephes' expf; measured error at most 1.4 float
/// ulps on [-87, 0]; exactly 0 below -87.3 (so hidden keys, at -inf, get probability 0) and
/// exp(0) = 1 exactly. Branch- and call-free, so loops over it vectorise. Arguments here are <= 0
/// (scores minus their running maximum or logsumexp). double: std::exp.
template <typename T>
STRAND_ALWAYS_INLINE T exp_kernel(T x) {
  if constexpr (std::is_same_v<T, double>) {
    return std::exp(x);
  } else {
    const float clamped = x > -87.3f ? x : -87.3f;
    const float shifted = clamped * 1.44269504088896341f + 12582912.0f;
    const float n = shifted - 12582912.0f;
    const float r = clamped - n * 0.693359375f + n * 2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    uint32_t bits;
    std::memcpy(&bits, &shifted, sizeof bits);
    bits = (bits + 127u) << 23;  // the low 9 bits of n + 127: the exponent field of 2^n
    float two_n;
    std::memcpy(&two_n, &bits, sizeof two_n);
    const float result = y * two_n;  // computed unconditionally: a select, not a branch
    return x < -87.3f ? 0.0f : result;
  }
}

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

/// Contiguous (batch, heads, L, head_dim) inputs of one call.
template <typename T>
struct Problem {
  const T* q;
  const T* k;
  const T* v;
  const bool* real_token;  // (batch, len_k) or nullptr
  int64_t batch, heads, len_q, len_k, dim;
  bool causal;
  int64_t q_offset;
  T scale;

  int64_t q_blocks() const { return (len_q + kBlockQ - 1) / kBlockQ; }
  int64_t k_blocks() const { return (len_k + kBlockK - 1) / kBlockK; }
  /// Keys at or after this index are hidden from every query row before `row_end` by causality.
  int64_t key_end(int64_t row_end) const { return causal ? std::min(len_k, q_offset + row_end) : len_k; }
  /// First query row that sees key `j` by causality.
  int64_t first_row_seeing(int64_t j) const { return causal ? std::max<int64_t>(0, j - q_offset) : 0; }
};

/// Block index of task t among n blocks, ordered 0, n-1, 1, n-2, ... so that the contiguous task
/// ranges at::parallel_for hands to each thread mix cheap and expensive causal blocks.
inline int64_t zigzag(int64_t t, int64_t n) { return t % 2 == 0 ? t / 2 : n - 1 - t / 2; }

/// Copies rows [j0, j0 + cols) of a (len, dim) matrix transposed into dst (dim x kBlockK),
/// zero-filling columns cols..kBlockK.
template <typename T>
STRAND_ALWAYS_INLINE void load_transposed(const T* src, int64_t j0, int64_t cols, int64_t dim, T* dst) {
  for (int64_t d = 0; d < dim; ++d) {
    T* row = dst + d * kBlockK;
    for (int64_t c = 0; c < cols; ++c) row[c] = src[(j0 + c) * dim + d];
    std::fill(row + cols, row + kBlockK, T(0));
  }
}

/// s (rows x kBlockK) = a (rows x dim) times bt (dim x kBlockK).
template <typename T>
STRAND_ALWAYS_INLINE void block_product(const T* a, const T* bt, int64_t rows, int64_t dim, T* s) {
  for (int64_t r = 0; r < rows; ++r) {
    T* srow = s + r * kBlockK;
    std::fill(srow, srow + kBlockK, T(0));
    for (int64_t d = 0; d < dim; ++d) {
      const T x = a[r * dim + d];
      const T* brow = bt + d * kBlockK;
      for (int64_t c = 0; c < kBlockK; ++c) srow[c] += x * brow[c];
    }
  }
}

/// Sets scores of keys that query rows i0.. cannot see (causal, padding, past the block) to -inf.
template <typename T>
STRAND_ALWAYS_INLINE void mask_scores(const Problem<T>& p, int64_t b, int64_t i0, int64_t rows, int64_t j0, int64_t cols, T* s) {
  const bool* real = p.real_token != nullptr ? p.real_token + b * p.len_k + j0 : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    T* srow = s + r * kBlockK;
    const int64_t seen = p.causal ? std::clamp<int64_t>(p.q_offset + i0 + r + 1 - j0, 0, cols) : cols;
    std::fill(srow + seen, srow + kBlockK, kNegInf<T>);
    if (real != nullptr) {
      for (int64_t c = 0; c < seen; ++c) {
        if (!real[c]) srow[c] = kNegInf<T>;
      }
    }
  }
}

/// Copies `rows` rows of q starting at i0, multiplied by the scale, into dst (rows x dim).
template <typename T>
STRAND_ALWAYS_INLINE void load_scaled(const T* src, int64_t rows, int64_t dim, T scale, T* dst) {
  for (int64_t x = 0; x < rows * dim; ++x) dst[x] = src[x] * scale;
}

/// Transposed scores of one (query block, key block) pair, st (kBlockK x kBlockQ):
/// st[c][r] = k[j0 + c] . qt[:, r], with hidden pairs (causal, padding) at -inf. Rows c >= cols
/// are left alone.
template <typename T>
STRAND_ALWAYS_INLINE void transposed_scores(const Problem<T>& p, int64_t b, int64_t i0, int64_t j0, int64_t cols,
                                            const T* k, const T* qt, T* st) {
  const int64_t dim = p.dim;
  const bool* real = p.real_token != nullptr ? p.real_token + b * p.len_k + j0 : nullptr;
  for (int64_t c = 0; c < cols; ++c) {
    T* srow = st + c * kBlockQ;
    std::fill(srow, srow + kBlockQ, T(0));
    const T* krow = k + (j0 + c) * dim;
    for (int64_t d = 0; d < dim; ++d) {
      const T x = krow[d];
      const T* qrow = qt + d * kBlockQ;
      for (int64_t r = 0; r < kBlockQ; ++r) srow[r] += x * qrow[r];
    }
    // Query i0 + r sees key j0 + c when j0 + c <= q_offset + i0 + r.
    const int64_t hidden = p.causal ? std::clamp<int64_t>(j0 + c - p.q_offset - i0, 0, kBlockQ) : 0;
    std::fill(srow, srow + (real != nullptr && !real[c] ? kBlockQ : hidden), kNegInf<T>);
  }
}

/// Forward tasks [begin, end): task = (batch * heads) x query block. The block state is kept
/// transposed, one lane per query row (scores st[key][row], accumulator acct[dim][row], running
/// max and sum per row), so every inner loop runs over the kBlockQ rows: contiguous, of fixed
/// length and without reductions.
template <typename T>
STRAND_ALWAYS_INLINE void forward_tasks(const Problem<T>& p, T* out, T* lse, int64_t begin, int64_t end) {
  const int64_t dim = p.dim, n_qb = p.q_blocks();
  std::vector<T> qt(dim * kBlockQ), st(kBlockK * kBlockQ), acct(dim * kBlockQ);
  T row_max[kBlockQ], row_sum[kBlockQ], block_max[kBlockQ], shift[kBlockQ], rescale[kBlockQ];
  for (int64_t task = begin; task < end; ++task) {
    const int64_t bh = task / n_qb, b = bh / p.heads;
    const int64_t i0 = zigzag(task % n_qb, n_qb) * kBlockQ, rows = std::min(kBlockQ, p.len_q - i0);
    const T* q = p.q + (bh * p.len_q + i0) * dim;
    const T* k = p.k + bh * p.len_k * dim;
    const T* v = p.v + bh * p.len_k * dim;
    for (int64_t d = 0; d < dim; ++d) {  // qt = scale * q transposed, rows past the end zero
      T* qrow = qt.data() + d * kBlockQ;
      for (int64_t r = 0; r < rows; ++r) qrow[r] = q[r * dim + d] * p.scale;
      std::fill(qrow + rows, qrow + kBlockQ, T(0));
    }
    std::fill(acct.begin(), acct.end(), T(0));
    std::fill(row_max, row_max + kBlockQ, kNegInf<T>);
    std::fill(row_sum, row_sum + kBlockQ, T(0));
    const int64_t j_end = p.key_end(i0 + rows);
    for (int64_t j0 = 0; j0 < j_end; j0 += kBlockK) {
      const int64_t cols = std::min(kBlockK, j_end - j0);
      transposed_scores(p, b, i0, j0, cols, k, qt.data(), st.data());
      std::fill(block_max, block_max + kBlockQ, kNegInf<T>);
      for (int64_t c = 0; c < cols; ++c) {
        const T* srow = st.data() + c * kBlockQ;
        for (int64_t r = 0; r < kBlockQ; ++r) block_max[r] = srow[r] > block_max[r] ? srow[r] : block_max[r];
      }
      for (int64_t r = 0; r < kBlockQ; ++r) {
        const T new_max = block_max[r] > row_max[r] ? block_max[r] : row_max[r];
        // A row without a visible key so far shifts by 0: its scores are all -inf, exp gives 0.
        shift[r] = new_max == kNegInf<T> ? T(0) : new_max;
        rescale[r] = exp_kernel(row_max[r] - shift[r]);  // exp(-inf) = 0 on the first visible block
        row_max[r] = new_max;
        row_sum[r] *= rescale[r];
      }
      for (int64_t d = 0; d < dim; ++d) {
        T* arow = acct.data() + d * kBlockQ;
        for (int64_t r = 0; r < kBlockQ; ++r) arow[r] *= rescale[r];
      }
      for (int64_t c = 0; c < cols; ++c) {
        T* __restrict srow = st.data() + c * kBlockQ;
        for (int64_t r = 0; r < kBlockQ; ++r) srow[r] = exp_kernel(srow[r] - shift[r]);  // exp(-inf) = 0: hidden
        for (int64_t r = 0; r < kBlockQ; ++r) row_sum[r] += srow[r];
        const T* vrow = v + (j0 + c) * dim;
        for (int64_t d = 0; d < dim; ++d) {
          const T x = vrow[d];
          T* arow = acct.data() + d * kBlockQ;
          for (int64_t r = 0; r < kBlockQ; ++r) arow[r] += x * srow[r];
        }
      }
    }
    T* o = out + (bh * p.len_q + i0) * dim;
    T* l = lse + bh * p.len_q + i0;
    for (int64_t r = 0; r < rows; ++r) {
      if (row_sum[r] > T(0)) {
        const T inv = T(1) / row_sum[r];
        for (int64_t d = 0; d < dim; ++d) o[r * dim + d] = acct[d * kBlockQ + r] * inv;
        l[r] = row_max[r] + std::log(row_sum[r]);
      } else {
        std::fill(o + r * dim, o + (r + 1) * dim, T(0));
        l[r] = std::numeric_limits<T>::infinity();
      }
    }
  }
}

/// Scratch of one backward task: scaled query block, transposed key and value blocks; P and dS
/// of one (query block, key block) pair, dS transposed and that pair's dQ contribution
/// transposed; the key block's dK and dV, transposed.
template <typename T>
struct BackwardScratch {
  std::vector<T> qs, kt, vt, p, dp, dst, dqt, dkt, dvt;
  explicit BackwardScratch(int64_t dim)
      : qs(kBlockQ * dim),
        kt(dim * kBlockK),
        vt(dim * kBlockK),
        p(kBlockQ * kBlockK),
        dp(kBlockQ * kBlockK),
        dst(kBlockK * kBlockQ),
        dqt(dim * kBlockQ),
        dkt(dim * kBlockK),
        dvt(dim * kBlockK) {}
};

/// Fills sc.p with probabilities and sc.dp with dS for query rows [i0, i0 + rows) and the key
/// block whose transposed K and V are in sc.kt / sc.vt; sc.qs holds the scaled query rows.
template <typename T>
STRAND_ALWAYS_INLINE void probabilities_and_grad_scores(const Problem<T>& p, int64_t b, int64_t i0, int64_t rows, int64_t j0, int64_t cols,
                                   const T* grad_out, const T* lse, const T* delta, BackwardScratch<T>& sc) {
  block_product(sc.qs.data(), sc.kt.data(), rows, p.dim, sc.p.data());
  mask_scores(p, b, i0, rows, j0, cols, sc.p.data());
  block_product(grad_out, sc.vt.data(), rows, p.dim, sc.dp.data());
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict prow = sc.p.data() + r * kBlockK;
    T* __restrict dsrow = sc.dp.data() + r * kBlockK;
    const T row_lse = lse[r], row_delta = delta[r];
    // lse = +inf on rows without visible keys and s = -inf on hidden keys: both give p = 0.
    for (int64_t c = 0; c < kBlockK; ++c) prow[c] = exp_kernel(prow[c] - row_lse);
    for (int64_t c = 0; c < kBlockK; ++c) dsrow[c] = prow[c] * (dsrow[c] - row_delta);
  }
}

/// Number of key-block groups per (batch, head) in the backward: enough tasks to keep every
/// thread busy (about 4 per thread) when batch * heads alone is too few. Each group beyond the
/// first costs one extra (batch, heads, Lq, head_dim) buffer for its partial dQ.
int64_t backward_groups(int64_t batch_heads, int64_t key_blocks) {
  const int64_t threads = at::get_num_threads();
  const int64_t wanted = (4 * threads + batch_heads - 1) / std::max<int64_t>(batch_heads, 1);
  return std::clamp<int64_t>(wanted, 1, std::max<int64_t>(key_blocks, 1));
}

/// Buffers of one backward call (dq_partial: `groups` (batch, heads, Lq, head_dim) buffers, zero
/// on entry).
template <typename T>
struct BackwardArgs {
  const T* grad_out;
  const T* lse;
  const T* delta;
  int64_t groups;
  T* dq_partial;
  T* grad_k;
  T* grad_v;
};

/// Backward tasks [begin, end), one pass over key blocks: each task owns the key blocks g,
/// g + groups, ... of one (batch, head), accumulates their dK and dV over the query blocks that see
/// them, and adds dS K into its group's dq_partial buffer (scale not applied).
template <typename T>
STRAND_ALWAYS_INLINE void backward_tasks(const Problem<T>& p, const BackwardArgs<T>& a, int64_t begin, int64_t end) {
  const T* grad_out = a.grad_out;
  const T* lse = a.lse;
  const T* delta = a.delta;
  const int64_t groups = a.groups;
  T* const dq_partial = a.dq_partial;
  T* const grad_k = a.grad_k;
  T* const grad_v = a.grad_v;
  const int64_t dim = p.dim, n_kb = p.k_blocks();
  const int64_t dq_group_size = p.batch * p.heads * p.len_q * dim;
  BackwardScratch<T> sc(dim);
  for (int64_t task = begin; task < end; ++task) {
    const int64_t bh = task / groups, group = task % groups, b = bh / p.heads;
    const T* k = p.k + bh * p.len_k * dim;
    T* dq = dq_partial + group * dq_group_size + bh * p.len_q * dim;
    for (int64_t kb = group; kb < n_kb; kb += groups) {
      const int64_t j0 = kb * kBlockK, cols = std::min(kBlockK, p.len_k - j0);
      load_transposed(k, j0, cols, dim, sc.kt.data());
      load_transposed(p.v + bh * p.len_k * dim, j0, cols, dim, sc.vt.data());
      std::fill(sc.dkt.begin(), sc.dkt.end(), T(0));
      std::fill(sc.dvt.begin(), sc.dvt.end(), T(0));
      for (int64_t i0 = p.first_row_seeing(j0) / kBlockQ * kBlockQ; i0 < p.len_q; i0 += kBlockQ) {
        const int64_t rows = std::min(kBlockQ, p.len_q - i0);
        const int64_t row = bh * p.len_q + i0;
        const T* dout = grad_out + row * dim;
        load_scaled(p.q + row * dim, rows, dim, p.scale, sc.qs.data());
        probabilities_and_grad_scores(p, b, i0, rows, j0, cols, dout, lse + row, delta + row, sc);
        // dV^T[d][c] += dO[r][d] P[r][c] and dK^T[d][c] += qs[r][d] dS[r][c] (d(s)/d(k) = scale * q,
        // already in qs): rank-one updates along the key block.
        for (int64_t r = 0; r < rows; ++r) {
          const T* prow = sc.p.data() + r * kBlockK;
          const T* dsrow = sc.dp.data() + r * kBlockK;
          for (int64_t d = 0; d < dim; ++d) {
            const T x = dout[r * dim + d], y = sc.qs[r * dim + d];
            T* dvrow = sc.dvt.data() + d * kBlockK;
            T* dkrow = sc.dkt.data() + d * kBlockK;
            for (int64_t c = 0; c < kBlockK; ++c) {
              dvrow[c] += x * prow[c];
              dkrow[c] += y * dsrow[c];
            }
          }
        }
        // dQ[r][d] += sum_c dS[r][c] k[c][d] (scale applied by the caller), computed transposed
        // along the query rows from dS^T and added into the rows of dq.
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < cols; ++c) sc.dst[c * kBlockQ + r] = sc.dp[r * kBlockK + c];
        }
        std::fill(sc.dqt.begin(), sc.dqt.end(), T(0));
        for (int64_t c = 0; c < cols; ++c) {
          const T* dsrow = sc.dst.data() + c * kBlockQ;
          const T* krow = k + (j0 + c) * dim;
          for (int64_t d = 0; d < dim; ++d) {
            const T x = krow[d];
            T* dqrow = sc.dqt.data() + d * kBlockQ;
            for (int64_t r = 0; r < kBlockQ; ++r) dqrow[r] += x * dsrow[r];
          }
        }
        for (int64_t r = 0; r < rows; ++r) {
          T* dqrow = dq + (i0 + r) * dim;
          for (int64_t d = 0; d < dim; ++d) dqrow[d] += sc.dqt[d * kBlockQ + r];
        }
      }
      T* gk = grad_k + (bh * p.len_k + j0) * dim;
      T* gv = grad_v + (bh * p.len_k + j0) * dim;
      for (int64_t c = 0; c < cols; ++c) {
        for (int64_t d = 0; d < dim; ++d) {
          gk[c * dim + d] = sc.dkt[d * kBlockK + c];
          gv[c * dim + d] = sc.dvt[d * kBlockK + c];
        }
      }
    }
  }
}

// One copy of the task loops per instruction set; the bodies above are inlined into each.
template <typename T>
void forward_baseline(const Problem<T>& p, T* out, T* lse, int64_t begin, int64_t end) {
  forward_tasks(p, out, lse, begin, end);
}
template <typename T>
void backward_baseline(const Problem<T>& p, const BackwardArgs<T>& a, int64_t begin, int64_t end) {
  backward_tasks(p, a, begin, end);
}
#ifdef STRAND_ATTENTION_X86
template <typename T>
STRAND_TARGET_AVX2 void forward_avx2(const Problem<T>& p, T* out, T* lse, int64_t begin, int64_t end) {
  forward_tasks(p, out, lse, begin, end);
}
template <typename T>
STRAND_TARGET_AVX2 void backward_avx2(const Problem<T>& p, const BackwardArgs<T>& a, int64_t begin, int64_t end) {
  backward_tasks(p, a, begin, end);
}
template <typename T>
STRAND_TARGET_AVX512 void forward_avx512(const Problem<T>& p, T* out, T* lse, int64_t begin, int64_t end) {
  forward_tasks(p, out, lse, begin, end);
}
template <typename T>
STRAND_TARGET_AVX512 void backward_avx512(const Problem<T>& p, const BackwardArgs<T>& a, int64_t begin, int64_t end) {
  backward_tasks(p, a, begin, end);
}
#endif

template <typename T>
void run_forward(const Problem<T>& p, T* out, T* lse, CpuIsa isa) {
  auto fn = &forward_baseline<T>;
#ifdef STRAND_ATTENTION_X86
  if (isa == CpuIsa::kAvx512) fn = &forward_avx512<T>;
  if (isa == CpuIsa::kAvx2) fn = &forward_avx2<T>;
#endif
  at::parallel_for(0, p.batch * p.heads * p.q_blocks(), 1, [&](int64_t begin, int64_t end) { fn(p, out, lse, begin, end); });
}

template <typename T>
void run_backward(const Problem<T>& p, const BackwardArgs<T>& a, CpuIsa isa) {
  auto fn = &backward_baseline<T>;
#ifdef STRAND_ATTENTION_X86
  if (isa == CpuIsa::kAvx512) fn = &backward_avx512<T>;
  if (isa == CpuIsa::kAvx2) fn = &backward_avx2<T>;
#endif
  at::parallel_for(0, p.batch * p.heads * a.groups, 1, [&](int64_t begin, int64_t end) { fn(p, a, begin, end); });
}

void check_cpu_isa(CpuIsa isa) {
  TORCH_CHECK(isa <= cpu_isa(), "strand::attention: this CPU cannot run the ", cpu_isa_name(isa), " kernel path");
}

void check_cpu_dtype(const at::Tensor& q) {
  TORCH_CHECK(q.scalar_type() == at::kFloat || q.scalar_type() == at::kDouble,
              "strand::attention: the CPU kernel supports float32 and float64, got ", q.scalar_type(),
              " (convert to float32, or use strand::attention_naive)");
}

template <typename T>
Problem<T> make_problem(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                        bool causal, double scale, int64_t q_offset) {
  Problem<T> p{};
  p.q = q.data_ptr<T>();
  p.k = k.data_ptr<T>();
  p.v = v.data_ptr<T>();
  p.real_token = mask.defined() ? mask.data_ptr<bool>() : nullptr;
  p.batch = q.size(0);
  p.heads = q.size(1);
  p.len_q = q.size(2);
  p.len_k = k.size(2);
  p.dim = q.size(3);
  p.causal = causal;
  p.q_offset = q_offset;
  p.scale = static_cast<T>(scale);
  return p;
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> attention_forward_cpu(const at::Tensor& q_in, const at::Tensor& k_in,
                                                         const at::Tensor& v_in,
                                                         const compat::optional<at::Tensor>& mask_in, bool causal,
                                                         double scale, int64_t q_offset, CpuIsa isa) {
  check_attention_args("strand::attention", q_in, k_in, v_in, mask_in, scale, q_offset);
  check_cpu_dtype(q_in);
  check_cpu_isa(isa);
  const auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const auto mask = mask_in.has_value() && mask_in->defined() ? mask_in->contiguous() : at::Tensor();
  auto out = at::empty(q.sizes(), q.options());
  auto lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options());
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "strand::attention forward", [&] {
    run_forward(make_problem<scalar_t>(q, k, v, mask, causal, scale, q_offset), out.data_ptr<scalar_t>(),
                lse.data_ptr<scalar_t>(), isa);
  });
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> attention_backward_cpu(
    const at::Tensor& grad_out_in, const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
    const compat::optional<at::Tensor>& mask_in, const at::Tensor& out_in, const at::Tensor& lse_in, bool causal,
    double scale, int64_t q_offset, CpuIsa isa) {
  check_attention_args("strand::attention backward", q_in, k_in, v_in, mask_in, scale, q_offset);
  check_cpu_dtype(q_in);
  check_cpu_isa(isa);
  TORCH_CHECK(grad_out_in.sizes() == q_in.sizes() && out_in.sizes() == q_in.sizes() &&
                  lse_in.sizes() == q_in.sizes().slice(0, 3),
              "strand::attention backward: grad_out and out must be ", q_in.sizes(), " and logsumexp ",
              q_in.sizes().slice(0, 3));
  const auto dtype = q_in.scalar_type();
  const auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const auto grad_out = grad_out_in.to(dtype).contiguous(), out = out_in.to(dtype).contiguous();
  const auto lse = lse_in.to(dtype).contiguous();
  const auto mask = mask_in.has_value() && mask_in->defined() ? mask_in->contiguous() : at::Tensor();
  auto grad_k = at::empty(k.sizes(), k.options());
  auto grad_v = at::empty(v.sizes(), v.options());
  // D_i = sum_d dO_id O_id: O(batch * heads * Lq) memory.
  const auto delta = (grad_out * out).sum(-1).contiguous();
  const int64_t groups = backward_groups(q.size(0) * q.size(1), (k.size(2) + kBlockK - 1) / kBlockK);
  auto dq_partial = at::zeros({groups, q.size(0), q.size(1), q.size(2), q.size(3)}, q.options());
  AT_DISPATCH_FLOATING_TYPES(dtype, "strand::attention backward", [&] {
    run_backward(make_problem<scalar_t>(q, k, v, mask, causal, scale, q_offset),
                 BackwardArgs<scalar_t>{grad_out.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>(),
                                        delta.data_ptr<scalar_t>(), groups, dq_partial.data_ptr<scalar_t>(),
                                        grad_k.data_ptr<scalar_t>(), grad_v.data_ptr<scalar_t>()},
                 isa);
  });
  const auto grad_q = (groups == 1 ? dq_partial.squeeze(0) : dq_partial.sum(0)).mul_(scale);
  return {grad_q, grad_k, grad_v};
}

namespace {

// The registered ops: the widest path this CPU runs.
std::tuple<at::Tensor, at::Tensor> forward_op(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                              const compat::optional<at::Tensor>& mask, bool causal, double scale,
                                              int64_t q_offset) {
  return attention_forward_cpu(q, k, v, mask, causal, scale, q_offset, cpu_isa());
}

at::Tensor attention_op(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                        const compat::optional<at::Tensor>& mask, bool causal, double scale, int64_t q_offset) {
  return std::get<0>(forward_op(q, k, v, mask, causal, scale, q_offset));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_op(const at::Tensor& grad_out, const at::Tensor& q,
                                                           const at::Tensor& k, const at::Tensor& v,
                                                           const compat::optional<at::Tensor>& mask,
                                                           const at::Tensor& out, const at::Tensor& lse, bool causal,
                                                           double scale, int64_t q_offset) {
  return attention_backward_cpu(grad_out, q, k, v, mask, out, lse, causal, scale, q_offset, cpu_isa());
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CPU, m) {
  m.impl("attention", &attention_op);
  m.impl("_attention_forward", &forward_op);
  m.impl("_attention_backward", &backward_op);
}

}  // namespace strand::kernels
