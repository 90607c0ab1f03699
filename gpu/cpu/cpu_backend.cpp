#include "gpu/cpu/cpu_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <omp.h>

#include "gpu/cpu/cpu_ops.hpp"

namespace swarmsim::gpu {
namespace {

void require_size(const DeviceTensor& t, std::size_t n, const char* what) {
  if (t.size() < n) throw std::invalid_argument(std::string("cpu backend: ") + what + " holds " + std::to_string(t.size()) +
                                                " elements, needs " + std::to_string(n));
}

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string device_name() const override { return cpu_device_name(); }
  DType storage() const override { return DType::F32; }

  DeviceTensor alloc(std::size_t n, DType dtype) override {
    const std::size_t bytes = static_cast<std::size_t>(n * dtype_bytes(dtype));
    // 64-byte alignment for vector loads; calloc-like zero fill.
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return DeviceTensor(std::shared_ptr<void>(p, std::free), n, dtype);
  }
  void upload(DeviceTensor& dst, std::span<const float> src) override {
    if (dst.dtype() != DType::F32 || dst.size() != src.size()) throw std::invalid_argument("cpu backend: upload size or dtype mismatch");
    std::memcpy(dst.data(), src.data(), src.size_bytes());
  }
  void download(const DeviceTensor& src, std::span<float> dst) override {
    if (src.dtype() != DType::F32 || src.size() != dst.size()) throw std::invalid_argument("cpu backend: download size or dtype mismatch");
    std::memcpy(dst.data(), src.data(), dst.size_bytes());
  }
  void synchronize() override {}

  void rmsnorm(DeviceTensor& out, const DeviceTensor& x, const DeviceTensor& w, int rows, int dim, float eps) override {
    require_size(x, static_cast<std::size_t>(rows) * dim, "rmsnorm x");
    cpu::rmsnorm(out.as<float>(), x.as<float>(), w.as<float>(), rows, dim, eps);
  }
  void matmul(DeviceTensor& out, const DeviceTensor& x, const DeviceTensor& w, int rows, int n_in, int n_out) override {
    require_size(w, static_cast<std::size_t>(n_out) * n_in, "matmul weights");
    require_size(out, static_cast<std::size_t>(rows) * n_out, "matmul out");
    cpu::matmul(out.as<float>(), x.as<float>(), w.as<float>(), rows, n_in, n_out);
  }
  void rope(DeviceTensor& x, Columns cols, int n_heads, const AttentionShape& s, float theta) override {
    cpu::rope(x.as<float>(), cols, n_heads, s, theta);
  }
  void kv_append(DeviceTensor& cache, const DeviceTensor& x, Columns cols, const AttentionShape& s) override {
    if (s.kv_len + s.new_tokens > s.max_len) throw std::length_error("kv_append: the KV cache is full");
    cpu::kv_append(cache.as<float>(), x.as<float>(), cols, s);
  }
  void attention(DeviceTensor& out, const DeviceTensor& q, Columns q_cols, const DeviceTensor& k,
                 const DeviceTensor& v, const AttentionShape& s) override {
    cpu::attention(out.as<float>(), q.as<float>(), q_cols, k.as<float>(), v.as<float>(), s);
  }
  void silu_mul(DeviceTensor& out, const DeviceTensor& gu, int rows, int width) override {
    cpu::silu_mul(out.as<float>(), gu.as<float>(), rows, width);
  }
  void gelu(DeviceTensor& out, const DeviceTensor& x, std::size_t n) override { cpu::gelu(out.as<float>(), x.as<float>(), n); }
  void add(DeviceTensor& out, const DeviceTensor& a, const DeviceTensor& b, std::size_t n) override {
    cpu::add(out.as<float>(), a.as<float>(), b.as<float>(), n);
  }
  void softmax_rows(DeviceTensor& out, const DeviceTensor& x, int rows, int cols) override {
    cpu::softmax_rows(out.as<float>(), x.as<float>(), rows, cols);
  }
  void embedding(DeviceTensor& out, const DeviceTensor& table, std::span<const int> ids, int dim) override {
    cpu::embedding(out.as<float>(), table.as<float>(), ids, dim);
  }
  void quantize_blockwise(DeviceTensor& q, DeviceTensor& scales, const DeviceTensor& x, std::size_t n, int block) override {
    require_size(scales, (n + block - 1) / block, "quantize scales");
    cpu::quantize_blockwise(q.as<std::int8_t>(), scales.as<float>(), x.as<float>(), n, block);
  }
  void dequantize_blockwise(DeviceTensor& x, const DeviceTensor& q, const DeviceTensor& scales, std::size_t n,
                            int block) override {
    cpu::dequantize_blockwise(x.as<float>(), q.as<std::int8_t>(), scales.as<float>(), n, block);
  }
};

}  // namespace

std::string cpu_device_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + " (" + std::to_string(omp_get_max_threads()) + " threads, OpenBLAS " + cpu::blas_kernels() + ")";
}

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace swarmsim::gpu
