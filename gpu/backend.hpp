#pragma once
// gpu::Backend: executes a model shard's work for real on one device. Two implementations:
// the CPU reference backend (gpu/cpu/, always built) and the CUDA backend (gpu/cuda/, built when
// nvcc exists). Every op takes raw buffers and explicit dimensions, llm.c style; buffers hold the
// backend's storage dtype (F32 on the CPU, BF16 on CUDA) and every op accumulates in FP32.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gpu/dtype.hpp"

namespace swarmsim::gpu {

/// A buffer of `size` elements of `dtype` in a backend's device memory. Copies share the buffer
/// (shared ownership); the backend that allocated it frees it when the last copy goes.
class DeviceTensor {
 public:
  DeviceTensor() = default;
  DeviceTensor(std::shared_ptr<void> data, std::size_t size, DType dtype)
      : data_(std::move(data)), size_(size), dtype_(dtype) {}
  void* data() { return data_.get(); }
  const void* data() const { return data_.get(); }
  template <class T>
  T* as() { return static_cast<T*>(data_.get()); }
  template <class T>
  const T* as() const { return static_cast<const T*>(data_.get()); }
  std::size_t size() const { return size_; }
  DType dtype() const { return dtype_; }
  std::size_t bytes() const { return static_cast<std::size_t>(size_ * dtype_bytes(dtype_)); }
  bool empty() const { return size_ == 0; }

 private:
  std::shared_ptr<void> data_;
  std::size_t size_ = 0;
  DType dtype_ = DType::F32;
};

/// Where a step's queries, keys and values are and how long the sequences are.
/// Rows of q/k/v are the step's tokens, sequence-major: row r is token r % new_tokens of
/// sequence r / new_tokens, at position kv_len + r % new_tokens.
struct AttentionShape {
  int batch = 1;
  int new_tokens = 1;  ///< tokens per sequence in this step
  int kv_len = 0;      ///< tokens per sequence cached before this step
  int max_len = 0;     ///< capacity of the cache per sequence
  int n_heads = 1;     ///< query heads
  int n_kv_heads = 1;  ///< key/value heads (grouped-query attention when fewer)
  int head_dim = 1;
  int rows() const { return batch * new_tokens; }
  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
};

/// A strided view of columns [offset, offset + width) of a row-major matrix with `stride` columns.
struct Columns {
  std::size_t offset = 0;
  std::size_t stride = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  /// "cpu" or "cuda".
  virtual std::string name() const = 0;
  /// The device, as its driver or the OS names it ("AMD EPYC (2 threads)", "NVIDIA H100 80GB HBM3").
  virtual std::string device_name() const = 0;
  /// Element type of activation and weight buffers on this backend.
  virtual DType storage() const = 0;

  /// A zero-filled buffer of `n` elements of `dtype` (storage() when unspecified).
  virtual DeviceTensor alloc(std::size_t n, DType dtype) = 0;
  DeviceTensor alloc(std::size_t n) { return alloc(n, storage()); }
  /// Copies host FP32 values into `dst` (converted to its dtype). Sizes must match.
  virtual void upload(DeviceTensor& dst, std::span<const float> src) = 0;
  /// Copies `src` (converted from its dtype) into host FP32 values. Sizes must match.
  virtual void download(const DeviceTensor& src, std::span<float> dst) = 0;
  /// Waits until every op issued so far has finished (for timing).
  virtual void synchronize() = 0;

  // ---- ops; all dimensions in elements -------------------------------------------------------
  /// out[r, :] = x[r, :] / rms(x[r, :]) * w, rms = sqrt(mean(x^2) + eps). rows x dim.
  virtual void rmsnorm(DeviceTensor& out, const DeviceTensor& x, const DeviceTensor& w, int rows, int dim,
                       float eps) = 0;
  /// out[rows x n_out] = x[rows x n_in] * W^T, W row-major [n_out x n_in] (a PyTorch Linear).
  virtual void matmul(DeviceTensor& out, const DeviceTensor& x, const DeviceTensor& w, int rows, int n_in,
                      int n_out) = 0;
  /// Rotary embedding in place on `n_heads` heads of `x`'s columns `cols`, Llama's half-split
  /// rotation (dims i and i + head_dim/2), position of row r = shape.kv_len + r % shape.new_tokens.
  virtual void rope(DeviceTensor& x, Columns cols, int n_heads, const AttentionShape& shape, float theta) = 0;
  /// Copies the step's keys (or values), columns `cols` of `x`, into `cache` [batch x max_len x kv_dim]
  /// at positions kv_len .. kv_len + new_tokens - 1.
  virtual void kv_append(DeviceTensor& cache, const DeviceTensor& x, Columns cols, const AttentionShape& shape) = 0;
  /// Causal attention of the step's queries (columns `q_cols` of `q`) over the cache (which
  /// already holds this step's keys and values): out [rows x q_dim]. Scale 1/sqrt(head_dim);
  /// query head h reads KV head h / (n_heads / n_kv_heads).
  virtual void attention(DeviceTensor& out, const DeviceTensor& q, Columns q_cols, const DeviceTensor& k_cache,
                         const DeviceTensor& v_cache, const AttentionShape& shape) = 0;
  /// out[r, j] = silu(gu[r, j]) * gu[r, width + j] for a fused gate|up matrix [rows x 2 width].
  virtual void silu_mul(DeviceTensor& out, const DeviceTensor& gate_up, int rows, int width) = 0;
  /// out = gelu(x) (tanh approximation), n elements.
  virtual void gelu(DeviceTensor& out, const DeviceTensor& x, std::size_t n) = 0;
  /// out = a + b, n elements (out may alias a or b).
  virtual void add(DeviceTensor& out, const DeviceTensor& a, const DeviceTensor& b, std::size_t n) = 0;
  /// Row-wise softmax, rows x cols, in FP32 semantics.
  virtual void softmax_rows(DeviceTensor& out, const DeviceTensor& x, int rows, int cols) = 0;
  /// out[r, :] = table[ids[r], :], dim columns.
  virtual void embedding(DeviceTensor& out, const DeviceTensor& table, std::span<const int> ids, int dim) = 0;
  /// Dynamic blockwise 8-bit quantization: for each block of `block` elements, scale = absmax/127
  /// and q = round(x / scale) in [-127, 127]. q: Int8 [n], scales: F32 [ceil(n / block)].
  virtual void quantize_blockwise(DeviceTensor& q, DeviceTensor& scales, const DeviceTensor& x, std::size_t n,
                                  int block) = 0;
  /// x = q * scale of its block.
  virtual void dequantize_blockwise(DeviceTensor& x, const DeviceTensor& q, const DeviceTensor& scales,
                                    std::size_t n, int block) = 0;
};

/// Backends that can run here: "cpu" always, "cuda" when built with CUDA and a device answers.
std::vector<std::string> available_backends();
/// A backend by name; throws std::runtime_error saying why when it cannot run here.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace swarmsim::gpu
