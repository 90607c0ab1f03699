#pragma once
// CUDA_CHECK / CUBLAS_CHECK: evaluate a CUDA runtime or cuBLAS call and throw std::runtime_error
// naming the file, line, expression and the library's error string when it fails. Host code only;
// usable from .cu and .cpp files alike.
#include <string>
#include <stdexcept>

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                           cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")");
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                           cublasGetStatusString(status) + " (" + cublasGetStatusName(status) + ")");
}

}  // namespace swarmsim::gpu::cuda

#define CUDA_CHECK(expr)                                                                   \
  do {                                                                                     \
    const cudaError_t swarmsim_cuda_err_ = (expr);                                         \
    if (swarmsim_cuda_err_ != cudaSuccess)                                                 \
      ::swarmsim::gpu::cuda::throw_cuda_error(swarmsim_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                     \
  do {                                                                                         \
    const cublasStatus_t swarmsim_cublas_status_ = (expr);                                     \
    if (swarmsim_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                      \
      ::swarmsim::gpu::cuda::throw_cublas_error(swarmsim_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)

/// After a kernel launch: a bad configuration (grid, block, shared memory) is reported here;
/// faults inside the kernel surface at the next synchronizing call.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
