#include <cmath>
#include <vector>

#include "gpu/cpu/cpu_ops.hpp"

namespace swarmsim::gpu::cpu {

void rope(float* x, Columns cols, int n_heads, const AttentionShape& s, float theta) {
  const int half = s.head_dim / 2;
  const int rows = s.rows();
  std::vector<float> freq(static_cast<std::size_t>(half));  // Llama: theta^(-2i/d) for the pair (i, i + d/2)
  for (int i = 0; i < half; ++i) freq[static_cast<std::size_t>(i)] = std::pow(theta, -2.0f * i / s.head_dim);
#pragma omp parallel
  {
    std::vector<float> cos_a(static_cast<std::size_t>(half)), sin_a(static_cast<std::size_t>(half));
#pragma omp for schedule(static)
    for (int r = 0; r < rows; ++r) {
      const int pos = s.kv_len + r % s.new_tokens;
      for (int i = 0; i < half; ++i) {  // one angle per pair, the same for every head of the row
        const float a = pos * freq[static_cast<std::size_t>(i)];
        cos_a[static_cast<std::size_t>(i)] = std::cos(a);
        sin_a[static_cast<std::size_t>(i)] = std::sin(a);
      }
      float* row = x + static_cast<std::size_t>(r) * cols.stride + cols.offset;
      for (int h = 0; h < n_heads; ++h) {
        float* v = row + static_cast<std::size_t>(h) * s.head_dim;
        for (int i = 0; i < half; ++i) {
          const float c = cos_a[static_cast<std::size_t>(i)], sn = sin_a[static_cast<std::size_t>(i)];
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * c - x1 * sn;
          v[i + half] = x0 * sn + x1 * c;
        }
      }
    }
  }
}

}  // namespace swarmsim::gpu::cpu
