#include <algorithm>
#include <cmath>

#include "gpu/cpu/cpu_ops.hpp"

namespace swarmsim::gpu::cpu {

void silu_mul(float* out, const float* gate_up, int rows, int width) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float* g = gate_up + static_cast<std::size_t>(r) * 2 * width;
    const float* u = g + width;
    float* o = out + static_cast<std::size_t>(r) * width;
    for (int j = 0; j < width; ++j) o[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
  }
}

void gelu(float* out, const float* x, std::size_t n) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2 / pi)
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + std::tanh(k * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
}

void add(float* out, const float* a, const float* b, std::size_t n) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void softmax_rows(float* out, const float* x, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<std::size_t>(r) * cols;
    float* yr = out + static_cast<std::size_t>(r) * cols;
    const float mx = *std::max_element(xr, xr + cols);
    double sum = 0.0;
    for (int j = 0; j < cols; ++j) sum += (yr[j] = std::exp(xr[j] - mx));
    const float inv = static_cast<float>(1.0 / sum);
    for (int j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

void embedding(float* out, const float* table, std::span<const int> ids, int dim) {
  for (std::size_t r = 0; r < ids.size(); ++r)
    std::copy(table + static_cast<std::size_t>(ids[r]) * dim, table + static_cast<std::size_t>(ids[r] + 1) * dim,
              out + r * static_cast<std::size_t>(dim));
}

}  // namespace swarmsim::gpu::cpu
