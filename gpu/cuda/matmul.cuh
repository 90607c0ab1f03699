#pragma once
#include <cublas_v2.h>
#include <cuda_bf16.h>

namespace swarmsim::gpu::cuda {
/// out[rows x n_out] = x[rows x n_in] * W^T, W row-major [n_out x n_in], all BF16, FP32 accumulation, on the handle's stream.
void matmul(cublasHandle_t handle, __nv_bfloat16* out, const __nv_bfloat16* x, const __nv_bfloat16* w, int rows, int n_in, int n_out);
}  // namespace swarmsim::gpu::cuda
