#include <algorithm>
#include <cmath>

#include <omp.h>

#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/cpu/vector_math.hpp"

namespace swarmsim::gpu::cpu {

namespace {

/// Blocks [b_lo, b_hi) of quantize_blockwise.
SWARMSIM_VECTOR_CLONES void quantize_blocks(std::int8_t* __restrict q, float* __restrict scales, const float* __restrict x,
                                            std::size_t n, int block, std::size_t b_lo, std::size_t b_hi) {
  for (std::size_t b = b_lo; b < b_hi; ++b) {
    const std::size_t lo = b * block, hi = std::min(n, lo + block);
    float absmax = 0.0f;
#pragma omp simd reduction(max : absmax)
    for (std::size_t i = lo; i < hi; ++i) absmax = std::fabs(x[i]) > absmax ? std::fabs(x[i]) : absmax;
    const float scale = absmax / 127.0f;
    scales[b] = scale;
    const float inv = scale > 0 ? 1.0f / scale : 0.0f;
#pragma omp simd
    for (std::size_t i = lo; i < hi; ++i) {
      const float v = round_to_nearest(x[i] * inv);  // |x inv| <= 127: nearbyint's result
      q[i] = static_cast<std::int8_t>(v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v);
    }
  }
}

SWARMSIM_VECTOR_CLONES void dequantize_blocks(float* __restrict x, const std::int8_t* __restrict q, const float* __restrict scales,
                                              std::size_t n, int block, std::size_t b_lo, std::size_t b_hi) {
  for (std::size_t b = b_lo; b < b_hi; ++b) {
    const std::size_t lo = b * block, hi = std::min(n, lo + block);
    const float scale = scales[b];
#pragma omp simd
    for (std::size_t i = lo; i < hi; ++i) x[i] = q[i] * scale;
  }
}

/// Runs `blocks(lo, hi)` on each thread's share of `n_blocks` blocks.
template <class Blocks>
void split_blocks(std::size_t n_blocks, Blocks blocks) {
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads()), t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t chunk = (n_blocks + threads - 1) / threads, lo = std::min(n_blocks, t * chunk);
    blocks(lo, std::min(n_blocks, lo + chunk));
  }
}

}  // namespace

// Dynamic blockwise 8-bit quantization of hidden states (seed 002, section 4): each block of
// `block` values is scaled by its own absmax, so an outlier only costs precision in its block.
void quantize_blockwise(std::int8_t* q, float* scales, const float* x, std::size_t n, int block) {
  split_blocks((n + block - 1) / block, [&](std::size_t lo, std::size_t hi) { quantize_blocks(q, scales, x, n, block, lo, hi); });
}

void dequantize_blockwise(float* x, const std::int8_t* q, const float* scales, std::size_t n, int block) {
  split_blocks((n + block - 1) / block, [&](std::size_t lo, std::size_t hi) { dequantize_blocks(x, q, scales, n, block, lo, hi); });
}

}  // namespace swarmsim::gpu::cpu
