#pragma once
// The CPU reference backend: FP32 buffers in host memory, the kernels of cpu_ops.hpp.
#include <memory>

#include "gpu/backend.hpp"

namespace swarmsim::gpu {

/// Always available. Threads: OpenMP for the plain kernels, OpenBLAS's own pool for GEMM.
std::unique_ptr<Backend> make_cpu_backend();

/// "AMD EPYC (2 threads)": the CPU model from /proc/cpuinfo and the threads the kernels use.
std::string cpu_device_name();

}  // namespace swarmsim::gpu
