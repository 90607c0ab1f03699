#include <algorithm>
#include <cmath>
#include <vector>

#include <cblas.h>

#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/cpu/vector_math.hpp"

namespace swarmsim::gpu::cpu {

void kv_append(float* cache, const float* x, Columns cols, const AttentionShape& s) {
  const int kv_dim = s.kv_dim();
  for (int r = 0; r < s.rows(); ++r) {
    const int b = r / s.new_tokens, pos = s.kv_len + r % s.new_tokens;
    const float* src = x + static_cast<std::size_t>(r) * cols.stride + cols.offset;
    float* dst = cache + (static_cast<std::size_t>(b) * s.max_len + pos) * kv_dim;
    std::copy(src, src + kv_dim, dst);
  }
}

namespace {

/// One query row of the `group` query heads that share a key/value head (grouped-query
/// attention), against `n_keys` cached keys and values (rows `kv_dim` apart), as two matrix
/// products (OpenBLAS) around a softmax: each key and value row is read once for the whole group.
/// Both products put the keys on the long side (keys x heads, dims x heads), which OpenBLAS runs
/// twice as fast as heads x keys at a 4,096-token cache. Query head g is at q + g hd, its output
/// at o + g hd. `scratch` holds 2 x group x n_keys + group x hd values.
SWARMSIM_VECTOR_CLONES void attend_group(float* __restrict o, const float* __restrict q, const float* __restrict kb,
                                         const float* __restrict vb, int n_keys, int kv_dim, int hd, int group, float scale,
                                         float* __restrict scratch) {
  // Scores, keys by heads: [n_keys x hd] x [group x hd]^T; softmax per head on a transposed copy.
  float* st = scratch + static_cast<std::size_t>(group) * n_keys;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_keys, group, hd, scale, kb, kv_dim, q, hd, 0.0f, st, group);
  for (int j = 0; j < n_keys; ++j)
    for (int g = 0; g < group; ++g) scratch[static_cast<std::size_t>(g) * n_keys + j] = st[static_cast<std::size_t>(j) * group + g];
  for (int g = 0; g < group; ++g) softmax_row(scratch + static_cast<std::size_t>(g) * n_keys, scratch + static_cast<std::size_t>(g) * n_keys, n_keys);
  for (int j = 0; j < n_keys; ++j)
    for (int g = 0; g < group; ++g) st[static_cast<std::size_t>(j) * group + g] = scratch[static_cast<std::size_t>(g) * n_keys + j];
  // Outputs transposed, dims by heads: [n_keys x hd]^T x [n_keys x group].
  float* ot = st + static_cast<std::size_t>(group) * n_keys;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hd, group, n_keys, 1.0f, vb, kv_dim, st, group, 0.0f, ot, group);
  for (int d = 0; d < hd; ++d)
    for (int g = 0; g < group; ++g) o[static_cast<std::size_t>(g) * hd + d] = ot[static_cast<std::size_t>(d) * group + g];
}

}  // namespace

void attention(float* out, const float* q, Columns q_cols, const float* k_cache, const float* v_cache,
               const AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads;
  const int kv_dim = s.kv_dim(), q_dim = s.q_dim(), hd = s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int rows = s.rows();
  use_single_threaded_blas();
#pragma omp parallel
  {
    std::vector<float> scratch(static_cast<std::size_t>(group) * (2 * (s.kv_len + s.new_tokens) + hd));
#pragma omp for collapse(2) schedule(static)
    for (int r = 0; r < rows; ++r)
      for (int kvh = 0; kvh < s.n_kv_heads; ++kvh) {
        const int b = r / s.new_tokens;
        const int n_keys = s.kv_len + r % s.new_tokens + 1;  // causal: up to this token's own position
        const std::size_t cache = static_cast<std::size_t>(b) * s.max_len * kv_dim + static_cast<std::size_t>(kvh) * hd;
        const std::size_t head = static_cast<std::size_t>(kvh) * group * hd;  // the group's first query head
        attend_group(out + static_cast<std::size_t>(r) * q_dim + head, q + static_cast<std::size_t>(r) * q_cols.stride + q_cols.offset + head,
                     k_cache + cache, v_cache + cache, n_keys, kv_dim, hd, group, scale, scratch.data());
      }
  }
}

}  // namespace swarmsim::gpu::cpu
