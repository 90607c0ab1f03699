#include "gpu/op_profiler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <omp.h>

namespace swarmsim::gpu {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---- peak FLOP/s: independent FMA chains in vector registers -----------------------------------
constexpr int kChains = 12;  // enough independent FMAs to cover the FMA latency on 2 ports

typedef float Vec16 __attribute__((vector_size(64)));
typedef float Vec8 __attribute__((vector_size(32)));
typedef float Vec4 __attribute__((vector_size(16)));

// One thread's FMA chains; inlined into the target("...") wrappers below so that it is compiled
// for their vector unit (an OpenMP region inside them would be outlined for the default target).
template <class V>
__attribute__((always_inline)) inline double fma_chains(long iters) {
  constexpr int lanes = sizeof(V) / sizeof(float);
  const V zero = {};
  const V a = zero + 0.999999f, b = zero + 1e-7f;
  V acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = a * static_cast<float>(c + 1);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + b;
  V all = acc[0];  // every chain feeds the result, so none is dead code
  for (int c = 1; c < kChains; ++c) all += acc[c];
  float first[lanes];
  std::memcpy(first, &all, sizeof first);
  return 2.0 * lanes * kChains * static_cast<double>(iters) + (first[0] == 12345.0f ? 1 : 0);
}

__attribute__((target("avx512f"))) double fma_avx512(long iters) { return fma_chains<Vec16>(iters); }
__attribute__((target("avx2,fma"))) double fma_avx2(long iters) { return fma_chains<Vec8>(iters); }
double fma_sse(long iters) { return fma_chains<Vec4>(iters); }

/// FLOP/s of `kernel` run on every thread at once: the best of 5 trials (a peak is what the
/// machine can do; other load on a shared machine only ever lowers a trial).
double parallel_flops_per_s(double (*kernel)(long), long iters) {
  double best = 0.0;
  for (int trial = 0; trial < 5; ++trial) {
    double total = 0.0;
    const auto t0 = Clock::now();
#pragma omp parallel reduction(+ : total)
    total += kernel(iters);
    best = std::max(best, total / since(t0));
  }
  return best;
}

double stream_triad_bytes_per_s() {
  const std::size_t n = 32u << 20;  // 32 Mi floats per array, 128 MiB: far beyond any cache
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  double best = 0.0;
  for (int rep = 0; rep < 10; ++rep) {
    const auto t0 = Clock::now();
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < n; ++i) a[i] = b[i] + 3.0f * c[i];
    const double s = since(t0);
    best = std::max(best, 3.0 * n * sizeof(float) / s);  // STREAM counts 2 reads + 1 write
  }
  return best + (a[n / 2] == 0.5f ? 1 : 0);
}

// ---- op runners ---------------------------------------------------------------------------------

struct Buffers {
  Backend& be;
  std::vector<DeviceTensor> keep;
  DeviceTensor make(std::size_t n, DType t) {
    keep.push_back(be.alloc(std::max<std::size_t>(n, 1), t));
    return keep.back();
  }
  DeviceTensor make(std::size_t n) { return make(n, be.storage()); }
};

