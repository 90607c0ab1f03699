#include <cblas.h>

#include "gpu/cpu/cpu_ops.hpp"

namespace swarmsim::gpu::cpu {

void matmul(float* out, const float* x, const float* w, int rows, int n_in, int n_out) {
  // out[rows x n_out] = x[rows x n_in] * w[n_out x n_in]^T, all row-major.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_out, n_in, 1.0f, x, n_in, w, n_in, 0.0f, out, n_out);
}

void matmul_naive(float* out, const float* x, const float* w, int rows, int n_in, int n_out) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < n_out; ++o) {
      double acc = 0.0;
      const float* xr = x + static_cast<std::size_t>(r) * n_in;
      const float* wo = w + static_cast<std::size_t>(o) * n_in;
      for (int i = 0; i < n_in; ++i) acc += static_cast<double>(xr[i]) * wo[i];
      out[static_cast<std::size_t>(r) * n_out + o] = static_cast<float>(acc);
    }
}

}  // namespace swarmsim::gpu::cpu
