#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace swarmsim::gpu::cuda {
/// out[r, :] = table[ids[r], :] for n_ids rows of dim BF16 columns; ids is a device array (checked in range by the caller).
void embedding(__nv_bfloat16* out, const __nv_bfloat16* table, const int* ids, int n_ids, int dim, cudaStream_t stream);
}  // namespace swarmsim::gpu::cuda
