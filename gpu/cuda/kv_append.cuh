#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "gpu/backend.hpp"

namespace swarmsim::gpu::cuda {
/// Copies columns `cols` (kv_dim wide) of the step's rows of x into cache [batch x max_len x kv_dim] at positions kv_len + r % new_tokens.
void kv_append(__nv_bfloat16* cache, const __nv_bfloat16* x, Columns cols, const AttentionShape& s, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
