// CPU kernel of strand::selective_scan: the sequential recurrence per (batch, channel) row with
// the N-vector state on the stack, parallel over rows, exp computed on the fly, nothing of size
// (batch, dim, L, N) ever stored (the analysis of Gu & Dao 2023, App. D, applied to a CPU).
//
// Layout: B and C are transposed once to (batch, G, L, Np) and A padded to (dim, Np), with Np =
// N rounded up to a whole vector and zeros in the padding, so the inner loop over the state runs
// over whole contiguous vectors: a zero A entry gives exp(0) = 1 and a zero B entry keeps the
// padded state at 0, which a zero C entry then ignores.
//
// The inner loop is bound by exp (one per state entry and step; std::exp is a scalar library
// call), so it is written with GCC vector extensions and an exp of our own (Cody-Waite range
// reduction and a Taylor polynomial). The same code is compiled for two code paths chosen at run
// time: the baseline x86-64 ISA with 16-byte SSE2 vectors, and AVX2 + FMA with 32-byte vectors
// (__builtin_cpu_supports); both are tested. Per-step scalars (softplus of delta, sigmoid of z)
// are computed a vector of steps at a time at the start of each chunk rather than by libm calls
// inside the step loop. Measured on the development VM (1 thread, batch 1, dim 256, N 16, L 1024,
// float32), per (step, state) entry: forward 2.7 ns portable, 1.2 ns AVX2; backward 4.1 and
// 2.1 ns. Scalar libm for the per-step terms had cost as much again as the whole AVX2 step.
//
// Backward: chunks of kSelectiveScanChunk steps in reverse; each chunk's states (and exp(dt A))
// are recomputed from the saved chunk state into a per-row buffer, then the adjoint recurrence
// g_t = dy_t C_t + exp(dt_{t+1} A) g_{t+1} runs backwards. dB and dC are shared by the channels
// of a group: a task owns (batch, group, block of channels) and adds its channels, in order, into
// its own (L, Np) buffer; blocks are summed in a fixed order at the end, so results depend only
// on the shape and the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "kernels/common/device.h"
#include "kernels/selective_scan/selective_scan.h"
#include "kernels/selective_scan/selective_scan_internal.h"
#include "kernels/selective_scan/selective_scan_math.h"
#include "kernels/selective_scan/selective_scan_params.h"

#if defined(__x86_64__) || defined(__i386__)
#define STRAND_SCAN_X86 1
#else
#define STRAND_SCAN_X86 0
#endif

// Kernel bodies are inlined into one function per code path, so that each path compiles them
// with its own instruction set.
#define STRAND_SCAN_INLINE inline __attribute__((always_inline))

namespace strand::kernels {
namespace {

constexpr int64_t kChunk = kSelectiveScanChunk;
// Vector width of each code path: SSE2 registers (baseline x86-64) and AVX2 registers. The state
// is padded to whole kPaddingBytes vectors, a multiple of both.
constexpr int64_t kPortableBytes = 16;
constexpr int64_t kAvx2Bytes = 32;
constexpr int64_t kPaddingBytes = 32;

/// Constants of the vectorised exp for each dtype.
template <typename T>
struct ExpConstants;

template <>
struct ExpConstants<float> {
  using Bits = int32_t;
  static constexpr float kLog2e = 1.44269504088896341f;
  // ln 2 = kLn2Hi + kLn2Lo with kLn2Hi exact in 9 bits, so k * kLn2Hi is exact for |k| <= 2^15.
  static constexpr float kLn2Hi = 0.693359375f;
  static constexpr float kLn2Lo = -2.12194440054690583e-4f;
  // Inputs are clamped to [kMin, kMax]: below kMin the result is exp(kMin) = 2.4e-38 (near the
  // smallest normal float) instead of a denormal or 0, above kMax = log(FLT_MAX) about FLT_MAX or
  // +inf. Both are far outside what a scan meets (dt A <= 0 and small in Mamba).
  static constexpr float kMin = -86.6f;
  static constexpr float kMax = 88.7228391f;
  static constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr Bits kRoundBits = 0x4B400000;
  static constexpr Bits kExponentBias = 127;
  static constexpr int kMantissaBits = 23;
  static constexpr int kTaylorDegree = 7;  // |r|^8 / 8! <= 5e-9 relative for |r| <= ln2 / 2
  static constexpr int kLog1pTerms = 8;    // (1/9)^8 / 17 <= 2e-9: see Simd::log1p_unit
};

template <>
struct ExpConstants<double> {
  using Bits = int64_t;
  static constexpr double kLog2e = 1.44269504088896340736;
  // kLn2Hi exact in 20 bits, so k * kLn2Hi is exact for |k| <= 2^33.
  static constexpr double kLn2Hi = 0.693145751953125;
  static constexpr double kLn2Lo = 1.42860682030941723212e-6;
  static constexpr double kMin = -707.0;  // exp(kMin) = 9.8e-308, near the smallest normal double
  static constexpr double kMax = 709.782712893383973;
  static constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr Bits kRoundBits = 0x4338000000000000LL;
  static constexpr Bits kExponentBias = 1023;
  static constexpr int kMantissaBits = 52;
  static constexpr int kTaylorDegree = 13;  // |r|^14 / 14! <= 5e-18 relative
  static constexpr int kLog1pTerms = 17;     // (1/9)^17 / 35 <= 2e-18
};

/// kBytes-byte vectors of T and the operations the kernels need. Vectors travel by reference only
/// (passing them by value would change the ABI between the two code paths).
template <typename T, int64_t kBytes>
struct Simd {
  static constexpr int64_t kLanes = kBytes / static_cast<int64_t>(sizeof(T));
  using Bits = typename ExpConstants<T>::Bits;
  typedef T Vec __attribute__((vector_size(kBytes)));
  typedef Bits BitsVec __attribute__((vector_size(kBytes)));

