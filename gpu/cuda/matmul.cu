// The linear layer through cuBLAS (cublasGemmEx, BF16 in and out, FP32 compute on tensor cores).
//
// cuBLAS is column-major. A row-major matrix M [a x b] is, byte for byte, the column-major matrix
// M^T [b x a] with leading dimension b. So:
//   W   row-major [n_out x n_in]  = column-major W^T [n_in x n_out], ld n_in
//   x   row-major [rows x n_in]   = column-major x^T [n_in x rows],  ld n_in
//   out row-major [rows x n_out]  = column-major out^T [n_out x rows], ld n_out
// and out = x W^T  <=>  out^T = W x^T. In cuBLAS terms C = op(A) op(B) with
//   C = out^T (m = n_out, n = rows, ldc = n_out),
//   A = the buffer of W seen as W^T [k x m] = [n_in x n_out]; op(A) = A^T = W: transa = T, lda = n_in,
//   B = the buffer of x seen as x^T [k x n] = [n_in x rows];  op(B) = B:        transb = N, ldb = n_in,
//   k = n_in.
#include "gpu/cuda/matmul.cuh"

#include "gpu/cuda/cuda_check.cuh"

namespace swarmsim::gpu::cuda {

void matmul(cublasHandle_t handle, __nv_bfloat16* out, const __nv_bfloat16* x, const __nv_bfloat16* w, int rows, int n_in,
            int n_out) {
  if (rows <= 0 || n_out <= 0) return;
  if (n_in <= 0) {  // an empty sum; cuBLAS would reject lda = 0
    cudaStream_t stream = nullptr;
    CUBLAS_CHECK(cublasGetStream(handle, &stream));
    CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(__nv_bfloat16) * rows * n_out, stream));
    return;
  }
  const float alpha = 1.0f, beta = 0.0f;  // scale type F32 goes with CUBLAS_COMPUTE_32F
  CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n_out, rows, n_in, &alpha, w, CUDA_R_16BF, n_in, x,
                            CUDA_R_16BF, n_in, &beta, out, CUDA_R_16BF, n_out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace swarmsim::gpu::cuda
