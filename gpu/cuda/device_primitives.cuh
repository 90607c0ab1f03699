#pragma once
// Device-side building blocks shared by the kernels of gpu/cuda/: BF16 <-> FP32 loads and stores
// (scalar and 8-wide), warp and block reductions in FP32, and launch-size arithmetic.
// Included by .cu files only.
#include <cstddef>
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {

using bf16 = __nv_bfloat16;

constexpr unsigned kFullWarp = 0xffffffffu;

__device__ __forceinline__ float to_float(bf16 v) { return __bfloat162float(v); }
/// Round to nearest even, as float_to_bf16 on the host.
__device__ __forceinline__ bf16 to_bf16(float v) { return __float2bfloat16_rn(v); }

/// Eight BF16 values as one 16-byte load or store: the fast path of the memory-bound kernels.
/// `p` must be 16-byte aligned (see is_aligned16).
__device__ __forceinline__ void load8(const bf16* p, float (&f)[8]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 two = __bfloat1622float2(pairs[i]);
    f[2 * i] = two.x;
    f[2 * i + 1] = two.y;
  }
}
__device__ __forceinline__ void store8(bf16* p, const float (&f)[8]) {
  uint4 raw;
  __nv_bfloat162* pairs = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) pairs[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
  *reinterpret_cast<uint4*>(p) = raw;
}

/// Sum / max over the 32 lanes of a warp; every lane gets the result.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullWarp, v, off);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullWarp, v, off));
  return v;
}

/// Sum / max over the whole thread block; every thread gets the result. blockDim.x must be a
/// multiple of 32 (at most 1024) and every thread of the block must call it. The leading barrier
/// lets a kernel call it several times with the same shared slots.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  return warp_sum(lane < n_warps ? partial[lane] : 0.0f);
}
__device__ __forceinline__ float block_max(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  return warp_max(lane < n_warps ? partial[lane] : -INFINITY);
}

/// Blocks for `items` work items at `threads` per block, capped: kernels loop grid-stride beyond.
inline unsigned grid_for(std::size_t items, int threads) {
  const std::size_t blocks = (items + threads - 1) / threads;
  constexpr std::size_t kMaxBlocks = std::size_t{1} << 20;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

inline bool is_aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace swarmsim::gpu::cuda
