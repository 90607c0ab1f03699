// GELU (tanh approximation): grid-stride, 8 elements per thread with 16-byte accesses when n is a
// multiple of 8 and both buffers are 16-byte aligned, else one element per thread.
#include "gpu/cuda/gelu.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float gelu_tanh(float x) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

__global__ void __launch_bounds__(kThreads) gelu_kernel(bf16* out, const bf16* x, std::size_t n) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    out[i] = to_bf16(gelu_tanh(to_float(x[i])));
}

__global__ void __launch_bounds__(kThreads) gelu_kernel8(bf16* out, const bf16* x, std::size_t packs) {
  for (std::size_t p = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < packs;
       p += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    float v[8];
    load8(x + p * 8, v);
#pragma unroll
    for (int e = 0; e < 8; ++e) v[e] = gelu_tanh(v[e]);
    store8(out + p * 8, v);
  }
}

}  // namespace

void gelu(bf16* out, const bf16* x, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (n % 8 == 0 && is_aligned16(out) && is_aligned16(x))
    gelu_kernel8<<<grid_for(n / 8, kThreads), kThreads, 0, stream>>>(out, x, n / 8);
  else
    gelu_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(out, x, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
