#include <algorithm>
#include <cmath>

#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/cpu/vector_math.hpp"

namespace swarmsim::gpu::cpu {

namespace {

SWARMSIM_VECTOR_CLONES void silu_mul_row(float* __restrict o, const float* __restrict g, const float* __restrict u, int width) {
#pragma omp simd
  for (int j = 0; j < width; ++j) o[j] = g[j] / (1.0f + exp_approx(-g[j])) * u[j];
}

/// softmax_row compiled for each instruction set.
SWARMSIM_VECTOR_CLONES void softmax_row_cloned(float* y, const float* x, int cols) { softmax_row(y, x, cols); }

/// The tanh approximation of GELU, 0.5 x (1 + tanh(k (x + 0.044715 x^3))), written as
/// x / (1 + e^(-2 k (x + 0.044715 x^3))): the same function (1 + tanh y = 2 / (1 + e^-2y)),
/// with no cancellation where tanh is near -1.
SWARMSIM_VECTOR_CLONES void gelu_range(float* __restrict y, const float* __restrict x, std::size_t n) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2 / pi)
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + exp_approx(-2.0f * k * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
}
constexpr std::size_t kGeluChunk = 4096;

}  // namespace

void silu_mul(float* out, const float* gate_up, int rows, int width) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float* g = gate_up + static_cast<std::size_t>(r) * 2 * width;
    silu_mul_row(out + static_cast<std::size_t>(r) * width, g, g + width, width);
  }
}

void gelu(float* out, const float* x, std::size_t n) {
#pragma omp parallel for schedule(static)
  for (std::size_t lo = 0; lo < n; lo += kGeluChunk) gelu_range(out + lo, x + lo, std::min(kGeluChunk, n - lo));
}

void add(float* out, const float* a, const float* b, std::size_t n) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void softmax_rows(float* out, const float* x, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) softmax_row_cloned(out + static_cast<std::size_t>(r) * cols, x + static_cast<std::size_t>(r) * cols, cols);
}

void embedding(float* out, const float* table, std::span<const int> ids, int dim) {
  for (std::size_t r = 0; r < ids.size(); ++r)
    std::copy(table + static_cast<std::size_t>(ids[r]) * dim, table + static_cast<std::size_t>(ids[r] + 1) * dim,
              out + r * static_cast<std::size_t>(dim));
}

}  // namespace swarmsim::gpu::cpu