  /// 1 / k! for k = 0 .. the Taylor degree of exp.
  static constexpr std::array<T, ExpConstants<T>::kTaylorDegree + 1> kInverseFactorial = [] {
    std::array<T, ExpConstants<T>::kTaylorDegree + 1> c{};
    double factorial = 1;
    for (int k = 0; k <= ExpConstants<T>::kTaylorDegree; ++k) {
      if (k > 0) factorial *= k;
      c[static_cast<size_t>(k)] = static_cast<T>(1.0 / factorial);
    }
    return c;
  }();

  static STRAND_SCAN_INLINE void load(Vec& v, const T* p) { std::memcpy(&v, p, sizeof v); }
  static STRAND_SCAN_INLINE void store(T* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }

  /// Sum of the lanes, halves first (a fixed order, so results are reproducible).
  static STRAND_SCAN_INLINE T sum(const Vec& v) {
    T half[kLanes / 2];
    for (int64_t j = 0; j < kLanes / 2; ++j) half[j] = v[j] + v[j + kLanes / 2];
    for (int64_t width = kLanes / 4; width >= 1; width /= 2) {
      for (int64_t j = 0; j < width; ++j) half[j] += half[j + width];
    }
    return half[0];
  }

  /// out = exp(x) lane by lane: x = k ln2 + r with |r| <= ln2 / 2, exp(r) by its Taylor
  /// polynomial, 2^k assembled in the exponent bits. Relative error a few ulp inside
  /// [kMin, kMax], clamped outside (see ExpConstants); NaN propagates.
  static STRAND_SCAN_INLINE void exp(const Vec& x, Vec& out) {
    using K = ExpConstants<T>;
    const Vec lo = Vec{} + K::kMin, hi = Vec{} + K::kMax;
    Vec xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    const Vec shifted = xc * K::kLog2e + K::kRound;  // round to nearest integer k in the low bits
    const Vec k = shifted - K::kRound;
    const Vec r = (xc - k * K::kLn2Hi) - k * K::kLn2Lo;
    Vec p = Vec{} + kInverseFactorial[K::kTaylorDegree];
    for (int d = K::kTaylorDegree - 1; d >= 0; --d) p = p * r + kInverseFactorial[d];
    // 2^(k - 1) from the bits of `shifted` (k sits in its low mantissa bits), times 2 below:
    // keeps the exponent field in range for k = 128 (float) / 1024 (double).
    const BitsVec bits = __builtin_bit_cast(BitsVec, shifted);
    const BitsVec scale_bits = (bits - (K::kRoundBits - K::kExponentBias + 1)) << K::kMantissaBits;
    const Vec scale = __builtin_bit_cast(Vec, scale_bits);
    out = p * scale * T(2);
  }

  /// out = log(1 + y) for y in [0, 1], from log(1 + y) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...)
  /// with s = y / (2 + y) <= 1/3.
  static STRAND_SCAN_INLINE void log1p_unit(const Vec& y, Vec& out) {
    const Vec sv = y / (y + T(2));
    const Vec s2 = sv * sv;
    constexpr int kTerms = ExpConstants<T>::kLog1pTerms;
    Vec p = Vec{} + T(1) / T(2 * kTerms - 1);
    for (int k = kTerms - 2; k >= 0; --k) p = p * s2 + T(1) / T(2 * k + 1);
    out = T(2) * sv * p;
  }

  /// out = softplus(x) = max(x, 0) + log(1 + exp(-|x|)), and x above the threshold (as
  /// scan_math::softplus).
  static STRAND_SCAN_INLINE void softplus(const Vec& x, Vec& out) {
    const Vec zero{};
    Vec e = x < zero ? x : -x;  // -|x|, NaN kept
    exp(e, e);
    Vec l;
    log1p_unit(e, l);
    const Vec r = (x > zero ? x : zero) + l;
    out = x > scan_math::softplus_threshold<T>() ? x : r;
  }

  /// out = 1 / (1 + exp(-x)).
  static STRAND_SCAN_INLINE void sigmoid(const Vec& x, Vec& out) {
    Vec e = -x;
    exp(e, e);
    out = T(1) / (e + T(1));
  }
};

/// Per-step scalars of one chunk of a row, computed a vector of steps at a time.
template <typename T>
struct StepTerms {
  T dt[kChunk];        // dt = softplus(delta + bias) or delta + bias
  T dt_slope[kChunk];  // d dt / d delta: sigmoid(delta + bias) (1 above the threshold), or 1
  T gate_sig[kChunk];  // sigmoid(z) (with z only)
  T x[kChunk];         // padded input of the vector loops

