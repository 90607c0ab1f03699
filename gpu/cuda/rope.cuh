#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "gpu/backend.hpp"

namespace swarmsim::gpu::cuda {
/// Llama rotary embedding in place on `n_heads` heads of columns `cols` of x (BF16), pairs (i, i + head_dim/2), position kv_len + r % new_tokens.
void rope(__nv_bfloat16* x, Columns cols, int n_heads, const AttentionShape& s, float theta, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
