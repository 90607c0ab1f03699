#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {
/// out[r, j] = silu(gu[r, j]) * gu[r, width + j] for a fused gate|up matrix [rows x 2 width], BF16.
void silu_mul(__nv_bfloat16* out, const __nv_bfloat16* gate_up, int rows, int width, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
