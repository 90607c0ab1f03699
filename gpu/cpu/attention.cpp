#include <algorithm>
#include <cmath>
#include <vector>

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

/// One query row of one head against `n_keys` cached keys and values (rows `kv_dim` apart):
/// scores, softmax, weighted sum of values into `o` (head_dim values).
SWARMSIM_VECTOR_CLONES void attend(float* __restrict o, const float* __restrict qv, const float* __restrict kb,
                                   const float* __restrict vb, int n_keys, int kv_dim, int hd, float scale,
                                   float* __restrict scores) {
  float mx = -INFINITY;
  for (int j = 0; j < n_keys; ++j) {
    const float* kj = kb + static_cast<std::size_t>(j) * kv_dim;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int d = 0; d < hd; ++d) dot += qv[d] * kj[d];
    scores[j] = dot * scale;
    mx = scores[j] > mx ? scores[j] : mx;
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < n_keys; ++j) {
    scores[j] = exp_approx(scores[j] - mx);
    sum += scores[j];
  }
  for (int d = 0; d < hd; ++d) o[d] = 0.0f;
  const float inv = 1.0f / sum;
  for (int j = 0; j < n_keys; ++j) {
    const float p = scores[j] * inv;
    const float* vj = vb + static_cast<std::size_t>(j) * kv_dim;
#pragma omp simd
    for (int d = 0; d < hd; ++d) o[d] += p * vj[d];
  }
}

}  // namespace

void attention(float* out, const float* q, Columns q_cols, const float* k_cache, const float* v_cache,
               const AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads;
  const int kv_dim = s.kv_dim(), q_dim = s.q_dim(), hd = s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int rows = s.rows();
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<std::size_t>(s.kv_len + s.new_tokens));
#pragma omp for collapse(2) schedule(static)
    for (int r = 0; r < rows; ++r)
      for (int h = 0; h < s.n_heads; ++h) {
        const int b = r / s.new_tokens;
        const int n_keys = s.kv_len + r % s.new_tokens + 1;  // causal: up to this token's own position
        const int kvh = h / group;
        const std::size_t cache = static_cast<std::size_t>(b) * s.max_len * kv_dim + static_cast<std::size_t>(kvh) * hd;
        attend(out + static_cast<std::size_t>(r) * q_dim + static_cast<std::size_t>(h) * hd,
               q + static_cast<std::size_t>(r) * q_cols.stride + q_cols.offset + static_cast<std::size_t>(h) * hd, k_cache + cache,
               v_cache + cache, n_keys, kv_dim, hd, scale, scores.data());
      }
  }
}

}  // namespace swarmsim::gpu::cpu
