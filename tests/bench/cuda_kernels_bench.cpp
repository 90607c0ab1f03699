// Every CUDA kernel of gpu/cuda/ timed at Llama-3-8B shapes, decode (1 row) and prefill (512 rows).
// Each case reports GB/s and GFLOP/s of the bytes and FLOPs the op must move and do at the least,
// and a ratio against a reference measured in the same run:
//   memory-bound kernels: vs_memcpy = time of a device-to-device cudaMemcpy moving the same bytes
//     (reading half, writing half) / time of the kernel; 1.0 is "as fast as a copy".
//   matmul (cuBLAS itself): its fraction of the H100 SXM dense BF16 peak (989.4 TFLOP/s) and of
//     its HBM3 bandwidth (3.35 TB/s).
// Times come from CUDA events around one launch on a stream of our own (manual time). Without a
// device every case is skipped with the reason the CUDA runtime gives.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "gpu/cuda/add.cuh"
#include "gpu/cuda/attention.cuh"
#include "gpu/cuda/cuda_backend.hpp"
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

namespace {

namespace cu = swarmsim::gpu::cuda;
using swarmsim::gpu::AttentionShape;
using swarmsim::gpu::Columns;
using bf16 = __nv_bfloat16;

// Llama-3-8B.
constexpr int kHidden = 4096, kHeads = 32, kKvHeads = 8, kHeadDim = 128, kFfn = 14336, kVocab = 128256;
constexpr int kQDim = kHeads * kHeadDim, kKvDim = kKvHeads * kHeadDim, kQkvDim = kQDim + 2 * kKvDim;
constexpr float kRopeTheta = 500000.0f;
constexpr double kH100Bf16PeakFlops = 989.4e12;  // H100 SXM, dense BF16 tensor cores
constexpr double kH100PeakBytesPerS = 3.35e12;   // H100 SXM HBM3

/// Device memory filled with the byte 0x3c: as BF16 every element is 0.0115, as F32 0.0115, as Int8 60.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t bytes) : bytes_(std::max<std::size_t>(bytes, 16)) {
    CUDA_CHECK(cudaMalloc(&p_, bytes_));
    CUDA_CHECK(cudaMemset(p_, 0x3c, bytes_));
  }
  ~DeviceBuffer() { cudaFree(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_ = nullptr;
  std::size_t bytes_;
};

/// The stream and events of one benchmark case.
class Timer {
 public:
  Timer() {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreate(&start_));
    CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~Timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
    cudaStreamDestroy(stream);
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// Seconds that `launch` takes on `stream`, by CUDA events.
  double seconds(const std::function<void()>& launch) {
    CUDA_CHECK(cudaEventRecord(start_, stream));
    launch();
    CUDA_CHECK(cudaEventRecord(stop_, stream));
    CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms * 1e-3;
  }

  cudaStream_t stream = nullptr;

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

/// The least bytes an op moves and FLOPs it does.
struct OpCost {
  double bytes = 0, flops = 0;
};

enum class Reference { kMemcpy, kDevicePeak };

/// Median seconds of a device-to-device cudaMemcpy that moves `bytes` (reads half, writes half).
double memcpy_seconds(Timer& timer, double bytes) {
  const auto half = static_cast<std::size_t>(bytes / 2);
  DeviceBuffer src(half), dst(half);
  std::vector<double> t;
  for (int i = 0; i < 21; ++i)
    t.push_back(timer.seconds(
        [&] { CUDA_CHECK(cudaMemcpyAsync(dst.as<void>(), src.as<void>(), half, cudaMemcpyDeviceToDevice, timer.stream)); }));
  std::nth_element(t.begin(), t.begin() + 10, t.end());
  return t[10];
}

/// Times `launch` once per iteration and sets the counters. Skips the case when no device answers;
/// a CUDA error becomes the case's error message.
void time_op(benchmark::State& state, Reference ref, const std::function<OpCost(Timer&, std::function<void()>&)>& setup) {
  std::string why;
  if (!swarmsim::gpu::cuda_device_available(&why)) {
    state.SkipWithError(("no CUDA device: " + why).c_str());
    return;
  }
  try {
    Timer timer;
    std::function<void()> launch;
    const OpCost cost = setup(timer, launch);
    timer.seconds(launch);  // warm-up: module load, cuBLAS heuristics
    double total = 0;
    for (auto _ : state) {
      const double s = timer.seconds(launch);
      state.SetIterationTime(s);
      total += s;
    }
    const double per_launch = total / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
    state.counters["GB/s"] = cost.bytes / per_launch / 1e9;
    state.counters["GFLOP/s"] = cost.flops / per_launch / 1e9;
    if (ref == Reference::kMemcpy) {
      const double copy = memcpy_seconds(timer, cost.bytes);
      state.counters["memcpy_GB/s"] = cost.bytes / copy / 1e9;
      state.counters["vs_memcpy"] = copy / per_launch;
    } else {
      state.counters["of_bf16_peak"] = cost.flops / per_launch / kH100Bf16PeakFlops;
      state.counters["of_hbm_peak"] = cost.bytes / per_launch / kH100PeakBytesPerS;
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

int multiprocessors() {
  int device = 0, n = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
  return n;
}

// Buffers live in the setup lambdas' shared_ptrs, captured by the launch they feed.
template <class T>
using Shared = std::shared_ptr<T>;
Shared<DeviceBuffer> buffer(std::size_t bytes) { return std::make_shared<DeviceBuffer>(bytes); }

// ---- the cases ------------------------------------------------------------------------------

void BM_CudaRmsNorm(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto x = buffer(2ull * rows * kHidden), w = buffer(2ull * kHidden), out = buffer(2ull * rows * kHidden);
    launch = [=, &t] { cu::rmsnorm(out->as<bf16>(), x->as<bf16>(), w->as<bf16>(), rows, kHidden, 1e-5f, t.stream); };
    return OpCost{2.0 * (2.0 * rows * kHidden + kHidden), 4.0 * rows * kHidden};
  });
}
BENCHMARK(BM_CudaRmsNorm)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

void BM_CudaMatmul(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), n_in = static_cast<int>(state.range(1)),
            n_out = static_cast<int>(state.range(2));
  time_op(state, Reference::kDevicePeak, [&](Timer& t, std::function<void()>& launch) {
    auto x = buffer(2ull * rows * n_in), w = buffer(2ull * n_in * n_out), out = buffer(2ull * rows * n_out);
    cublasHandle_t raw = nullptr;
    CUBLAS_CHECK(cublasCreate(&raw));
    Shared<cublasContext> handle(raw, [](cublasHandle_t h) { cublasDestroy(h); });
    CUBLAS_CHECK(cublasSetStream(raw, t.stream));
    launch = [=] { cu::matmul(handle.get(), out->as<bf16>(), x->as<bf16>(), w->as<bf16>(), rows, n_in, n_out); };
    return OpCost{2.0 * (double(rows) * n_in + double(n_in) * n_out + double(rows) * n_out), 2.0 * rows * n_in * double(n_out)};
  });
}
// The projections of a block (fused qkv, o, fused gate|up, down) and the LM head.
BENCHMARK(BM_CudaMatmul)
    ->ArgNames({"rows", "n_in", "n_out"})
    ->ArgsProduct({{1, 512}, {kHidden}, {kQkvDim, kHidden, 2 * kFfn, kVocab}})
    ->Args({1, kFfn, kHidden})
    ->Args({512, kFfn, kHidden})
    ->UseManualTime();

void BM_CudaRope(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto qkv = buffer(2ull * rows * kQkvDim);
    const AttentionShape s{1, rows, 0, rows, kHeads, kKvHeads, kHeadDim};
    launch = [=, &t] {  // q and k of a step, as the block does
      cu::rope(qkv->as<bf16>(), Columns{0, kQkvDim}, kHeads, s, kRopeTheta, t.stream);
      cu::rope(qkv->as<bf16>(), Columns{kQDim, kQkvDim}, kKvHeads, s, kRopeTheta, t.stream);
    };
    const double pairs = double(rows) * (kHeads + kKvHeads) * kHeadDim / 2;
    return OpCost{2.0 * 2.0 * rows * (kQDim + kKvDim), 6.0 * pairs};  // FLOPs: the rotation, not sin/cos
  });
}
BENCHMARK(BM_CudaRope)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

