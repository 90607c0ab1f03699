#include <algorithm>
#include <mutex>

#include <cblas.h>
#include <omp.h>

#include "gpu/cpu/cpu_ops.hpp"

namespace swarmsim::gpu::cpu {

void use_single_threaded_blas() {
  // One thread pool for everything: OpenBLAS runs single-threaded inside OpenMP threads that split
  // the work. OpenBLAS's own pthreads keep spinning after a GEMM and, with OpenMP's threads on the
  // same cores, made the next small kernels wait a scheduler tick (~8 ms) each.
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

void matmul(float* out, const float* x, const float* w, int rows, int n_in, int n_out) {
  use_single_threaded_blas();
  // out[rows x n_out] = x[rows x n_in] * w[n_out x n_in]^T, all row-major; each thread a column slice.
#pragma omp parallel
  {
    const int threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int chunk = (n_out + threads - 1) / threads;
    const int lo = std::min(n_out, t * chunk), hi = std::min(n_out, lo + chunk);
    if (hi > lo && rows == 1)  // a decode step's matrix-vector product: sgemm's packing only costs here
      cblas_sgemv(CblasRowMajor, CblasNoTrans, hi - lo, n_in, 1.0f, w + static_cast<std::size_t>(lo) * n_in, n_in, x, 1, 0.0f,
                  out + lo, 1);
    else if (hi > lo)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, hi - lo, n_in, 1.0f, x, n_in,
                  w + static_cast<std::size_t>(lo) * n_in, n_in, 0.0f, out + lo, n_out);
  }
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
