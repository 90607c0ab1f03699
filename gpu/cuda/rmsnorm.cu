// RMSNorm: one thread block per row. Pass 1 sums x^2 in FP32 (strided, coalesced loads) and
// reduces it over the block; pass 2 rereads the row (from L1/L2) and writes x * inv * w.
#include "gpu/cuda/rmsnorm.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) rmsnorm_kernel(bf16* out, const bf16* x, const bf16* w, int dim, float eps) {
  const std::size_t row = blockIdx.x;
  const bf16* xr = x + row * dim;
  bf16* yr = out + row * dim;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = to_float(xr[i]);
    ss += v * v;
  }
  ss = block_sum(ss);  // every thread has finished reading before anyone writes (out may alias x)
  const float inv = 1.0f / sqrtf(ss / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = to_bf16(to_float(xr[i]) * inv * to_float(w[i]));
}

}  // namespace

void rmsnorm(bf16* out, const bf16* x, const bf16* w, int rows, int dim, float eps, cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return;
  rmsnorm_kernel<<<rows, kThreads, 0, stream>>>(out, x, w, dim, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
