// CUDA kernels of strand::selective_scan. Written for correctness and clarity rather than speed:
// one thread block per (batch, channel) row, one thread per state index n (blockDim = N rounded
// up to whole warps, N <= kSelectiveScanCudaMaxState), time sequential inside the block. Each
// step's sum over n is a warp-shuffle reduction followed, with several warps, by a fixed-order
// sum of the per-warp totals in shared memory, so y does not depend on scheduling.
//
// Backward: chunks of kSelectiveScanChunk steps in reverse. Each thread recomputes its state over
// the chunk from the saved chunk state into a per-thread array (local memory), then runs the
// adjoint recurrence g_t = dy_t C_t + exp(dt_{t+1} A) g_{t+1} backwards. dB and dC are shared by
// the channels of a group, whose blocks run concurrently: they are accumulated with atomicAdd,
// so their summation order, and their last bits, vary from run to run (every other gradient is
// reduced in a fixed order). Sees only SelectiveScanParams / SelectiveScanBackwardParams.
#include <cuda_runtime.h>

#include "kernels/selective_scan/selective_scan_math.h"
#include "kernels/selective_scan/selective_scan_params.h"

namespace strand::kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kMaxWarps = static_cast<int>(kSelectiveScanCudaMaxState / kWarp);
constexpr int kChunk = static_cast<int>(kSelectiveScanChunk);

/// Sum of `count` values over the block (count <= 2), returned to every thread. Every thread of
/// the block must call it. Lanes combine by xor butterflies (each pair adds the same two numbers,
/// so all lanes agree bit for bit); warps combine in warp order.
template <typename T, int count>
__device__ void block_sum(T (&v)[count], T (*warp_sums)[kMaxWarps]) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    for (int i = 0; i < count; ++i) v[i] += __shfl_xor_sync(0xffffffffu, v[i], offset);
  }
  const int warps = static_cast<int>(blockDim.x) / kWarp;
  if (warps == 1) return;
  const int lane = static_cast<int>(threadIdx.x) % kWarp, warp = static_cast<int>(threadIdx.x) / kWarp;
  if (lane == 0) {
    for (int i = 0; i < count; ++i) warp_sums[i][warp] = v[i];
  }
  __syncthreads();
  for (int i = 0; i < count; ++i) {
    T total = warp_sums[i][0];
    for (int w = 1; w < warps; ++w) total += warp_sums[i][w];
    v[i] = total;
  }
  __syncthreads();  // the sums may be overwritten by the next call
}

/// Position of the (batch, channel) row of this block and its group.
struct Row {
  int64_t index, b, c, g;
};

template <typename T>
__device__ Row row_of_block(const SelectiveScanParams<T>& p) {
  Row r;
  r.index = static_cast<int64_t>(blockIdx.x);
  r.b = r.index / p.dim;
  r.c = r.index % p.dim;
  r.g = r.c / (p.dim / p.groups);
  return r;
}

template <typename T>
__global__ void selective_scan_forward_kernel(SelectiveScanParams<T> p) {
  __shared__ T warp_sums[1][kMaxWarps];
  const Row r = row_of_block(p);
  const int64_t n = threadIdx.x;
  const bool active = n < p.dstate;
  const T* u = p.u + r.b * p.u_stride_b + r.c * p.u_stride_c;
  const T* delta = p.delta + r.b * p.delta_stride_b + r.c * p.delta_stride_c;
  const T* z = p.z != nullptr ? p.z + r.b * p.z_stride_b + r.c * p.z_stride_c : nullptr;
  const T* B = p.B + r.b * p.B_stride_b + r.g * p.B_stride_g + (active ? n : 0) * p.B_stride_n;
  const T* C = p.C + r.b * p.C_stride_b + r.g * p.C_stride_g + (active ? n : 0) * p.C_stride_n;
  const T a_n = active ? p.A[r.c * p.A_stride_c + n * p.A_stride_n] : T(0);
  const T d_skip = p.D != nullptr ? p.D[r.c] : T(0);
  const T bias = p.delta_bias != nullptr ? p.delta_bias[r.c] : T(0);
  const int64_t n_chunks = selective_scan_chunks(p.len);
  T h = active && p.initial_state != nullptr ? p.initial_state[r.index * p.dstate + n] : T(0);

  for (int64_t t = 0; t < p.len; ++t) {
    if (active && p.chunk_states != nullptr && t % kChunk == 0) {
      p.chunk_states[(r.index * n_chunks + t / kChunk) * p.dstate + n] = h;
    }
    const T dt = scan_math::time_step(delta[t * p.delta_stride_l], bias, p.delta_softplus);
    const T ut = u[t * p.u_stride_l];
    T y[1] = {T(0)};
    if (active) {
      h = scan_math::exp_of(dt * a_n) * h + dt * ut * B[t * p.B_stride_l];
      y[0] = C[t * p.C_stride_l] * h;
    }
    block_sum(y, warp_sums);
    if (threadIdx.x == 0) {
      T out = y[0] + d_skip * ut;
      if (z != nullptr) out *= scan_math::silu(z[t * p.z_stride_l]);
      p.out[r.index * p.len + t] = out;
    }
  }
  if (active) p.last_state[r.index * p.dstate + n] = h;
}

