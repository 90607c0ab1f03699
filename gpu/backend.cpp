#include "gpu/backend.hpp"

#include <stdexcept>

#include "gpu/cpu/cpu_backend.hpp"
#if SWARMSIM_HAVE_CUDA
#include "gpu/cuda/cuda_backend.hpp"
#endif

namespace swarmsim::gpu {

std::vector<std::string> available_backends() {
  std::vector<std::string> names{"cpu"};
#if SWARMSIM_HAVE_CUDA
  if (cuda_device_available(nullptr)) names.push_back("cuda");
#endif
  return names;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda") {
#if SWARMSIM_HAVE_CUDA
    std::string why;
    if (!cuda_device_available(&why)) throw std::runtime_error("the CUDA backend cannot run here: " + why);
    return make_cuda_backend();
#else
    throw std::runtime_error("the CUDA backend is not built: nvcc was not found when swarmsim was configured");
#endif
  }
  throw std::runtime_error("unknown backend \"" + name + "\"; expected \"cpu\" or \"cuda\"");
}

}  // namespace swarmsim::gpu
