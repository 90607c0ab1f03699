#include <cmath>

#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/cpu/vector_math.hpp"

namespace swarmsim::gpu::cpu {

namespace {
SWARMSIM_VECTOR_CLONES void rmsnorm_row(float* __restrict y, const float* __restrict x, const float* __restrict w, int dim, float eps) {
  float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
  for (int i = 0; i < dim; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / dim + eps);
#pragma omp simd
  for (int i = 0; i < dim; ++i) y[i] = x[i] * inv * w[i];
}
}  // namespace

void rmsnorm(float* out, const float* x, const float* w, int rows, int dim, float eps) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r)
    rmsnorm_row(out + static_cast<std::size_t>(r) * dim, x + static_cast<std::size_t>(r) * dim, w, dim, eps);
}

}  // namespace swarmsim::gpu::cpu
