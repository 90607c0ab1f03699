#pragma once
// The CUDA backend: BF16 activations, weights and KV caches in device memory, FP32 accumulation
// in every kernel (gpu/cuda/<op>.cu) and in cuBLAS for the matmuls. All work goes on one stream
// that the backend owns; synchronize() waits for it.
#include <memory>
#include <string>

#include "gpu/backend.hpp"

namespace swarmsim::gpu {

/// True when the CUDA runtime answers and sees at least one device. Otherwise false and, when
/// `why` is not null, *why says what the runtime answered ("CUDA driver version is insufficient
/// for CUDA runtime version (cudaErrorInsufficientDriver)") or that it found no device.
bool cuda_device_available(std::string* why);

/// A backend on the current CUDA device (device 0 unless the caller chose another with
/// cudaSetDevice). Throws std::runtime_error when the device or cuBLAS cannot be initialized.
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace swarmsim::gpu
