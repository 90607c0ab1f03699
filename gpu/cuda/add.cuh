#pragma once
#include <cstddef>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {
/// out = a + b, n BF16 elements, summed in FP32 (out may alias a or b).
void add(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, std::size_t n, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
