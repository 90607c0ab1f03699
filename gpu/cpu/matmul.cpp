#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <cblas.h>
#include <omp.h>

#include "gpu/cpu/cpu_ops.hpp"

// OpenBLAS internals present in its DYNAMIC_ARCH builds (Debian's), declared weak for the others.
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace swarmsim::gpu::cpu {

namespace {

/// The kernels OpenBLAS is to use instead of the ones it chose, or nullptr to keep them.
/// Debian 12's OpenBLAS (0.3.21, built for every x86-64 core) picks its kernels by CPU model, and a
/// model it does not know (a 5th-generation Xeon, model 207, is one) gets the generic SSE3
/// "Prescott" kernels: 51 GFLOP/s on the 512-row GEMM of BM_GemmOpenBlas where its AVX-512
/// "SkylakeX" kernels reach 223 on the same 2-vCPU machine. A core type the user set
/// (OPENBLAS_CORETYPE) is kept.
const char* better_blas_core(const char* chosen) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || chosen == nullptr || std::strcmp(chosen, "Prescott") != 0) return nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

}  // namespace

void use_single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Before the first BLAS call: OpenBLAS builds with one kernel set per core (DYNAMIC_ARCH) let
    // their choice be redone from OPENBLAS_CORETYPE. Weak symbols: other builds have none.
    if (gotoblas_dynamic_init != nullptr && gotoblas_dynamic_quit != nullptr)
      if (const char* core = better_blas_core(openblas_get_corename())) {
        ::setenv("OPENBLAS_CORETYPE", core, 0);
        gotoblas_dynamic_quit();
        gotoblas_dynamic_init();
      }
    // One thread pool for everything: OpenBLAS runs single-threaded inside OpenMP threads that
    // split the work. OpenBLAS's own pthreads keep spinning after a GEMM and, with OpenMP's threads
    // on the same cores, made the next small kernels wait a scheduler tick (~8 ms) each.
    openblas_set_num_threads(1);
  });
}

std::string blas_kernels() {
  use_single_threaded_blas();
  return openblas_get_corename();
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
