// SwiGLU activation: grid-stride over the outputs. When width is a multiple of 8 and the buffers
// are 16-byte aligned each thread handles 8 outputs with 16-byte loads and stores; otherwise one
// output per thread.
#include "gpu/cuda/silu_mul.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float silu_times(float g, float u) { return g / (1.0f + expf(-g)) * u; }

__global__ void __launch_bounds__(kThreads) silu_mul_kernel(bf16* out, const bf16* gu, int width, std::size_t n) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t r = i / width, j = i % width;
    const bf16* g = gu + r * 2 * width;
    out[i] = to_bf16(silu_times(to_float(g[j]), to_float(g[width + j])));
  }
}

// packs = rows * width / 8; width % 8 == 0.
__global__ void __launch_bounds__(kThreads) silu_mul_kernel8(bf16* out, const bf16* gu, int width, std::size_t packs) {
  const int packs_per_row = width / 8;
  for (std::size_t p = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < packs;
       p += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t r = p / packs_per_row, j = (p % packs_per_row) * 8;
    const bf16* g = gu + r * 2 * width + j;
    float gv[8], uv[8], o[8];
    load8(g, gv);
    load8(g + width, uv);
#pragma unroll
    for (int e = 0; e < 8; ++e) o[e] = silu_times(gv[e], uv[e]);
    store8(out + r * width + j, o);
  }
}

}  // namespace

void silu_mul(bf16* out, const bf16* gate_up, int rows, int width, cudaStream_t stream) {
  const std::size_t n = static_cast<std::size_t>(rows) * width;
  if (n == 0) return;
  if (width % 8 == 0 && is_aligned16(out) && is_aligned16(gate_up))
    silu_mul_kernel8<<<grid_for(n / 8, kThreads), kThreads, 0, stream>>>(out, gate_up, width, n / 8);
  else
    silu_mul_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(out, gate_up, width, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
