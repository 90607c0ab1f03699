#pragma once
#include <cstddef>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {
/// out = gelu(x) with the tanh approximation, n BF16 elements (out may alias x).
void gelu(__nv_bfloat16* out, const __nv_bfloat16* x, std::size_t n, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
