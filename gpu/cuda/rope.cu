// Rotary embedding: one thread per rotated pair (row, head, i). The frequency theta^(-2i/d) and
// the angle pos * freq are computed in FP32 exactly as the CPU twin writes them, then rotated in FP32.
#include "gpu/cuda/rope.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) rope_kernel(bf16* x, std::size_t col_offset, std::size_t stride, int n_heads,
                                                        int head_dim, int new_tokens, int kv_len, float theta,
                                                        std::size_t pairs) {
  const int half = head_dim / 2;
  for (std::size_t idx = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < pairs;
       idx += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const int i = static_cast<int>(idx % half);
    const std::size_t head_row = idx / half;
    const int h = static_cast<int>(head_row % n_heads);
    const int r = static_cast<int>(head_row / n_heads);
    const int pos = kv_len + r % new_tokens;
    const float freq = powf(theta, -2.0f * i / head_dim);
    float sn, cs;
    sincosf(pos * freq, &sn, &cs);
    bf16* v = x + static_cast<std::size_t>(r) * stride + col_offset + static_cast<std::size_t>(h) * head_dim;
    const float x0 = to_float(v[i]), x1 = to_float(v[i + half]);
    v[i] = to_bf16(x0 * cs - x1 * sn);
    v[i + half] = to_bf16(x0 * sn + x1 * cs);
  }
}

}  // namespace

void rope(bf16* x, Columns cols, int n_heads, const AttentionShape& s, float theta, cudaStream_t stream) {
  const std::size_t pairs = static_cast<std::size_t>(s.rows()) * n_heads * (s.head_dim / 2);
  if (pairs == 0) return;
  rope_kernel<<<grid_for(pairs, kThreads), kThreads, 0, stream>>>(x, cols.offset, cols.stride, n_heads, s.head_dim,
                                                                  s.new_tokens, s.kv_len, theta, pairs);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