void BM_CudaKvAppend(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    const AttentionShape s{1, rows, 0, 8192, kHeads, kKvHeads, kHeadDim};
    auto qkv = buffer(2ull * rows * kQkvDim), k = buffer(2ull * s.max_len * kKvDim), v = buffer(2ull * s.max_len * kKvDim);
    launch = [=, &t] {
      cu::kv_append(k->as<bf16>(), qkv->as<bf16>(), Columns{kQDim, kQkvDim}, s, t.stream);
      cu::kv_append(v->as<bf16>(), qkv->as<bf16>(), Columns{kQDim + kKvDim, kQkvDim}, s, t.stream);
    };
    return OpCost{2.0 * 2.0 * 2.0 * rows * kKvDim, 0};
  });
}
BENCHMARK(BM_CudaKvAppend)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

void BM_CudaAttention(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0)), new_tokens = static_cast<int>(state.range(1)),
            kv_len = static_cast<int>(state.range(2));
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    const AttentionShape s{batch, new_tokens, kv_len, kv_len + new_tokens, kHeads, kKvHeads, kHeadDim};
    const int n_sms = multiprocessors();
    const std::size_t cache = 2ull * batch * s.max_len * kKvDim;
    auto qkv = buffer(2ull * s.rows() * kQkvDim), k = buffer(cache), v = buffer(cache), out = buffer(2ull * s.rows() * kQDim);
    auto workspace = buffer(sizeof(float) * cu::attention_workspace_floats(s, n_sms));
    launch = [=, &t] {
      cu::attention(out->as<bf16>(), qkv->as<bf16>(), Columns{0, kQkvDim}, k->as<bf16>(), v->as<bf16>(), s,
                    workspace->as<float>(), n_sms, t.stream);
    };
    double keys = 0;  // (query, key) pairs per head: causal
    for (int r = 0; r < new_tokens; ++r) keys += kv_len + r + 1;
    keys *= batch;
    // Bytes: q and out once, the cache once per sequence; FLOPs: q.k and p.v for every pair and head.
    return OpCost{2.0 * s.rows() * 2.0 * kQDim + 2.0 * 2.0 * batch * (kv_len + new_tokens) * kKvDim,
                  4.0 * keys * kHeads * kHeadDim};
  });
}
BENCHMARK(BM_CudaAttention)
    ->ArgNames({"batch", "new_tokens", "kv_len"})
    ->Args({1, 1, 1024})
    ->Args({1, 1, 8191})
    ->Args({8, 1, 4096})
    ->Args({1, 512, 0})
    ->UseManualTime();

