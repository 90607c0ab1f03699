#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {
/// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w, rows x dim BF16, FP32 math; out may alias x.
void rmsnorm(__nv_bfloat16* out, const __nv_bfloat16* x, const __nv_bfloat16* w, int rows, int dim, float eps, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
