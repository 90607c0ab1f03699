#pragma once
#include <cstddef>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "gpu/backend.hpp"

namespace swarmsim::gpu::cuda {
/// Largest head_dim the attention kernel supports.
inline constexpr int kAttentionMaxHeadDim = 256;
/// FP32 elements of scratch that attention() needs for shape `s` on a device with `n_sms` multiprocessors.
std::size_t attention_workspace_floats(const AttentionShape& s, int n_sms);
/// Causal GQA attention of queries (columns q_cols of q) over k/v caches [batch x max_len x kv_dim] into out [rows x q_dim]; all BF16.
void attention(__nv_bfloat16* out, const __nv_bfloat16* q, Columns q_cols, const __nv_bfloat16* k_cache, const __nv_bfloat16* v_cache, const AttentionShape& s, float* workspace, int n_sms, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
