// The CUDA Backend: checks every op's buffers (dtype and size) on the host, then calls the op's
// launcher (gpu/cuda/<op>.cuh) on the backend's stream. Owns the stream, the cuBLAS handle, the
// attention split workspace and the device copy of embedding ids (both grown on demand).
#include "gpu/cuda/cuda_backend.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "gpu/cuda/add.cuh"
#include "gpu/cuda/attention.cuh"
#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/embedding.cuh"
#include "gpu/cuda/gelu.cuh"
#include "gpu/cuda/kv_append.cuh"
#include "gpu/cuda/matmul.cuh"
#include "gpu/cuda/quantize_blockwise.cuh"
#include "gpu/cuda/rmsnorm.cuh"
#include "gpu/cuda/rope.cuh"
#include "gpu/cuda/silu_mul.cuh"
#include "gpu/cuda/softmax_rows.cuh"
#include "gpu/dtype.hpp"

namespace swarmsim::gpu {
namespace {

using bf16 = __nv_bfloat16;

// dtype_name() lives in swarmsim_gpu's compiled code, which this library must not call.
const char* dtype_label(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::Int8: return "int8";
  }
  return "?";
}

void require(const DeviceTensor& t, DType dtype, std::size_t n, const char* what) {
  if (t.dtype() != dtype)
    throw std::invalid_argument(std::string("cuda backend: ") + what + " is " + dtype_label(t.dtype()) + ", expected " +
                                dtype_label(dtype));
  if (t.size() < n)
    throw std::invalid_argument(std::string("cuda backend: ") + what + " holds " + std::to_string(t.size()) +
                                " elements, needs " + std::to_string(n));
}

/// Elements a strided column view touches: rows - 1 full strides plus the view's own extent.
std::size_t view_extent(int rows, Columns cols, std::size_t width) {
  if (cols.offset + width > cols.stride)
    throw std::invalid_argument("cuda backend: columns [" + std::to_string(cols.offset) + ", " +
                                std::to_string(cols.offset + width) + ") exceed the row stride " +
                                std::to_string(cols.stride));
  return rows <= 0 ? 0 : static_cast<std::size_t>(rows - 1) * cols.stride + cols.offset + width;
}

void check_shape(const AttentionShape& s, const char* what) {
  if (s.batch < 0 || s.new_tokens < 1 || s.kv_len < 0 || s.n_heads < 1 || s.n_kv_heads < 1 || s.head_dim < 1 ||
      s.n_heads % s.n_kv_heads != 0)
    throw std::invalid_argument(std::string("cuda backend: ") + what + ": bad attention shape");
  if (s.kv_len + s.new_tokens > s.max_len) throw std::length_error(std::string(what) + ": the KV cache is full");
}

/// Device memory that only grows; its old contents are not kept.
struct Scratch {
  std::shared_ptr<void> data;
  std::size_t bytes = 0;
};

std::shared_ptr<void> device_malloc(std::size_t bytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes));
  return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });  // errors at exit are ignored
}