/// A callable that runs the op once, with its buffers allocated.
std::function<void()> runner(Backend& be, Buffers& buf, const TransformerSpec& m, const OpCost& op, const BlockWork& w) {
  const int T = w.batch * w.new_tokens;
  const std::size_t h = static_cast<std::size_t>(m.hidden), f = static_cast<std::size_t>(m.ffn);
  const std::string name = op.name;
  const auto gemm = [&](int rows, int n_in, int n_out, int repeats) {
    DeviceTensor x = buf.make(static_cast<std::size_t>(rows) * n_in), out = buf.make(static_cast<std::size_t>(rows) * n_out);
    std::vector<DeviceTensor> ws;  // distinct weights per repeat (experts), so none is read from cache
    for (int r = 0; r < repeats; ++r) ws.push_back(buf.make(static_cast<std::size_t>(n_out) * n_in));
    return std::function<void()>([&be, x, out, ws, rows, n_in, n_out]() mutable {
      for (DeviceTensor& wt : ws) be.matmul(out, x, wt, rows, n_in, n_out);
    });
  };
  // Mixture of experts: the routed token-expert pairs spread over the experts a step touches.
  const int touched = static_cast<int>(std::lround(expected_experts_touched(m.n_experts, m.experts_per_token, T)));
  const int routed_rows = std::max(1, (T * m.experts_per_token + touched - 1) / touched);
  if (name == "attn_norm" || name == "mlp_norm" || name == "embed_norm" || name == "final_norm") {
    const int rows = name == "final_norm" ? w.batch : T;
    DeviceTensor x = buf.make(rows * h), out = buf.make(rows * h), g = buf.make(h);
    return [&be, x, out, g, rows, m]() mutable { be.rmsnorm(out, x, g, rows, m.hidden, 1e-5f); };
  }
  if (name == "qkv_proj") return gemm(T, m.hidden, m.q_dim() + 2 * m.kv_dim(), 1);
  if (name == "o_proj") return gemm(T, m.q_dim(), m.hidden, 1);
  if (name == "moe_router") return gemm(T, m.hidden, m.n_experts, 1);
  if (name == "gate_up_proj") return gemm(m.n_experts > 1 ? routed_rows : T, m.hidden, 2 * m.ffn, m.n_experts > 1 ? touched : 1);
  if (name == "up_proj") return gemm(m.n_experts > 1 ? routed_rows : T, m.hidden, m.ffn, m.n_experts > 1 ? touched : 1);
  if (name == "down_proj") return gemm(m.n_experts > 1 ? routed_rows : T, m.ffn, m.hidden, m.n_experts > 1 ? touched : 1);
  if (name == "lm_head") return gemm(w.batch, m.hidden, m.vocab, 1);
  if (name == "rope") {
    const std::size_t width = static_cast<std::size_t>(m.q_dim() + 2 * m.kv_dim());
    DeviceTensor qkv = buf.make(static_cast<std::size_t>(T) * width);
    const AttentionShape s{w.batch, w.new_tokens, w.kv_len, w.kv_len + w.new_tokens, m.n_heads, m.n_kv_heads, m.head_dim};
    return [&be, qkv, s, width, m]() mutable {
      be.rope(qkv, Columns{0, width}, m.n_heads, s, 10000.0f);
      be.rope(qkv, Columns{static_cast<std::size_t>(m.q_dim()), width}, m.n_kv_heads, s, 10000.0f);
    };
  }
  if (name == "attention") {
    const std::size_t width = static_cast<std::size_t>(m.q_dim() + 2 * m.kv_dim());
    const AttentionShape s{w.batch, w.new_tokens, w.kv_len, w.kv_len + w.new_tokens, m.n_heads, m.n_kv_heads, m.head_dim};
    DeviceTensor qkv = buf.make(static_cast<std::size_t>(T) * width), out = buf.make(static_cast<std::size_t>(T) * m.q_dim());
    DeviceTensor k = buf.make(static_cast<std::size_t>(s.batch) * s.max_len * m.kv_dim());
    DeviceTensor v = buf.make(k.size());
    return [&be, qkv, out, k, v, s, width, m]() mutable {
      be.kv_append(k, qkv, Columns{static_cast<std::size_t>(m.q_dim()), width}, s);
      be.kv_append(v, qkv, Columns{static_cast<std::size_t>(m.q_dim() + m.kv_dim()), width}, s);
      be.attention(out, qkv, Columns{0, width}, k, v, s);
    };
  }
  if (name == "silu_mul") {
    const int rows = T * m.experts_per_token;
    DeviceTensor gu = buf.make(static_cast<std::size_t>(rows) * 2 * f), out = buf.make(static_cast<std::size_t>(rows) * f);
    return [&be, gu, out, rows, m]() mutable { be.silu_mul(out, gu, rows, m.ffn); };
  }
  if (name == "gelu") {
    const std::size_t n = static_cast<std::size_t>(T) * m.experts_per_token * f;
    DeviceTensor x = buf.make(n), out = buf.make(n);
    return [&be, x, out, n]() mutable { be.gelu(out, x, n); };
  }
  if (name == "residual_attn" || name == "residual_mlp") {
    const std::size_t n = static_cast<std::size_t>(T) * h;
    DeviceTensor a = buf.make(n), b = buf.make(n);
    return [&be, a, b, n]() mutable { be.add(a, a, b, n); };
  }
  if (name == "embedding") {
    DeviceTensor table = buf.make(static_cast<std::size_t>(m.vocab) * h), out = buf.make(static_cast<std::size_t>(T) * h);
    std::vector<int> ids(static_cast<std::size_t>(T));
    for (int i = 0; i < T; ++i) ids[static_cast<std::size_t>(i)] = static_cast<int>((i * 7919L) % m.vocab);
    return [&be, table, out, ids, m]() mutable { be.embedding(out, table, ids, m.hidden); };
  }
  if (name == "sample") {
    DeviceTensor x = buf.make(static_cast<std::size_t>(w.batch) * m.vocab), out = buf.make(x.size());
    return [&be, x, out, w, m]() mutable { be.softmax_rows(out, x, w.batch, m.vocab); };
  }
  throw std::invalid_argument(std::string("measure_op: no kernel for op \"") + name + "\"");
}

}  // namespace

