#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {
/// Row-wise softmax of x [rows x cols] into out (may alias x), BF16 storage, FP32 math.
void softmax_rows(__nv_bfloat16* out, const __nv_bfloat16* x, int rows, int cols, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