template <typename T>
__global__ void selective_scan_backward_kernel(SelectiveScanBackwardParams<T> q) {
  __shared__ T warp_sums[2][kMaxWarps];
  __shared__ T chunk_dt[kChunk];
  __shared__ T chunk_y[kChunk];  // output before the gate (with z only)
  T chunk_h[kChunk];             // this thread's state after each step of the chunk

  const SelectiveScanParams<T>& p = q.fwd;
  const Row r = row_of_block(p);
  const int64_t n = threadIdx.x;
  const bool active = n < p.dstate;
  const bool leader = threadIdx.x == 0;
  const T* u = p.u + r.b * p.u_stride_b + r.c * p.u_stride_c;
  const T* delta = p.delta + r.b * p.delta_stride_b + r.c * p.delta_stride_c;
  const T* z = p.z != nullptr ? p.z + r.b * p.z_stride_b + r.c * p.z_stride_c : nullptr;
  const int64_t n_safe = active ? n : 0;
  const T* B = p.B + r.b * p.B_stride_b + r.g * p.B_stride_g + n_safe * p.B_stride_n;
  const T* C = p.C + r.b * p.C_stride_b + r.g * p.C_stride_g + n_safe * p.C_stride_n;
  const T a_n = active ? p.A[r.c * p.A_stride_c + n * p.A_stride_n] : T(0);
  const T d_skip = p.D != nullptr ? p.D[r.c] : T(0);
  const T bias = p.delta_bias != nullptr ? p.delta_bias[r.c] : T(0);
  const T* grad_out = q.grad_out != nullptr ? q.grad_out + r.index * p.len : nullptr;
  const int64_t group_row = ((r.b * p.groups + r.g) * p.dstate + n_safe) * p.len;  // (batch, G, N, L)
  const int64_t n_chunks = selective_scan_chunks(p.len);

  T g_next = active && q.grad_last_state != nullptr ? q.grad_last_state[r.index * p.dstate + n] : T(0);
  T dA = T(0), dD = T(0), dbias = T(0);

  for (int64_t k = n_chunks - 1; k >= 0; --k) {
    const int64_t t0 = k * kChunk;
    const int steps = static_cast<int>(p.len - t0 < kChunk ? p.len - t0 : kChunk);
    const T h_start = active ? q.chunk_states[(r.index * n_chunks + k) * p.dstate + n] : T(0);
    // Recompute the chunk's states.
    T h = h_start;
    for (int i = 0; i < steps; ++i) {
      const int64_t t = t0 + i;
      const T dt = scan_math::time_step(delta[t * p.delta_stride_l], bias, p.delta_softplus);
      const T ut = u[t * p.u_stride_l];
      if (leader) chunk_dt[i] = dt;
      T y[1] = {T(0)};
      if (active) {
        h = scan_math::exp_of(dt * a_n) * h + dt * ut * B[t * p.B_stride_l];
        chunk_h[i] = h;
        y[0] = C[t * p.C_stride_l] * h;
      }
      if (z != nullptr) {
        block_sum(y, warp_sums);
        if (leader) chunk_y[i] = y[0] + d_skip * ut;
      }
    }
    __syncthreads();  // chunk_dt and chunk_y visible to every thread
    // Adjoint recurrence backwards through the chunk.
    for (int i = steps - 1; i >= 0; --i) {
      const int64_t t = t0 + i;
      const T dt = chunk_dt[i];
      const T ut = u[t * p.u_stride_l];
      const T dout = grad_out != nullptr ? grad_out[t] : T(0);
      T dy = dout;
      if (z != nullptr) {
        const T zt = z[t * p.z_stride_l];
        dy = dout * scan_math::silu(zt);
        if (leader) q.grad_z[r.index * p.len + t] = dout * chunk_y[i] * scan_math::silu_derivative(zt);
      }
      T sums[2] = {T(0), T(0)};  // sum_n g B, sum_n g (B u + A exp(dt A) h_{t-1})
      if (active) {
        const T b_t = B[t * p.B_stride_l];
        const T g = dy * C[t * p.C_stride_l] + g_next;
        const T a = scan_math::exp_of(dt * a_n);
        const T h_prev = i > 0 ? chunk_h[i - 1] : h_start;
        const T g_ah = g * a * h_prev;
        atomicAdd(q.grad_C + group_row + t, dy * chunk_h[i]);
        atomicAdd(q.grad_B + group_row + t, g * dt * ut);
        sums[0] = g * b_t;
        sums[1] = g * b_t * ut + a_n * g_ah;
        dA += dt * g_ah;
        g_next = a * g;
      }
      block_sum(sums, warp_sums);
      if (leader) {
        q.grad_u[r.index * p.len + t] = dt * sums[0] + d_skip * dy;
        T ddt = sums[1];
        if (p.delta_softplus) ddt *= scan_math::softplus_derivative(delta[t * p.delta_stride_l] + bias);
        q.grad_delta[r.index * p.len + t] = ddt;
        dbias += ddt;
        dD += dy * ut;
      }
    }
    __syncthreads();  // the next chunk overwrites chunk_dt and chunk_y
  }
  if (active) {
    q.grad_A_rows[r.index * p.dstate + n] = dA;
    if (q.grad_initial_state != nullptr) q.grad_initial_state[r.index * p.dstate + n] = g_next;
  }
  if (leader) {
    if (q.grad_D_rows != nullptr) q.grad_D_rows[r.index] = dD;
    if (q.grad_bias_rows != nullptr) q.grad_bias_rows[r.index] = dbias;
  }
}

