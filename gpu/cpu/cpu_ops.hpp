#pragma once
// The CPU reference kernels: plain loops (OpenMP-parallel), FP32 throughout. They are the
// production CPU path and the twins that every CUDA kernel is compared with.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "gpu/backend.hpp"

namespace swarmsim::gpu::cpu {

void rmsnorm(float* out, const float* x, const float* w, int rows, int dim, float eps);
/// out = x W^T through OpenBLAS sgemm.
void matmul(float* out, const float* x, const float* w, int rows, int n_in, int n_out);
/// Makes OpenBLAS run on the calling thread (the kernels that call it split their work over OpenMP
/// threads themselves), with its AVX-512 or AVX2 kernels where it fell back to generic ones on a
/// CPU it does not know. Called by every kernel that uses OpenBLAS, before it does.
void use_single_threaded_blas();
/// The kernel set OpenBLAS runs with ("SkylakeX", "Haswell", ...), after use_single_threaded_blas.
std::string blas_kernels();
/// The same product by three plain loops with a double accumulator: the twin tests compare with.
void matmul_naive(float* out, const float* x, const float* w, int rows, int n_in, int n_out);
void rope(float* x, Columns cols, int n_heads, const AttentionShape& s, float theta);
void kv_append(float* cache, const float* x, Columns cols, const AttentionShape& s);
void attention(float* out, const float* q, Columns q_cols, const float* k_cache, const float* v_cache,
               const AttentionShape& s);
void silu_mul(float* out, const float* gate_up, int rows, int width);
void gelu(float* out, const float* x, std::size_t n);
void add(float* out, const float* a, const float* b, std::size_t n);
void softmax_rows(float* out, const float* x, int rows, int cols);
void embedding(float* out, const float* table, std::span<const int> ids, int dim);
void quantize_blockwise(std::int8_t* q, float* scales, const float* x, std::size_t n, int block);
void dequantize_blockwise(float* x, const std::int8_t* q, const float* scales, std::size_t n, int block);

}  // namespace swarmsim::gpu::cpu