  /// Fills dt (and dt_slope when `slopes`) and gate_sig (when z) for `steps` <= kChunk steps.
  template <int64_t kBytes>
  STRAND_SCAN_INLINE void compute(const T* delta, T bias, bool softplus, const T* z, int64_t steps, bool slopes) {
    using S = Simd<T, kBytes>;
    using V = typename S::Vec;
    const int64_t padded = (steps + S::kLanes - 1) / S::kLanes * S::kLanes;
    for (int64_t i = 0; i < steps; ++i) x[i] = delta[i] + bias;
    std::fill(x + steps, x + padded, T(0));
    if (softplus) {
      for (int64_t i = 0; i < padded; i += S::kLanes) {
        V v, r;
        S::load(v, x + i);
        S::softplus(v, r);
        S::store(dt + i, r);
        if (slopes) {
          S::sigmoid(v, r);
          r = v > scan_math::softplus_threshold<T>() ? V{} + T(1) : r;
          S::store(dt_slope + i, r);
        }
      }
    } else {
      std::copy(x, x + steps, dt);
      if (slopes) std::fill(dt_slope, dt_slope + steps, T(1));
    }
    if (z != nullptr) {
      std::copy(z, z + steps, x);
      for (int64_t i = 0; i < padded; i += S::kLanes) {
        V v, r;
        S::load(v, x + i);
        S::sigmoid(v, r);
        S::store(gate_sig + i, r);
      }
    }
  }
};

/// Contiguous, padded inputs of one call. Rows are (batch, channel) pairs, row = b * dim + c.
template <typename T>
struct Problem {
  const T* u;      // (batch, dim, L)
  const T* delta;  // (batch, dim, L)
  const T* z;      // (batch, dim, L) or nullptr
  const T* A;      // (dim, np), zero padding
  const T* B;      // (batch, groups, L, np), zero padding
  const T* C;      // (batch, groups, L, np), zero padding
  const T* D;      // (dim) or nullptr
  const T* bias;   // (dim) or nullptr
  const T* h0;     // (batch, dim, N) or nullptr
  int64_t batch, dim, len, dstate, np, groups;
  bool softplus;

  int64_t chunks() const { return selective_scan_chunks(len); }
  int64_t group_offset(int64_t row) const {
    const int64_t b = row / dim, c = row % dim;
    return (b * groups + c / (dim / groups)) * len * np;
  }
};

/// Forward outputs (contiguous); chunk_states may be nullptr.
template <typename T>
struct ForwardOut {
  T* out;           // (batch, dim, L)
  T* last_state;    // (batch, dim, N)
  T* chunk_states;  // (batch, dim, chunks, N) or nullptr
};

/// Per-thread buffers of the forward.
template <typename T>
struct ForwardScratch {
  std::vector<T> h;  // (np): the state
  StepTerms<T> steps;

  explicit ForwardScratch(int64_t np) : h(static_cast<size_t>(np)) {}
};

template <typename T, int64_t kBytes>
STRAND_SCAN_INLINE void forward_row(const Problem<T>& p, int64_t row, ForwardScratch<T>& s, const ForwardOut<T>& o) {
  using S = Simd<T, kBytes>;
  using V = typename S::Vec;
  const int64_t len = p.len, np = p.np, n_state = p.dstate, c = row % p.dim;
  const T* __restrict u = p.u + row * len;
  const T* __restrict delta = p.delta + row * len;
  const T* __restrict z = p.z != nullptr ? p.z + row * len : nullptr;
  const T* __restrict A = p.A + c * np;
  const T* __restrict B = p.B + p.group_offset(row);
  const T* __restrict C = p.C + p.group_offset(row);
  const T d_skip = p.D != nullptr ? p.D[c] : T(0);
  const T bias = p.bias != nullptr ? p.bias[c] : T(0);
  T* __restrict out = o.out + row * len;
  T* __restrict states = o.chunk_states != nullptr ? o.chunk_states + row * p.chunks() * n_state : nullptr;
  T* __restrict h = s.h.data();
  StepTerms<T>& terms = s.steps;

  std::fill(h, h + np, T(0));
  if (p.h0 != nullptr) std::copy(p.h0 + row * n_state, p.h0 + (row + 1) * n_state, h);
  for (int64_t t0 = 0; t0 < len; t0 += kChunk) {
    const int64_t steps = std::min(kChunk, len - t0);
    if (states != nullptr) std::copy(h, h + n_state, states + (t0 / kChunk) * n_state);
    terms.template compute<kBytes>(delta + t0, bias, p.softplus, z != nullptr ? z + t0 : nullptr, steps, /*slopes=*/false);
    for (int64_t i = 0; i < steps; ++i) {
      const int64_t t = t0 + i;
      const T dt = terms.dt[i];
      const T dtu = dt * u[t];
      const T* __restrict Bt = B + t * np;
      const T* __restrict Ct = C + t * np;
      V acc{};
      for (int64_t n = 0; n < np; n += S::kLanes) {
        V a, hv, bv, cv;
        S::load(a, A + n);
        S::load(hv, h + n);
        S::load(bv, Bt + n);
        S::load(cv, Ct + n);
        a = a * dt;
        S::exp(a, a);
        hv = a * hv + dtu * bv;
        S::store(h + n, hv);
        acc += cv * hv;
      }
      T y = S::sum(acc) + d_skip * u[t];
      if (z != nullptr) y *= scan_math::silu_from_sigmoid(z[t], terms.gate_sig[i]);
      out[t] = y;
    }
  }
  std::copy(h, h + n_state, o.last_state + row * n_state);
}

/// Backward inputs and outputs besides the Problem (contiguous; optional ones nullptr).
template <typename T>
struct BackwardIo {
  const T* chunk_states;  // (batch, dim, chunks, N)
  const T* grad_out;      // (batch, dim, L) or nullptr (zero)
  const T* grad_last;     // (batch, dim, N) or nullptr (zero)
  T* grad_u;              // (batch, dim, L)
  T* grad_delta;          // (batch, dim, L)
  T* grad_z;              // (batch, dim, L) or nullptr
  T* grad_A_rows;         // (batch, dim, N)
  T* grad_D_rows;         // (batch, dim) or nullptr
  T* grad_bias_rows;      // (batch, dim) or nullptr
  T* grad_h0;             // (batch, dim, N) or nullptr
};

/// Per-thread buffers of the backward, for one row at a time.
template <typename T>
struct BackwardScratch {
  std::vector<T> h;        // (kChunk + 1, np): state entering the chunk, then after each step
  std::vector<T> a;        // (kChunk, np): exp(dt A) of each step
  std::vector<T> y;        // (kChunk): output before the gate (only with z)
  std::vector<T> g_next;   // (np): exp(dt_{t+1} A) g_{t+1}, the adjoint flowing into step t
  std::vector<T> dA;       // (np): this chunk's dA terms
  std::vector<double> dA_total;  // (np): sum over chunks
  StepTerms<T> steps;

