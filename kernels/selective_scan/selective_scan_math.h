// Scalar math of strand::selective_scan shared by the CPU kernel and the CUDA kernels (host and
// device): softplus with its threshold, SiLU and their derivatives. The CUDA kernels call these
// per step; the CPU kernel computes the sigmoids with its own vectorised exp, a vector of steps at
// a time, and combines them with the *_from_sigmoid forms below. float and double; no LibTorch.
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#define STRAND_SCAN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define STRAND_SCAN_HOST_DEVICE inline
#endif

namespace strand::kernels::scan_math {

STRAND_SCAN_HOST_DEVICE float exp_of(float x) { return ::expf(x); }
STRAND_SCAN_HOST_DEVICE double exp_of(double x) { return ::exp(x); }
STRAND_SCAN_HOST_DEVICE float log1p_of(float x) { return ::log1pf(x); }
STRAND_SCAN_HOST_DEVICE double log1p_of(double x) { return ::log1p(x); }

/// Above this input softplus returns its input (torch.nn.functional.softplus, threshold 20).
template <typename T>
STRAND_SCAN_HOST_DEVICE constexpr T softplus_threshold() {
  return T(20);
}

template <typename T>
STRAND_SCAN_HOST_DEVICE T sigmoid(T x) {
  return T(1) / (T(1) + exp_of(-x));
}

/// softplus(x) = log(1 + e^x), and x itself above the threshold.
template <typename T>
STRAND_SCAN_HOST_DEVICE T softplus(T x) {
  return x > softplus_threshold<T>() ? x : log1p_of(exp_of(x));
}

/// d softplus / dx: sigmoid(x), and 1 above the threshold (where softplus is the identity).
template <typename T>
STRAND_SCAN_HOST_DEVICE T softplus_derivative(T x) {
  return x > softplus_threshold<T>() ? T(1) : sigmoid(x);
}

/// dt = softplus(delta + bias) or delta + bias.
template <typename T>
STRAND_SCAN_HOST_DEVICE T time_step(T delta, T bias, bool use_softplus) {
  const T x = delta + bias;
  return use_softplus ? softplus(x) : x;
}

/// silu(z) = z s, given s = sigmoid(z).
template <typename T>
STRAND_SCAN_HOST_DEVICE T silu_from_sigmoid(T z, T s) {
  return z * s;
}

/// d silu / dz = s (1 + z (1 - s)), given s = sigmoid(z).
template <typename T>
STRAND_SCAN_HOST_DEVICE T silu_derivative_from_sigmoid(T z, T s) {
  return s * (T(1) + z * (T(1) - s));
}

/// silu(z) = z * sigmoid(z).
template <typename T>
STRAND_SCAN_HOST_DEVICE T silu(T z) {
  return silu_from_sigmoid(z, sigmoid(z));
}

/// d silu / dz.
template <typename T>
STRAND_SCAN_HOST_DEVICE T silu_derivative(T z) {
  return silu_derivative_from_sigmoid(z, sigmoid(z));
}

}  // namespace strand::kernels::scan_math
