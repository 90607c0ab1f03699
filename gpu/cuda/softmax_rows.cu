// Row softmax: one thread block per row, three strided passes over the row (max, sum of
// exp(x - max), write exp(x - max) / sum), all in FP32 with block reductions between them.
// A whole row goes through one SM: fine for attention-sized rows; a single vocabulary-sized row
// (decode logits) uses one SM only.
#include "gpu/cuda/softmax_rows.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 512;

__global__ void __launch_bounds__(kThreads) softmax_rows_kernel(bf16* out, const bf16* x, int cols) {
  const std::size_t row = blockIdx.x;
  const bf16* xr = x + row * cols;
  bf16* yr = out + row * cols;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) mx = fmaxf(mx, to_float(xr[j]));
  mx = block_max(mx);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(to_float(xr[j]) - mx);
  sum = block_sum(sum);  // all reads of pass 2 done before any write (out may alias x)
  const float inv = 1.0f / sum;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = to_bf16(expf(to_float(xr[j]) - mx) * inv);
}

}  // namespace

void softmax_rows(bf16* out, const bf16* x, int rows, int cols, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  softmax_rows_kernel<<<rows, kThreads, 0, stream>>>(out, x, cols);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
