// Blockwise 8-bit quantization. quantize: one warp per quantization block (8 per thread block);
// lanes stride over the block for a warp-max of |x|, then write q with the same arithmetic as the
// CPU twin (scale = absmax / 127, q = rint(x * (1 / scale)), IEEE division and round-half-even),
// so both give identical q and scales. dequantize: one thread per element, grid-stride.
#include "gpu/cuda/quantize_blockwise.cuh"

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kThreads = 256;

__global__ void __launch_bounds__(kWarpsPerBlock * 32) quantize_blockwise_kernel(std::int8_t* q, float* scales, const bf16* x,
                                                                                 std::size_t n, int block,
                                                                                 std::size_t n_blocks) {
  const std::size_t b = static_cast<std::size_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (b >= n_blocks) return;  // warp-uniform: the whole warp leaves together
  const std::size_t lo = b * block, hi = min(n, lo + block);
  float absmax = 0.0f;
  for (std::size_t i = lo + lane; i < hi; i += 32) absmax = fmaxf(absmax, fabsf(to_float(x[i])));
  absmax = warp_max(absmax);
  const float scale = absmax / 127.0f;
  if (lane == 0) scales[b] = scale;
  const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
  for (std::size_t i = lo + lane; i < hi; i += 32)
    q[i] = static_cast<std::int8_t>(fminf(fmaxf(rintf(to_float(x[i]) * inv), -127.0f), 127.0f));
}

__global__ void __launch_bounds__(kThreads) dequantize_blockwise_kernel(bf16* x, const std::int8_t* q, const float* scales,
                                                                        std::size_t n, int block) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    x[i] = to_bf16(static_cast<float>(q[i]) * scales[i / block]);
}

}  // namespace

void quantize_blockwise(std::int8_t* q, float* scales, const bf16* x, std::size_t n, int block, cudaStream_t stream) {
  if (n == 0) return;
  const std::size_t n_blocks = (n + block - 1) / block;
  const std::size_t grid = (n_blocks + kWarpsPerBlock - 1) / kWarpsPerBlock;
  quantize_blockwise_kernel<<<static_cast<unsigned>(grid), kWarpsPerBlock * 32, 0, stream>>>(q, scales, x, n, block, n_blocks);
  CUDA_CHECK_LAUNCH();
}

void dequantize_blockwise(bf16* x, const std::int8_t* q, const float* scales, std::size_t n, int block, cudaStream_t stream) {
  if (n == 0) return;
  dequantize_blockwise_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, q, scales, n, block);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