  explicit BackwardScratch(int64_t np)
      : h(static_cast<size_t>((kChunk + 1) * np)),
        a(static_cast<size_t>(kChunk * np)),
        y(kChunk),
        g_next(static_cast<size_t>(np)),
        dA(static_cast<size_t>(np)),
        dA_total(static_cast<size_t>(np)) {}
};

/// Backward of one row; adds its dB and dC terms into dB, dC ((L, np) of the row's group).
template <typename T, int64_t kBytes>
STRAND_SCAN_INLINE void backward_row(const Problem<T>& p, const BackwardIo<T>& io, int64_t row,
                                     BackwardScratch<T>& s, T* __restrict dB, T* __restrict dC) {
  using S = Simd<T, kBytes>;
  using V = typename S::Vec;
  const int64_t len = p.len, np = p.np, n_state = p.dstate, c = row % p.dim;
  const T* __restrict u = p.u + row * len;
  const T* __restrict delta = p.delta + row * len;
  const T* __restrict z = p.z != nullptr ? p.z + row * len : nullptr;
  const T* __restrict A = p.A + c * np;
  const T* __restrict B = p.B + p.group_offset(row);
  const T* __restrict C = p.C + p.group_offset(row);
  const T d_skip = p.D != nullptr ? p.D[c] : T(0);
  const T bias = p.bias != nullptr ? p.bias[c] : T(0);
  const T* __restrict grad_out = io.grad_out != nullptr ? io.grad_out + row * len : nullptr;
  T* __restrict grad_u = io.grad_u + row * len;
  T* __restrict grad_delta = io.grad_delta + row * len;
  T* __restrict grad_z = io.grad_z != nullptr ? io.grad_z + row * len : nullptr;
  T* __restrict hbuf = s.h.data();
  T* __restrict abuf = s.a.data();
  T* __restrict g_next = s.g_next.data();
  T* __restrict dA = s.dA.data();
  const int64_t n_chunks = p.chunks();

  std::fill(g_next, g_next + np, T(0));
  if (io.grad_last != nullptr) std::copy(io.grad_last + row * n_state, io.grad_last + (row + 1) * n_state, g_next);
  std::fill(s.dA_total.begin(), s.dA_total.end(), 0.0);
  double dD_total = 0, dbias_total = 0;

  for (int64_t k = n_chunks - 1; k >= 0; --k) {
    const int64_t t0 = k * kChunk, steps = std::min(kChunk, len - t0);
    // Recompute the chunk's states from the saved one.
    std::fill(hbuf, hbuf + np, T(0));
    const T* saved = io.chunk_states + (row * n_chunks + k) * n_state;
    std::copy(saved, saved + n_state, hbuf);
    StepTerms<T>& terms = s.steps;
    terms.template compute<kBytes>(delta + t0, bias, p.softplus, z != nullptr ? z + t0 : nullptr, steps, /*slopes=*/true);
    for (int64_t i = 0; i < steps; ++i) {
      const int64_t t = t0 + i;
      const T dt = terms.dt[i];
      const T dtu = dt * u[t];
      const T* __restrict Bt = B + t * np;
      const T* __restrict Ct = C + t * np;
      V acc{};
      for (int64_t n = 0; n < np; n += S::kLanes) {
        V a, hv, bv;
        S::load(a, A + n);
        S::load(hv, hbuf + i * np + n);
        S::load(bv, Bt + n);
        a = a * dt;
        S::exp(a, a);
        hv = a * hv + dtu * bv;
        S::store(abuf + i * np + n, a);
        S::store(hbuf + (i + 1) * np + n, hv);
        if (z != nullptr) {
          V cv;
          S::load(cv, Ct + n);
          acc += cv * hv;
        }
      }
      if (z != nullptr) s.y[i] = S::sum(acc) + d_skip * u[t];
    }
    // Adjoint recurrence, backwards through the chunk.
    std::fill(dA, dA + np, T(0));
    for (int64_t i = steps - 1; i >= 0; --i) {
      const int64_t t = t0 + i;
      const T dt = terms.dt[i], ut = u[t];
      const T dout = grad_out != nullptr ? grad_out[t] : T(0);
      T dy = dout;
      if (z != nullptr) {
        const T zt = z[t], sig = terms.gate_sig[i];
        grad_z[t] = dout * s.y[i] * scan_math::silu_derivative_from_sigmoid(zt, sig);
        dy = dout * scan_math::silu_from_sigmoid(zt, sig);
      }
      dD_total += static_cast<double>(dy * ut);
      const T dtu = dt * ut;
      const T* __restrict Bt = B + t * np;
      const T* __restrict Ct = C + t * np;
      T* __restrict dBt = dB + t * np;
      T* __restrict dCt = dC + t * np;
      V acc_du{}, acc_ddt{};
      for (int64_t n = 0; n < np; n += S::kLanes) {
        V cv, bv, av, gn, h_prev, h_cur, a_coef, dbv, dcv, dav;
        S::load(cv, Ct + n);
        S::load(bv, Bt + n);
        S::load(av, abuf + i * np + n);
        S::load(gn, g_next + n);
        S::load(h_prev, hbuf + i * np + n);
        S::load(h_cur, hbuf + (i + 1) * np + n);
        S::load(a_coef, A + n);
        S::load(dbv, dBt + n);
        S::load(dcv, dCt + n);
        S::load(dav, dA + n);
        const V g = dy * cv + gn;  // dL/dh_t
        dcv += dy * h_cur;
        dbv += dtu * g;
        acc_du += g * bv;
        const V g_ah = g * (av * h_prev);  // g_t exp(dt A) h_{t-1}
        acc_ddt += ut * (g * bv) + a_coef * g_ah;
        dav += dt * g_ah;
        gn = av * g;
        S::store(dCt + n, dcv);
        S::store(dBt + n, dbv);
        S::store(dA + n, dav);
        S::store(g_next + n, gn);
      }
      grad_u[t] = dt * S::sum(acc_du) + d_skip * dy;
      const T ddt = S::sum(acc_ddt) * terms.dt_slope[i];
      grad_delta[t] = ddt;
      dbias_total += static_cast<double>(ddt);
    }
    for (int64_t n = 0; n < np; ++n) s.dA_total[n] += static_cast<double>(dA[n]);
  }
  for (int64_t n = 0; n < n_state; ++n) io.grad_A_rows[row * n_state + n] = static_cast<T>(s.dA_total[n]);
  if (io.grad_D_rows != nullptr) io.grad_D_rows[row] = static_cast<T>(dD_total);
  if (io.grad_bias_rows != nullptr) io.grad_bias_rows[row] = static_cast<T>(dbias_total);
  if (io.grad_h0 != nullptr) std::copy(g_next, g_next + n_state, io.grad_h0 + row * n_state);
}

/// Rows [begin, end) of the forward; one function per code path.
template <typename T>
void forward_rows_portable(const Problem<T>& p, const ForwardOut<T>& o, int64_t begin, int64_t end,
                           ForwardScratch<T>& s) {
  for (int64_t row = begin; row < end; ++row) forward_row<T, kPortableBytes>(p, row, s, o);
}

/// Channels [c_begin, c_end) of batch b, in order, into one (L, np) dB/dC buffer pair.
template <typename T>
void backward_rows_portable(const Problem<T>& p, const BackwardIo<T>& io, int64_t b, int64_t c_begin, int64_t c_end,
                            BackwardScratch<T>& s, T* dB, T* dC) {
  for (int64_t c = c_begin; c < c_end; ++c) backward_row<T, kPortableBytes>(p, io, b * p.dim + c, s, dB, dC);
}

#if STRAND_SCAN_X86
template <typename T>
__attribute__((target("avx2,fma"))) void forward_rows_avx2(const Problem<T>& p, const ForwardOut<T>& o,
                                                            int64_t begin, int64_t end, ForwardScratch<T>& s) {
  for (int64_t row = begin; row < end; ++row) forward_row<T, kAvx2Bytes>(p, row, s, o);
}

template <typename T>
__attribute__((target("avx2,fma"))) void backward_rows_avx2(const Problem<T>& p, const BackwardIo<T>& io, int64_t b,
                                                             int64_t c_begin, int64_t c_end, BackwardScratch<T>& s,
                                                             T* dB, T* dC) {
  for (int64_t c = c_begin; c < c_end; ++c) backward_row<T, kAvx2Bytes>(p, io, b * p.dim + c, s, dB, dC);
}
#endif

bool use_avx2(ScanCpuPath path) {
  if (path == ScanCpuPath::kPortable) return false;
  if (path == ScanCpuPath::kAvx2) {
    TORCH_CHECK(selective_scan_cpu_has_avx2(),
                "strand::selective_scan: the AVX2 + FMA code path was requested but this processor lacks AVX2 or FMA");
    return true;
  }
  return selective_scan_cpu_has_avx2();
}

template <typename T>
void run_forward(const Problem<T>& p, const ForwardOut<T>& o, bool avx2) {
  at::parallel_for(0, p.batch * p.dim, 1, [&](int64_t begin, int64_t end) {
    ForwardScratch<T> scratch(p.np);
#if STRAND_SCAN_X86
    if (avx2) {
      forward_rows_avx2(p, o, begin, end, scratch);
      return;
    }
#endif
    forward_rows_portable(p, o, begin, end, scratch);
  });
}

/// Channel blocks per group in the backward: enough tasks for the threads, each block with its
/// own dB/dC buffer pair, bounded so those buffers stay small.
int64_t backward_blocks(const ScanSizes& s, int64_t np, size_t elem) {
  const int64_t pairs = s.batch * s.groups;
  if (pairs == 0 || s.len == 0) return 1;
  const int64_t want = (2 * static_cast<int64_t>(at::get_num_threads()) + pairs - 1) / pairs;
  const double pair_bytes = 2.0 * static_cast<double>(pairs) * static_cast<double>(s.len * np) * static_cast<double>(elem);
  constexpr double kBudget = 256.0 * 1024 * 1024;  // for the extra blocks' buffers
  const auto fit = static_cast<int64_t>(kBudget / std::max(pair_bytes, 1.0));
  return std::clamp<int64_t>(std::min(want, 1 + fit), 1, std::max<int64_t>(1, s.dim / s.groups));
}

template <typename T>
void run_backward(const Problem<T>& p, const BackwardIo<T>& io, int64_t blocks, T* dB_parts, T* dC_parts, bool avx2) {
  const int64_t channels_per_group = p.dim / p.groups;
  const int64_t group_elems = p.len * p.np;
  at::parallel_for(0, p.batch * p.groups * blocks, 1, [&](int64_t begin, int64_t end) {
    BackwardScratch<T> scratch(p.np);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t pair = task / blocks, block = task % blocks;  // pair = b * groups + g
      const int64_t b = pair / p.groups, g = pair % p.groups;
      const int64_t c_begin = g * channels_per_group + block * channels_per_group / blocks;
      const int64_t c_end = g * channels_per_group + (block + 1) * channels_per_group / blocks;
      T* dB = dB_parts + (pair * blocks + block) * group_elems;
      T* dC = dC_parts + (pair * blocks + block) * group_elems;
#if STRAND_SCAN_X86
      if (avx2) {
        backward_rows_avx2(p, io, b, c_begin, c_end, scratch, dB, dC);
        continue;
      }
#endif
      backward_rows_portable(p, io, b, c_begin, c_end, scratch, dB, dC);
    }
  });
}

void check_cpu_dtype(const at::Tensor& u) {
  TORCH_CHECK(u.scalar_type() == at::kFloat || u.scalar_type() == at::kDouble,
              "strand::selective_scan: the CPU kernel supports float32 and float64, got ", u.scalar_type(),
              " (convert, or use strand::selective_scan_aten)");
}

int64_t padded_state(int64_t dstate, at::ScalarType dtype) {
  const int64_t lanes = kPaddingBytes / static_cast<int64_t>(at::elementSize(dtype));
  return (dstate + lanes - 1) / lanes * lanes;
}

/// Contiguous copies (or the tensors themselves) and the padded, transposed A, B, C.
struct Prepared {
  at::Tensor u, delta, z, A, B, C, D, bias, h0;
  ScanSizes sizes;
  int64_t np = 0;
};

Prepared prepare(const ScanSizes& s, const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                 const at::Tensor& B, const at::Tensor& C, const at::Tensor& D, const at::Tensor& z,
                 const at::Tensor& delta_bias, const at::Tensor& initial_state) {
  Prepared r;
  r.sizes = s;
  r.np = padded_state(s.dstate, u.scalar_type());
  const auto contiguous_or_undefined = [](const at::Tensor& t) { return t.defined() ? t.contiguous() : t; };
  r.u = u.contiguous();
  r.delta = delta.contiguous();
  r.z = contiguous_or_undefined(z);
  r.D = contiguous_or_undefined(D);
  r.bias = contiguous_or_undefined(delta_bias);
  r.h0 = contiguous_or_undefined(initial_state);
  r.A = at::zeros({s.dim, r.np}, u.options());
  r.A.narrow(1, 0, s.dstate).copy_(A);
  const auto transposed = [&](const at::Tensor& t) {
    auto out = at::zeros({s.batch, s.groups, s.len, r.np}, u.options());
    out.narrow(3, 0, s.dstate).copy_((t.dim() == 3 ? t.unsqueeze(1) : t).transpose(2, 3));
    return out;
  };
  r.B = transposed(B);
  r.C = transposed(C);
  return r;
}

template <typename T>
Problem<T> make_problem(const Prepared& r, bool softplus) {
  const auto ptr = [](const at::Tensor& t) -> const T* { return t.defined() ? t.data_ptr<T>() : nullptr; };
  Problem<T> p{};
  p.u = ptr(r.u);
  p.delta = ptr(r.delta);
  p.z = ptr(r.z);
  p.A = ptr(r.A);
  p.B = ptr(r.B);
  p.C = ptr(r.C);
  p.D = ptr(r.D);
  p.bias = ptr(r.bias);
  p.h0 = ptr(r.h0);
  p.batch = r.sizes.batch;
  p.dim = r.sizes.dim;
  p.len = r.sizes.len;
  p.dstate = r.sizes.dstate;
  p.np = r.np;
  p.groups = r.sizes.groups;
  p.softplus = softplus;
  return p;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_cpu_op(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
    const compat::optional<at::Tensor>& D, const compat::optional<at::Tensor>& z,
    const compat::optional<at::Tensor>& delta_bias, bool delta_softplus,
    const compat::optional<at::Tensor>& initial_state) {
  return selective_scan_forward_cpu(u, delta, A, B, C, tensor_or_undefined(D), tensor_or_undefined(z),
                                    tensor_or_undefined(delta_bias), delta_softplus,
                                    tensor_or_undefined(initial_state), /*keep_chunk_states=*/true,
                                    ScanCpuPath::kAuto);
}

std::tuple<at::Tensor, at::Tensor> selective_scan_cpu_op(const at::Tensor& u, const at::Tensor& delta,
                                                         const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
                                                         const compat::optional<at::Tensor>& D,
                                                         const compat::optional<at::Tensor>& z,
                                                         const compat::optional<at::Tensor>& delta_bias,
                                                         bool delta_softplus,
                                                         const compat::optional<at::Tensor>& initial_state,
                                                         bool return_last_state) {
  // Reached without autograd (inference mode, or below the Autograd key): no states kept.
  auto [out, last, states] = selective_scan_forward_cpu(
      u, delta, A, B, C, tensor_or_undefined(D), tensor_or_undefined(z), tensor_or_undefined(delta_bias),
      delta_softplus, tensor_or_undefined(initial_state), /*keep_chunk_states=*/false, ScanCpuPath::kAuto);
  return {out, return_last_state ? last : at::Tensor()};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
backward_cpu_op(const compat::optional<at::Tensor>& grad_out, const compat::optional<at::Tensor>& grad_last_state,
                const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                const at::Tensor& C, const compat::optional<at::Tensor>& D, const compat::optional<at::Tensor>& z,
                const compat::optional<at::Tensor>& delta_bias, bool delta_softplus,
                const compat::optional<at::Tensor>& initial_state, const at::Tensor& chunk_states) {
  return selective_scan_backward_cpu(tensor_or_undefined(grad_out), tensor_or_undefined(grad_last_state), u, delta, A,
                                     B, C, tensor_or_undefined(D), tensor_or_undefined(z),
                                     tensor_or_undefined(delta_bias), delta_softplus,
                                     tensor_or_undefined(initial_state), chunk_states, ScanCpuPath::kAuto);
}

}  // namespace

bool selective_scan_cpu_has_avx2() { return cpu_isa() >= CpuIsa::kAvx2; }

std::tuple<at::Tensor, at::Tensor, at::Tensor> selective_scan_forward_cpu(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
    const at::Tensor& D, const at::Tensor& z, const at::Tensor& delta_bias, bool delta_softplus,
    const at::Tensor& initial_state, bool keep_chunk_states, ScanCpuPath path) {
  const auto s = check_selective_scan_args("strand::selective_scan", u, delta, A, B, C, D, z, delta_bias,
                                           initial_state);
  check_cpu_dtype(u);
  TORCH_CHECK(u.is_cpu(), "strand::selective_scan: the CPU kernel needs CPU tensors, got ", u.device());
  const bool avx2 = use_avx2(path);
  const Prepared r = prepare(s, u, delta, A, B, C, D, z, delta_bias, initial_state);
  auto out = at::empty({s.batch, s.dim, s.len}, u.options());
  auto last = at::empty({s.batch, s.dim, s.dstate}, u.options());
  auto states = keep_chunk_states ? at::empty({s.batch, s.dim, selective_scan_chunks(s.len), s.dstate}, u.options())
                                  : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "strand::selective_scan forward", [&] {
    const ForwardOut<scalar_t> o{out.data_ptr<scalar_t>(), last.data_ptr<scalar_t>(),
                                 states.defined() ? states.data_ptr<scalar_t>() : nullptr};
    run_forward(make_problem<scalar_t>(r, delta_softplus), o, avx2);
  });
  return {out, last, states};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
selective_scan_backward_cpu(const at::Tensor& grad_out, const at::Tensor& grad_last_state, const at::Tensor& u,
                            const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
                            const at::Tensor& D, const at::Tensor& z, const at::Tensor& delta_bias,
                            bool delta_softplus, const at::Tensor& initial_state, const at::Tensor& chunk_states,
                            ScanCpuPath path) {
  const auto s = check_selective_scan_args("strand::selective_scan backward", u, delta, A, B, C, D, z, delta_bias,
                                           initial_state);
  check_cpu_dtype(u);
  TORCH_CHECK(u.is_cpu(), "strand::selective_scan backward: the CPU kernel needs CPU tensors, got ", u.device());
  const auto dtype = u.scalar_type();
  TORCH_CHECK(chunk_states.defined() && chunk_states.sizes() == at::IntArrayRef({s.batch, s.dim,
                                                                                  selective_scan_chunks(s.len),
                                                                                  s.dstate}),
              "strand::selective_scan backward: chunk_states must be (batch, dim, ceil(L / ", kChunk, "), N) = (",
              s.batch, ", ", s.dim, ", ", selective_scan_chunks(s.len), ", ", s.dstate, "), got ",
              chunk_states.defined() ? chunk_states.sizes() : at::IntArrayRef());
  TORCH_CHECK(!grad_out.defined() || grad_out.sizes() == u.sizes(),
              "strand::selective_scan backward: grad_out must be ", u.sizes(), ", got ", grad_out.sizes());
  TORCH_CHECK(!grad_last_state.defined() || grad_last_state.sizes() == at::IntArrayRef({s.batch, s.dim, s.dstate}),
              "strand::selective_scan backward: grad_last_state must be (", s.batch, ", ", s.dim, ", ", s.dstate,
              "), got ", grad_last_state.sizes());
  const bool avx2 = use_avx2(path);
  const Prepared r = prepare(s, u, delta, A, B, C, D, z, delta_bias, initial_state);
  const auto states = chunk_states.to(dtype).contiguous();
  const auto dout = grad_out.defined() ? grad_out.to(dtype).contiguous() : at::Tensor();
  const auto dlast = grad_last_state.defined() ? grad_last_state.to(dtype).contiguous() : at::Tensor();
  const auto opts = u.options();
  auto grad_u = at::empty({s.batch, s.dim, s.len}, opts);
  auto grad_delta = at::empty({s.batch, s.dim, s.len}, opts);
  auto grad_z = z.defined() ? at::empty({s.batch, s.dim, s.len}, opts) : at::Tensor();
  auto grad_A_rows = at::empty({s.batch, s.dim, s.dstate}, opts);
  auto grad_D_rows = D.defined() ? at::empty({s.batch, s.dim}, opts) : at::Tensor();
  auto grad_bias_rows = delta_bias.defined() ? at::empty({s.batch, s.dim}, opts) : at::Tensor();
  auto grad_h0 = initial_state.defined() ? at::empty({s.batch, s.dim, s.dstate}, opts) : at::Tensor();
  const int64_t blocks = backward_blocks(s, r.np, at::elementSize(dtype));
  auto dB_parts = at::zeros({s.batch, s.groups, blocks, s.len, r.np}, opts);
  auto dC_parts = at::zeros({s.batch, s.groups, blocks, s.len, r.np}, opts);

  AT_DISPATCH_FLOATING_TYPES(dtype, "strand::selective_scan backward", [&] {
    const auto ptr = [](const at::Tensor& t) { return t.defined() ? t.data_ptr<scalar_t>() : nullptr; };
    BackwardIo<scalar_t> io{};
    io.chunk_states = ptr(states);
    io.grad_out = ptr(dout);
    io.grad_last = ptr(dlast);
    io.grad_u = ptr(grad_u);
    io.grad_delta = ptr(grad_delta);
    io.grad_z = ptr(grad_z);
    io.grad_A_rows = ptr(grad_A_rows);
    io.grad_D_rows = ptr(grad_D_rows);
    io.grad_bias_rows = ptr(grad_bias_rows);
    io.grad_h0 = ptr(grad_h0);
    run_backward(make_problem<scalar_t>(r, delta_softplus), io, blocks, ptr(dB_parts), ptr(dC_parts), avx2);
  });

  // Channel blocks summed in block order (at::sum over dim 2 of contiguous blocks would also be
  // fixed, but an explicit loop states the order).
  const auto reduce_blocks = [&](const at::Tensor& parts) {
    at::Tensor total = parts.select(2, 0).clone();
    for (int64_t blk = 1; blk < blocks; ++blk) total.add_(parts.select(2, blk));
    // (batch, G, L, np) -> (batch, G, N, L), 3-dim like B when B is.
    total = total.narrow(3, 0, s.dstate).transpose(2, 3).contiguous();
    return B.dim() == 3 ? total.squeeze(1) : total;
  };
  auto grad_B = reduce_blocks(dB_parts);
  auto grad_C = reduce_blocks(dC_parts);
  // Per-row terms summed over the batch in batch order.
  const auto sum_batch = [&](const at::Tensor& rows) {
    if (!rows.defined()) return rows;
    at::Tensor total = rows.select(0, 0).clone();
    for (int64_t b = 1; b < s.batch; ++b) total.add_(rows.select(0, b));
    return total;
  };
  at::Tensor grad_A, grad_D, grad_bias;
  if (s.batch == 0) {
    grad_A = at::zeros({s.dim, s.dstate}, opts);
    grad_D = D.defined() ? at::zeros({s.dim}, opts) : at::Tensor();
    grad_bias = delta_bias.defined() ? at::zeros({s.dim}, opts) : at::Tensor();
  } else {
    grad_A = sum_batch(grad_A_rows);
    grad_D = sum_batch(grad_D_rows);
    grad_bias = sum_batch(grad_bias_rows);
  }
  return {grad_u, grad_delta, grad_A, grad_B, grad_C, grad_D, grad_z, grad_bias, grad_h0};
}

TORCH_LIBRARY_IMPL(strand, CPU, m) {
  m.impl("selective_scan", &selective_scan_cpu_op);
  m.impl("_selective_scan_forward", &forward_cpu_op);
  m.impl("_selective_scan_backward", &backward_cpu_op);
}

}  // namespace strand::kernels
