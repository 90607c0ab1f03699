// Residual add: grid-stride, 8 elements per thread with 16-byte accesses when n is a multiple of 8
// and all buffers are 16-byte aligned, else one per thread. No __restrict__: out may alias a or b
// (each element is read and written by the same thread).
#include "gpu/cuda/add.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) add_kernel(bf16* out, const bf16* a, const bf16* b, std::size_t n) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    out[i] = to_bf16(to_float(a[i]) + to_float(b[i]));
}

__global__ void __launch_bounds__(kThreads) add_kernel8(bf16* out, const bf16* a, const bf16* b, std::size_t packs) {
  for (std::size_t p = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < packs;
       p += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    float va[8], vb[8];
    load8(a + p * 8, va);
    load8(b + p * 8, vb);
#pragma unroll
    for (int e = 0; e < 8; ++e) va[e] += vb[e];
    store8(out + p * 8, va);
  }
}

}  // namespace

void add(bf16* out, const bf16* a, const bf16* b, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (n % 8 == 0 && is_aligned16(out) && is_aligned16(a) && is_aligned16(b))
    add_kernel8<<<grid_for(n / 8, kThreads), kThreads, 0, stream>>>(out, a, b, n / 8);
  else
    add_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(out, a, b, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
