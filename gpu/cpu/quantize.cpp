#include <algorithm>
#include <cmath>

#include "gpu/cpu/cpu_ops.hpp"

namespace swarmsim::gpu::cpu {

// Dynamic blockwise 8-bit quantization of hidden states (seed 002, section 4): each block of
// `block` values is scaled by its own absmax, so an outlier only costs precision in its block.
void quantize_blockwise(std::int8_t* q, float* scales, const float* x, std::size_t n, int block) {
  const std::size_t n_blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static)
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const std::size_t lo = b * block, hi = std::min(n, lo + block);
    float absmax = 0.0f;
    for (std::size_t i = lo; i < hi; ++i) absmax = std::max(absmax, std::fabs(x[i]));
    const float scale = absmax / 127.0f;
    scales[b] = scale;
    const float inv = scale > 0 ? 1.0f / scale : 0.0f;
    for (std::size_t i = lo; i < hi; ++i)
      q[i] = static_cast<std::int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f));
  }
}

void dequantize_blockwise(float* x, const std::int8_t* q, const float* scales, std::size_t n, int block) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) x[i] = q[i] * scales[i / block];
}

}  // namespace swarmsim::gpu::cpu