void BM_CudaSiluMul(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto gu = buffer(2ull * rows * 2 * kFfn), out = buffer(2ull * rows * kFfn);
    launch = [=, &t] { cu::silu_mul(out->as<bf16>(), gu->as<bf16>(), rows, kFfn, t.stream); };
    return OpCost{2.0 * 3.0 * rows * kFfn, 5.0 * rows * kFfn};
  });
}
BENCHMARK(BM_CudaSiluMul)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

void BM_CudaGelu(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)) * kFfn;
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto x = buffer(2 * n), out = buffer(2 * n);
    launch = [=, &t] { cu::gelu(out->as<bf16>(), x->as<bf16>(), n, t.stream); };
    return OpCost{2.0 * 2.0 * n, 8.0 * n};
  });
}
BENCHMARK(BM_CudaGelu)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

void BM_CudaAdd(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)) * kHidden;
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto x = buffer(2 * n), y = buffer(2 * n);
    launch = [=, &t] { cu::add(x->as<bf16>(), x->as<bf16>(), y->as<bf16>(), n, t.stream); };  // the residual, in place
    return OpCost{2.0 * 3.0 * n, 1.0 * n};
  });
}
BENCHMARK(BM_CudaAdd)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

void BM_CudaSoftmaxRows(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto x = buffer(2ull * rows * cols), out = buffer(2ull * rows * cols);
    launch = [=, &t] { cu::softmax_rows(out->as<bf16>(), x->as<bf16>(), rows, cols, t.stream); };
    return OpCost{2.0 * 2.0 * rows * double(cols), 4.0 * rows * double(cols)};
  });
}
// Sampling over the vocabulary (decode, a prefill's last rows) and attention-score-sized rows.
BENCHMARK(BM_CudaSoftmaxRows)
    ->ArgNames({"rows", "cols"})
    ->Args({1, kVocab})
    ->Args({8, kVocab})
    ->Args({kHeads * 512, 512})
    ->UseManualTime();

void BM_CudaEmbedding(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto table = buffer(2ull * kVocab * kHidden), out = buffer(2ull * rows * kHidden), ids = buffer(sizeof(int) * rows);
    std::vector<int> host(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) host[static_cast<std::size_t>(r)] = static_cast<int>((r * 7919ll) % kVocab);
    CUDA_CHECK(cudaMemcpy(ids->as<int>(), host.data(), sizeof(int) * rows, cudaMemcpyHostToDevice));
    launch = [=, &t] { cu::embedding(out->as<bf16>(), table->as<bf16>(), ids->as<int>(), rows, kHidden, t.stream); };
    return OpCost{2.0 * 2.0 * rows * kHidden, 0};
  });
}
BENCHMARK(BM_CudaEmbedding)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

constexpr int kQuantBlock = 64;

void BM_CudaQuantizeBlockwise(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)) * kHidden;
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto x = buffer(2 * n), q = buffer(n), scales = buffer(sizeof(float) * (n / kQuantBlock + 1));
    launch = [=, &t] { cu::quantize_blockwise(q->as<std::int8_t>(), scales->as<float>(), x->as<bf16>(), n, kQuantBlock, t.stream); };
    return OpCost{3.0 * n + 4.0 * n / kQuantBlock, 3.0 * n};
  });
}
BENCHMARK(BM_CudaQuantizeBlockwise)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

void BM_CudaDequantizeBlockwise(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)) * kHidden;
  time_op(state, Reference::kMemcpy, [&](Timer& t, std::function<void()>& launch) {
    auto x = buffer(2 * n), q = buffer(n), scales = buffer(sizeof(float) * (n / kQuantBlock + 1));
    launch = [=, &t] { cu::dequantize_blockwise(x->as<bf16>(), q->as<std::int8_t>(), scales->as<float>(), n, kQuantBlock, t.stream); };
    return OpCost{3.0 * n + 4.0 * n / kQuantBlock, 1.0 * n};
  });
}
BENCHMARK(BM_CudaDequantizeBlockwise)->ArgName("rows")->Arg(1)->Arg(512)->UseManualTime();

}  // namespace