class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    CUDA_CHECK(cudaGetDevice(&device_));
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    device_name_ = prop.name;
    n_sms_ = prop.multiProcessorCount;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    const cublasStatus_t status = cublasCreate(&cublas_);
    if (status != CUBLAS_STATUS_SUCCESS) {
      cudaStreamDestroy(stream_);
      CUBLAS_CHECK(status);
    }
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);  // no throwing from a destructor: errors here are dropped
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda"; }
  std::string device_name() const override { return device_name_; }
  DType storage() const override { return DType::BF16; }

  DeviceTensor alloc(std::size_t n, DType dtype) override {
    const auto bytes = static_cast<std::size_t>(n * dtype_bytes(dtype));
    if (bytes == 0) return DeviceTensor(nullptr, n, dtype);
    auto p = device_malloc(bytes);
    // On the backend's stream, so every later op on it sees the zeros.
    CUDA_CHECK(cudaMemsetAsync(p.get(), 0, bytes, stream_));
    return DeviceTensor(std::move(p), n, dtype);
  }

  void upload(DeviceTensor& dst, std::span<const float> src) override {
    if (dst.size() != src.size())
      throw std::invalid_argument("cuda backend: upload of " + std::to_string(src.size()) + " values into a tensor of " +
                                  std::to_string(dst.size()));
    if (src.empty()) return;
    switch (dst.dtype()) {
      case DType::F32:
        CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), src.size_bytes(), cudaMemcpyHostToDevice, stream_));
        break;
      case DType::BF16: {
        std::vector<std::uint16_t> host(src.size());
        for (std::size_t i = 0; i < src.size(); ++i) host[i] = float_to_bf16(src[i]);
        CUDA_CHECK(cudaMemcpyAsync(dst.data(), host.data(), host.size() * sizeof(std::uint16_t), cudaMemcpyHostToDevice,
                                   stream_));
        CUDA_CHECK(cudaStreamSynchronize(stream_));  // `host` dies at the end of this scope
        return;
      }
      default:
        throw std::invalid_argument(std::string("cuda backend: cannot upload float values into a ") +
                                    dtype_label(dst.dtype()) + " tensor (quantize on the device instead)");
    }
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void download(const DeviceTensor& src, std::span<float> dst) override {
    if (src.size() != dst.size())
      throw std::invalid_argument("cuda backend: download of a tensor of " + std::to_string(src.size()) + " into " +
                                  std::to_string(dst.size()) + " values");
    if (dst.empty()) return;
    switch (src.dtype()) {
      case DType::F32:
        CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), dst.size_bytes(), cudaMemcpyDeviceToHost, stream_));
        CUDA_CHECK(cudaStreamSynchronize(stream_));
        return;
      case DType::BF16: {
        std::vector<std::uint16_t> host(dst.size());
        CUDA_CHECK(cudaMemcpyAsync(host.data(), src.data(), host.size() * sizeof(std::uint16_t), cudaMemcpyDeviceToHost,
                                   stream_));
        CUDA_CHECK(cudaStreamSynchronize(stream_));
        for (std::size_t i = 0; i < dst.size(); ++i) dst[i] = bf16_to_float(host[i]);
        return;
      }
      case DType::Int8: {
        std::vector<std::int8_t> host(dst.size());
        CUDA_CHECK(cudaMemcpyAsync(host.data(), src.data(), host.size(), cudaMemcpyDeviceToHost, stream_));
        CUDA_CHECK(cudaStreamSynchronize(stream_));
        for (std::size_t i = 0; i < dst.size(); ++i) dst[i] = host[i];
        return;
      }
      case DType::F16: break;
    }
    throw std::invalid_argument("cuda backend: cannot download a f16 tensor");
  }

  void synchronize() override { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  void rmsnorm(DeviceTensor& out, const DeviceTensor& x, const DeviceTensor& w, int rows, int dim, float eps) override {
    const std::size_t n = static_cast<std::size_t>(rows) * dim;
    require(out, DType::BF16, n, "rmsnorm out");
    require(x, DType::BF16, n, "rmsnorm x");
    require(w, DType::BF16, static_cast<std::size_t>(dim), "rmsnorm weight");
    cuda::rmsnorm(out.as<bf16>(), x.as<bf16>(), w.as<bf16>(), rows, dim, eps, stream_);
  }

  void matmul(DeviceTensor& out, const DeviceTensor& x, const DeviceTensor& w, int rows, int n_in, int n_out) override {
    require(out, DType::BF16, static_cast<std::size_t>(rows) * n_out, "matmul out");
    require(x, DType::BF16, static_cast<std::size_t>(rows) * n_in, "matmul x");
    require(w, DType::BF16, static_cast<std::size_t>(n_out) * n_in, "matmul weights");
    cuda::matmul(cublas_, out.as<bf16>(), x.as<bf16>(), w.as<bf16>(), rows, n_in, n_out);
  }

  void rope(DeviceTensor& x, Columns cols, int n_heads, const AttentionShape& s, float theta) override {
    require(x, DType::BF16, view_extent(s.rows(), cols, static_cast<std::size_t>(n_heads) * s.head_dim), "rope x");
    cuda::rope(x.as<bf16>(), cols, n_heads, s, theta, stream_);
  }

  void kv_append(DeviceTensor& cache, const DeviceTensor& x, Columns cols, const AttentionShape& s) override {
    check_shape(s, "kv_append");
    require(cache, DType::BF16, static_cast<std::size_t>(s.batch) * s.max_len * s.kv_dim(), "kv_append cache");
    require(x, DType::BF16, view_extent(s.rows(), cols, static_cast<std::size_t>(s.kv_dim())), "kv_append x");
    cuda::kv_append(cache.as<bf16>(), x.as<bf16>(), cols, s, stream_);
  }

  void attention(DeviceTensor& out, const DeviceTensor& q, Columns q_cols, const DeviceTensor& k, const DeviceTensor& v,
                 const AttentionShape& s) override {
    check_shape(s, "attention");
    const std::size_t cache = static_cast<std::size_t>(s.batch) * s.max_len * s.kv_dim();
    require(out, DType::BF16, static_cast<std::size_t>(s.rows()) * s.q_dim(), "attention out");
    require(q, DType::BF16, view_extent(s.rows(), q_cols, static_cast<std::size_t>(s.q_dim())), "attention q");
    require(k, DType::BF16, cache, "attention k cache");
    require(v, DType::BF16, cache, "attention v cache");
    float* workspace = static_cast<float*>(grow(attention_workspace_, sizeof(float) * cuda::attention_workspace_floats(s, n_sms_)));
    cuda::attention(out.as<bf16>(), q.as<bf16>(), q_cols, k.as<bf16>(), v.as<bf16>(), s, workspace, n_sms_, stream_);
  }

  void silu_mul(DeviceTensor& out, const DeviceTensor& gu, int rows, int width) override {
    require(out, DType::BF16, static_cast<std::size_t>(rows) * width, "silu_mul out");
    require(gu, DType::BF16, static_cast<std::size_t>(rows) * 2 * width, "silu_mul gate_up");
    cuda::silu_mul(out.as<bf16>(), gu.as<bf16>(), rows, width, stream_);
  }

  void gelu(DeviceTensor& out, const DeviceTensor& x, std::size_t n) override {
    require(out, DType::BF16, n, "gelu out");
    require(x, DType::BF16, n, "gelu x");
    cuda::gelu(out.as<bf16>(), x.as<bf16>(), n, stream_);
  }

  void add(DeviceTensor& out, const DeviceTensor& a, const DeviceTensor& b, std::size_t n) override {
    require(out, DType::BF16, n, "add out");
    require(a, DType::BF16, n, "add a");
    require(b, DType::BF16, n, "add b");
    cuda::add(out.as<bf16>(), a.as<bf16>(), b.as<bf16>(), n, stream_);
  }

  void softmax_rows(DeviceTensor& out, const DeviceTensor& x, int rows, int cols) override {
    const std::size_t n = static_cast<std::size_t>(rows) * cols;
    require(out, DType::BF16, n, "softmax out");
    require(x, DType::BF16, n, "softmax x");
    cuda::softmax_rows(out.as<bf16>(), x.as<bf16>(), rows, cols, stream_);
  }

  void embedding(DeviceTensor& out, const DeviceTensor& table, std::span<const int> ids, int dim) override {
    if (ids.empty()) return;
    if (dim < 1) throw std::invalid_argument("cuda backend: embedding dim must be positive");
    require(out, DType::BF16, ids.size() * static_cast<std::size_t>(dim), "embedding out");
    require(table, DType::BF16, static_cast<std::size_t>(dim), "embedding table");
    const std::size_t vocab = table.size() / static_cast<std::size_t>(dim);
    for (const int id : ids)  // an out-of-range id would be a silent wild read on the device
      if (id < 0 || static_cast<std::size_t>(id) >= vocab)
        throw std::out_of_range("cuda backend: token id " + std::to_string(id) + " outside the table's " +
                                std::to_string(vocab) + " rows");
    int* ids_device = static_cast<int*>(grow(ids_, ids.size_bytes()));
    // From pageable memory: returns once `ids` is staged, so the caller may reuse it at once.
    CUDA_CHECK(cudaMemcpyAsync(ids_device, ids.data(), ids.size_bytes(), cudaMemcpyHostToDevice, stream_));
    cuda::embedding(out.as<bf16>(), table.as<bf16>(), ids_device, static_cast<int>(ids.size()), dim, stream_);
  }

  void quantize_blockwise(DeviceTensor& q, DeviceTensor& scales, const DeviceTensor& x, std::size_t n, int block) override {
    if (block < 1) throw std::invalid_argument("cuda backend: quantization block must be positive");
    require(q, DType::Int8, n, "quantize q");
    require(scales, DType::F32, (n + block - 1) / block, "quantize scales");
    require(x, DType::BF16, n, "quantize x");
    cuda::quantize_blockwise(q.as<std::int8_t>(), scales.as<float>(), x.as<bf16>(), n, block, stream_);
  }

  void dequantize_blockwise(DeviceTensor& x, const DeviceTensor& q, const DeviceTensor& scales, std::size_t n,
                            int block) override {
    if (block < 1) throw std::invalid_argument("cuda backend: quantization block must be positive");
    require(x, DType::BF16, n, "dequantize x");
    require(q, DType::Int8, n, "dequantize q");
    require(scales, DType::F32, (n + block - 1) / block, "dequantize scales");
    cuda::dequantize_blockwise(x.as<bf16>(), q.as<std::int8_t>(), scales.as<float>(), n, block, stream_);
  }

 private:
  /// `s` with room for `bytes`. Before freeing a smaller buffer, waits for the ops that may still use it.
  void* grow(Scratch& s, std::size_t bytes) {
    if (bytes > s.bytes) {
      if (s.data) CUDA_CHECK(cudaStreamSynchronize(stream_));
      s.data.reset();
      s.data = device_malloc(bytes);
      s.bytes = bytes;
    }
    return s.data.get();
  }

  int device_ = 0;
  int n_sms_ = 1;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  Scratch attention_workspace_, ids_;
};

}  // namespace

bool cuda_device_available(std::string* why) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the error so that later runtime calls report their own
    if (why) *why = std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) + ")";
    return false;
  }
  if (count < 1) {
    if (why) *why = "the CUDA runtime found no device";
    return false;
  }
  return true;
}

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

}  // namespace swarmsim::gpu