/// Threads per block: N rounded up to whole warps.
inline unsigned threads_for(int64_t dstate) {
  const int64_t warps = dstate <= 0 ? 1 : (dstate + kWarp - 1) / kWarp;
  return static_cast<unsigned>(warps * kWarp);
}

template <typename T>
void launch_forward(const SelectiveScanParams<T>& p, void* stream) {
  const int64_t rows = p.batch * p.dim;
  if (rows == 0) return;
  selective_scan_forward_kernel<T>
      <<<static_cast<unsigned>(rows), threads_for(p.dstate), 0, static_cast<cudaStream_t>(stream)>>>(p);
}

template <typename T>
void launch_backward(const SelectiveScanBackwardParams<T>& q, void* stream) {
  const int64_t rows = q.fwd.batch * q.fwd.dim;
  if (rows == 0) return;
  selective_scan_backward_kernel<T>
      <<<static_cast<unsigned>(rows), threads_for(q.fwd.dstate), 0, static_cast<cudaStream_t>(stream)>>>(q);
}

}  // namespace

void launch_selective_scan_forward_cuda(const SelectiveScanParams<float>& p, void* stream) { launch_forward(p, stream); }
void launch_selective_scan_forward_cuda(const SelectiveScanParams<double>& p, void* stream) {
  launch_forward(p, stream);
}
void launch_selective_scan_backward_cuda(const SelectiveScanBackwardParams<float>& p, void* stream) {
  launch_backward(p, stream);
}
void launch_selective_scan_backward_cuda(const SelectiveScanBackwardParams<double>& p, void* stream) {
  launch_backward(p, stream);
}

}  // namespace strand::kernels
