// KV append: one thread per copied element, consecutive threads on consecutive columns of one
// row, so both the strided source row and the cache row are read/written coalesced.
#include "gpu/cuda/kv_append.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) kv_append_kernel(bf16* cache, const bf16* x, std::size_t col_offset,
                                                             std::size_t stride, int kv_dim, int new_tokens, int kv_len,
                                                             int max_len, std::size_t elements) {
  for (std::size_t idx = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < elements;
       idx += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const int d = static_cast<int>(idx % kv_dim);
    const int r = static_cast<int>(idx / kv_dim);
    const int b = r / new_tokens, pos = kv_len + r % new_tokens;
    cache[(static_cast<std::size_t>(b) * max_len + pos) * kv_dim + d] = x[static_cast<std::size_t>(r) * stride + col_offset + d];
  }
}

}  // namespace

void kv_append(bf16* cache, const bf16* x, Columns cols, const AttentionShape& s, cudaStream_t stream) {
  const std::size_t elements = static_cast<std::size_t>(s.rows()) * s.kv_dim();
  if (elements == 0) return;
  kv_append_kernel<<<grid_for(elements, kThreads), kThreads, 0, stream>>>(cache, x, cols.offset, cols.stride, s.kv_dim(),
                                                                          s.new_tokens, s.kv_len, s.max_len, elements);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
