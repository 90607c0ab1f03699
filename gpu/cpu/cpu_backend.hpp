#pragma once
// The CPU reference backend: FP32 buffers in host memory, the kernels of cpu_ops.hpp.
#include <memory>

#include "gpu/backend.hpp"

namespace swarmsim::gpu {

/// Always available. Threads: OpenMP, with OpenBLAS single-threaded inside each OpenMP thread.
std::unique_ptr<Backend> make_cpu_backend();

/// "AMD EPYC (2 threads, OpenBLAS Zen)": the CPU model from /proc/cpuinfo, the threads the
/// kernels use, and the kernel set OpenBLAS runs.
std::string cpu_device_name();

}  // namespace swarmsim::gpu