ProfiledDevice measure_cpu_peaks() {
  ProfiledDevice d;
  d.kind = DeviceKind::Cpu;
  const long iters = 20'000'000;
  std::string unit;
  if (__builtin_cpu_supports("avx512f")) {
    d.peak_flops = parallel_flops_per_s(fma_avx512, iters);
    unit = "AVX-512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    d.peak_flops = parallel_flops_per_s(fma_avx2, iters);
    unit = "AVX2 FMA";
  } else {
    d.peak_flops = parallel_flops_per_s(fma_sse, iters);
    unit = "SSE";
  }
  d.memory_bandwidth = stream_triad_bytes_per_s();
  d.peaks_source = "measured: FP32 " + unit + " FMA chains on " + std::to_string(omp_get_max_threads()) +
                   " threads, best of 5; STREAM triad (2 reads + 1 write per element), best of 10";
  return d;
}

ProfileEntry measure_op(Backend& be, const TransformerSpec& m, const OpCost& op, const BlockWork& work,
                        const MeasureOptions& o) {
  Buffers buf{be, {}};
  std::function<void()> run = runner(be, buf, m, op, work);
  run();  // warm-up: first touch of pages, library initialization
  be.synchronize();
  std::vector<double> times;
  const auto start = Clock::now();
  ProfileEntry e;
  while (static_cast<int>(times.size()) < o.max_runs) {
    const auto t0 = Clock::now();
    run();
    be.synchronize();
    times.push_back(since(t0));
    if (static_cast<int>(times.size()) < o.min_runs) continue;
    std::vector<double> s = times;
    std::sort(s.begin(), s.end());
    const double med = s[s.size() / 2], q1 = s[s.size() / 4], q3 = s[(3 * s.size()) / 4];
    e.median_s = med;
    e.spread = (q3 - q1) / med;
    if (e.spread < o.target_spread || since(start) > o.budget_s) break;
  }
  e.op = op.name;
  e.cls = op.cls;
  e.work = work;
  e.flops = op.flops;
  e.bytes = op.bytes;
  e.runs = static_cast<int>(times.size());
  return e;
}

OpProfile profile_model(Backend& be, const ProfiledDevice& device, const TransformerSpec& model,
                        const ProfileShapes& shapes, const MeasureOptions& o,
                        const std::function<void(const ProfileEntry&)>& on_entry) {
  // Ops are counted at the backend's own storage dtype, so that measured efficiencies are exact.
  TransformerSpec m = model;
  m.weight_dtype = be.storage();
  m.activation_dtype = be.storage();
  OpProfile p;
  p.backend = be.name();
  p.device = device;
  p.model = model.name;
  p.storage = std::string(dtype_name(be.storage()));
  const auto add = [&](const OpList& ops, const BlockWork& w) {
    for (const OpCost& op : ops) {
      p.entries.push_back(measure_op(be, m, op, w, o));
      if (on_entry) on_entry(p.entries.back());
    }
  };
  for (int b : shapes.batches) {
    for (int t : shapes.prompts) {
      add(block_ops(m, {b, t, 0}), {b, t, 0});
      add(embed_ops(m, b, t), {b, t, 0});
    }
    for (int kv : shapes.kv_lens) add(block_ops(m, {b, 1, kv}), {b, 1, kv});
    add(head_ops(m, b), {b, 1, 0});
  }
  return p;
}

}  // namespace swarmsim::gpu
