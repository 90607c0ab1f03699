#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {
/// Per block of `block` elements of x (BF16): scales[b] = absmax / 127 (F32), q = round-half-even(x / scale) in [-127, 127] (Int8).
void quantize_blockwise(std::int8_t* q, float* scales, const __nv_bfloat16* x, std::size_t n, int block, cudaStream_t stream);
/// x = q * scale of its block, written as BF16.
void dequantize_blockwise(__nv_bfloat16* x, const std::int8_t* q, const float* scales, std::size_t n, int block, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
