// Embedding gather: one thread block per token; its threads copy the table row with consecutive
// (coalesced) accesses, 8 BF16 at a time when dim is a multiple of 8 and the buffers are aligned.
#include "gpu/cuda/embedding.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) embedding_kernel(bf16* out, const bf16* table, const int* ids, int dim) {
  const std::size_t r = blockIdx.x;
  const bf16* src = table + static_cast<std::size_t>(ids[r]) * dim;
  bf16* dst = out + r * dim;
  for (int j = threadIdx.x; j < dim; j += blockDim.x) dst[j] = src[j];
}

// dim % 8 == 0: copies 16-byte packs.
__global__ void __launch_bounds__(kThreads) embedding_kernel8(bf16* out, const bf16* table, const int* ids, int dim) {
  const std::size_t r = blockIdx.x;
  const uint4* src = reinterpret_cast<const uint4*>(table + static_cast<std::size_t>(ids[r]) * dim);
  uint4* dst = reinterpret_cast<uint4*>(out + r * dim);
  for (int j = threadIdx.x; j < dim / 8; j += blockDim.x) dst[j] = src[j];
}

}  // namespace

void embedding(bf16* out, const bf16* table, const int* ids, int n_ids, int dim, cudaStream_t stream) {
  if (n_ids <= 0 || dim <= 0) return;
  if (dim % 8 == 0 && is_aligned16(out) && is_aligned16(table))
    embedding_kernel8<<<n_ids, kThreads, 0, stream>>>(out, table, ids, dim);
  else
    embedding_kernel<<<n_ids, kThreads, 0, stream>>>(out, table, ids, dim);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
