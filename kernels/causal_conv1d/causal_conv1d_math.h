// Scalar math of strand::causal_conv1d shared by the CPU kernel and the CUDA kernels (host and
// device). No LibTorch.
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#define STRAND_CONV_HOST_DEVICE __host__ __device__
#else
#define STRAND_CONV_HOST_DEVICE
#endif

namespace strand::kernels::conv_math {

STRAND_CONV_HOST_DEVICE inline float exp_of(float x) { return expf(x); }
STRAND_CONV_HOST_DEVICE inline double exp_of(double x) { return exp(x); }

/// 1 / (1 + exp(-x)); exp overflows to +inf for x << 0, which gives exactly 0 (never NaN).
template <typename T>
STRAND_CONV_HOST_DEVICE inline T sigmoid(T x) {
  return T(1) / (T(1) + exp_of(-x));
}

/// silu(x) = x * sigmoid(x).
template <typename T>
STRAND_CONV_HOST_DEVICE inline T silu(T x) {
  return x * sigmoid(x);
}

/// d silu(x) / dx = s * (1 + x * (1 - s)) with s = sigmoid(x).
template <typename T>
STRAND_CONV_HOST_DEVICE inline T silu_grad(T x) {
  const T s = sigmoid(x);
  return s * (T(1) + x * (T(1) - s));
}

/// The activation and, for the backward, the factor that turns d(out) into d(pre-activation).
template <typename T>
STRAND_CONV_HOST_DEVICE inline T activate(T pre, bool use_silu) {
  return use_silu ? silu(pre) : pre;
}
template <typename T>
STRAND_CONV_HOST_DEVICE inline T activation_grad(T pre, bool use_silu) {
  return use_silu ? silu_grad(pre) : T(1);
}

}  // namespace strand::kernels::conv_math
