// Backend parity: every op of every backend ("cpu", "cuda") against the CPU reference twin
// (gpu/cpu/cpu_ops.hpp, called directly on FP32 host data) on the same inputs. One TEST_P over
// op x shape x backend; a backend that cannot run here is skipped with the reason it gives.
//
// Inputs come from hashed_uniform and are rounded to BF16 first, so that a BF16 backend stores
// exactly the values the FP32 twin computes with: the only differences left are the op's own
// arithmetic (FP32 in every backend, in another order) and the rounding of its BF16 output.
//
// Tolerances are |got - want| <= abs_tol + rel_tol * |want|, one pair for FP32-storage backends
// (the cpu backend runs the twin itself: tight) and one for BF16 storage. BF16 keeps 8
// significant bits, so rounding an FP32 result to BF16 moves it by at most 2^-9 of itself:
// kBf16Rel = 2^-8 (one BF16 ulp) allows that twice over. Every absolute part says what it covers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "gpu/backend.hpp"
#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/dtype.hpp"
#include "gpu/transformer_block.hpp"

using namespace swarmsim;
using namespace swarmsim::gpu;

namespace {

struct Tolerance {
  double abs_tol = 0, rel_tol = 0;
};

constexpr double kBf16Rel = 1.0 / 256;                  // one BF16 ulp: twice the output rounding
constexpr Tolerance kExact{0, 0};                        // copies: bit for bit on every backend
constexpr Tolerance kTwinItself{1e-7, 1e-6};             // the cpu backend calls the twin: identical in practice

/// `lo`..`hi` uniform values, rounded to BF16 so that every backend sees the same numbers.
std::vector<float> bf16_inputs(std::size_t n, std::uint64_t stream, float lo = -1, float hi = 1) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = bf16_to_float(float_to_bf16(hashed_uniform(2024, stream, i, lo, hi)));
  return v;
}

DeviceTensor put(Backend& be, const std::vector<float>& host) {
  DeviceTensor t = be.alloc(host.size());
  be.upload(t, host);
  return t;
}

std::vector<float> get(Backend& be, const DeviceTensor& t) {
  std::vector<float> host(t.size());
  be.download(t, host);
  return host;
}

/// The tolerance for `be`: FP32 storage runs the twin's arithmetic; BF16 storage rounds outputs.
Tolerance for_backend(const Backend& be, Tolerance f32_storage, Tolerance bf16_storage) {
  return be.storage() == DType::F32 ? f32_storage : bf16_storage;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, Tolerance tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0, first = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]);
    const double allowed = tol.abs_tol + tol.rel_tol * std::abs(double(want[i]));
    if (!(err <= allowed) && bad++ == 0) first = i;  // NaN counts as off
    worst = std::max(worst, err / std::max(allowed, 1e-30));
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " elements off (abs_tol " << tol.abs_tol
                     << ", rel_tol " << tol.rel_tol << "), first at " << first << ": got " << got[first] << ", want "
                     << want[first] << "; worst error / allowed = " << worst;
}

/// One op at one shape: runs it on a backend and checks it against the twin.
struct ParityCase {
  std::string name;
  std::function<void(Backend&)> check;
  friend void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.name; }
};

// ---- the cases ------------------------------------------------------------------------------

ParityCase rmsnorm_case(std::string name, int rows, int dim) {
  return {std::move(name), [=](Backend& be) {
            const auto x = bf16_inputs(static_cast<std::size_t>(rows) * dim, 1, -2, 2);
            const auto w = bf16_inputs(static_cast<std::size_t>(dim), 2, 0.5f, 1.5f);
            std::vector<float> want(x.size());
            cpu::rmsnorm(want.data(), x.data(), w.data(), rows, dim, 1e-5f);
            DeviceTensor dx = put(be, x), dw = put(be, w), out = be.alloc(x.size());
            be.rmsnorm(out, dx, dw, rows, dim, 1e-5f);
            // BF16: the sum of squares differs only by FP32 order (~1e-7 relative); the output rounding dominates.
            expect_close(get(be, out), want, for_backend(be, kTwinItself, {1e-6, kBf16Rel}), "rmsnorm");
          }};
}

ParityCase matmul_case(std::string name, int rows, int n_in, int n_out) {
  return {std::move(name), [=](Backend& be) {
            const auto x = bf16_inputs(static_cast<std::size_t>(rows) * n_in, 3);
            const auto w = bf16_inputs(static_cast<std::size_t>(n_out) * n_in, 4);
            std::vector<float> want(static_cast<std::size_t>(rows) * n_out);
            cpu::matmul_naive(want.data(), x.data(), w.data(), rows, n_in, n_out);  // double accumulator
            DeviceTensor dx = put(be, x), dw = put(be, w), out = be.alloc(want.size());
            be.matmul(out, dx, dw, rows, n_in, n_out);
            const double sqrt_k = std::sqrt(double(n_in));
            // Sums of K products of magnitude <= 1 (typical |out| ~ sqrt(K)/3) near zero by cancellation:
            // FP32: OpenBLAS accumulates in FP32 in blocked order, ~sqrt(K) ulps of the terms.
            // BF16: tensor-core FP32 accumulation is not round-to-nearest and its error grows with K;
            // 2e-4 sqrt(K) (0.013 at K = 4096, a tenth of a BF16 ulp at |out| ~ 21) bounds it with margin.
            expect_close(get(be, out), want, for_backend(be, {1e-6 * sqrt_k, 1e-5}, {2e-4 * sqrt_k, kBf16Rel}), "matmul");
          }};
}

/// A fused QKV activation [rows x (q_dim + 2 kv_dim)] and its column views.
struct FusedQkv {
  AttentionShape s;
  std::size_t stride() const { return static_cast<std::size_t>(s.q_dim() + 2 * s.kv_dim()); }
  Columns q() const { return {0, stride()}; }
  Columns k() const { return {static_cast<std::size_t>(s.q_dim()), stride()}; }
  Columns v() const { return {static_cast<std::size_t>(s.q_dim() + s.kv_dim()), stride()}; }
  std::size_t size() const { return static_cast<std::size_t>(s.rows()) * stride(); }
};

ParityCase rope_case(std::string name, AttentionShape s) {
  return {std::move(name), [=](Backend& be) {
            const FusedQkv f{s};
            const float theta = 500000.0f;  // Llama 3
            const auto x = bf16_inputs(f.size(), 5);
            auto want = x;
            cpu::rope(want.data(), f.q(), s.n_heads, s, theta);
            cpu::rope(want.data(), f.k(), s.n_kv_heads, s, theta);
            DeviceTensor dx = put(be, x);
            be.rope(dx, f.q(), s.n_heads, s, theta);
            be.rope(dx, f.k(), s.n_kv_heads, s, theta);
            // BF16: device powf/sincosf differ from glibc's by a few ulps, and the angle pos * freq carries
            // that error times the position: ~1e-4 absolute at position 300 for |x| <= 1. V columns are untouched.
            expect_close(get(be, dx), want, for_backend(be, kTwinItself, {1e-3, kBf16Rel}), "rope (q, k; v untouched)");
          }};
}

ParityCase kv_append_case(std::string name, AttentionShape s) {
  return {std::move(name), [=](Backend& be) {
            const FusedQkv f{s};
            const auto x = bf16_inputs(f.size(), 6);
            const auto old = bf16_inputs(static_cast<std::size_t>(s.batch) * s.max_len * s.kv_dim(), 7);
            auto want_k = old, want_v = old;
            cpu::kv_append(want_k.data(), x.data(), f.k(), s);
            cpu::kv_append(want_v.data(), x.data(), f.v(), s);
            DeviceTensor dx = put(be, x), k = put(be, old), v = put(be, old);
            be.kv_append(k, dx, f.k(), s);
            be.kv_append(v, dx, f.v(), s);
            expect_close(get(be, k), want_k, kExact, "kv_append k (and the positions it must not touch)");
            expect_close(get(be, v), want_v, kExact, "kv_append v");
          }};
}

ParityCase attention_case(std::string name, AttentionShape s) {
  return {std::move(name), [=](Backend& be) {
            const FusedQkv f{s};
            // Queries in +-3 make the softmax peaked enough that a wrong max or mask shows.
            const auto qkv = bf16_inputs(f.size(), 8, -3, 3);
            const std::size_t cache = static_cast<std::size_t>(s.batch) * s.max_len * s.kv_dim();
            const auto k = bf16_inputs(cache, 9), v = bf16_inputs(cache, 10);
            std::vector<float> want(static_cast<std::size_t>(s.rows()) * s.q_dim());
            cpu::attention(want.data(), qkv.data(), f.q(), k.data(), v.data(), s);
            DeviceTensor dq = put(be, qkv), dk = put(be, k), dv = put(be, v), out = be.alloc(want.size());
            be.attention(out, dq, f.q(), dk, dv, s);
            // BF16: scores and the weighted sum of V (|v| <= 1) in FP32 in another order, plus the merge of key
            // splits: ~1e-6 absolute over a few hundred keys; 1e-4 leaves margin. The output rounding dominates.
            expect_close(get(be, out), want, for_backend(be, kTwinItself, {1e-4, kBf16Rel}), "attention");
          }};
}

ParityCase silu_mul_case(std::string name, int rows, int width) {
  return {std::move(name), [=](Backend& be) {
            const auto gu = bf16_inputs(static_cast<std::size_t>(rows) * 2 * width, 11, -4, 4);
            std::vector<float> want(static_cast<std::size_t>(rows) * width);
            cpu::silu_mul(want.data(), gu.data(), rows, width);
            DeviceTensor dgu = put(be, gu), out = be.alloc(want.size());
            be.silu_mul(out, dgu, rows, width);
            // BF16: device expf vs glibc differ by an ulp or two (1e-7 relative); the output rounding dominates.
            expect_close(get(be, out), want, for_backend(be, kTwinItself, {1e-6, kBf16Rel}), "silu_mul");
          }};
}

ParityCase gelu_case(std::string name, std::size_t n) {
  return {std::move(name), [=](Backend& be) {
            const auto x = bf16_inputs(n, 12, -5, 5);
            std::vector<float> want(n);
            cpu::gelu(want.data(), x.data(), n);
            DeviceTensor dx = put(be, x), out = be.alloc(n);
            be.gelu(out, dx, n);
            // BF16: near x = -5, 1 + tanh(.) cancels, so a 1-ulp difference of device tanhf shows as ~1e-6 absolute.
            expect_close(get(be, out), want, for_backend(be, kTwinItself, {1e-5, kBf16Rel}), "gelu");
          }};
}

ParityCase add_case(std::string name, std::size_t n, bool in_place) {
  return {std::move(name), [=](Backend& be) {
            const auto a = bf16_inputs(n, 13, -4, 4), b = bf16_inputs(n, 14, -4, 4);
            std::vector<float> want(n);
            cpu::add(want.data(), a.data(), b.data(), n);
            DeviceTensor da = put(be, a), db = put(be, b);
            DeviceTensor out = in_place ? da : be.alloc(n);  // shares da's buffer when in place (the residual add)
            be.add(out, da, db, n);
            // BF16: the FP32 sum of two BF16 values is exact here; only its rounding to BF16 remains.
            expect_close(get(be, out), want, for_backend(be, kTwinItself, {1e-7, kBf16Rel}), in_place ? "add in place" : "add");
          }};
}

ParityCase softmax_case(std::string name, int rows, int cols, float range) {
  return {std::move(name), [=](Backend& be) {
            const auto x = bf16_inputs(static_cast<std::size_t>(rows) * cols, 15, -range, range);
            std::vector<float> want(x.size());
            cpu::softmax_rows(want.data(), x.data(), rows, cols);
            DeviceTensor dx = put(be, x), out = be.alloc(x.size());
            be.softmax_rows(out, dx, rows, cols);
            // BF16: an FP32 sum (the twin sums in double) moves every output by ~1e-6 relative; rounding dominates.
            expect_close(get(be, out), want, for_backend(be, kTwinItself, {1e-9, kBf16Rel}), "softmax_rows");
          }};
}

ParityCase embedding_case(std::string name, int vocab, int dim, std::vector<int> ids) {
  return {std::move(name), [=](Backend& be) {
            const auto table = bf16_inputs(static_cast<std::size_t>(vocab) * dim, 16);
            std::vector<float> want(ids.size() * dim);
            cpu::embedding(want.data(), table.data(), ids, dim);
            DeviceTensor dt = put(be, table), out = be.alloc(want.size());
            be.embedding(out, dt, ids, dim);
            expect_close(get(be, out), want, kExact, "embedding");
          }};
}

ParityCase quantize_case(std::string name, std::size_t n, int block) {
  return {std::move(name), [=](Backend& be) {
            auto x = bf16_inputs(n, 17, -3, 3);
            x[17] = 80.0f;  // an outlier: only its own block loses precision
            for (std::size_t i = 2 * block; i < std::min(n, std::size_t(3) * block); ++i) x[i] = 0.0f;  // scale 0 -> q 0
            const std::size_t n_blocks = (n + block - 1) / block;
            std::vector<std::int8_t> q(n);
            std::vector<float> want_scales(n_blocks), want(n);
            cpu::quantize_blockwise(q.data(), want_scales.data(), x.data(), n, block);
            cpu::dequantize_blockwise(want.data(), q.data(), want_scales.data(), n, block);
            DeviceTensor dx = put(be, x), dq = be.alloc(n, DType::Int8), scales = be.alloc(n_blocks, DType::F32);
            DeviceTensor back = be.alloc(n);
            be.quantize_blockwise(dq, scales, dx, n, block);
            be.dequantize_blockwise(back, dq, scales, n, block);
            // Every backend computes absmax / 127 and rint(x * (1 / scale)) with IEEE FP32 on the same
            // values: scales and q agree exactly; only the BF16 rounding of q * scale remains.
            expect_close(get(be, scales), want_scales, kExact, "quantize scales");
            expect_close(get(be, back), want, for_backend(be, kExact, {0, kBf16Rel}), "quantize -> dequantize");
          }};
}

std::vector<ParityCase> parity_cases() {
  // AttentionShape: batch, new_tokens, kv_len, max_len, n_heads, n_kv_heads, head_dim.
  return {
      rmsnorm_case("rmsnorm_decode_d4096", 1, 4096),
      rmsnorm_case("rmsnorm_prefill_r17_d1000", 17, 1000),
      matmul_case("matmul_decode_r1_k4096_n1024", 1, 4096, 1024),
      matmul_case("matmul_prefill_r64_k1000_n520", 64, 1000, 520),
      matmul_case("matmul_prefill_r64_k4096_n256", 64, 4096, 256),
      matmul_case("matmul_odd_r7_k130_n33", 7, 130, 33),
      rope_case("rope_prefill_gqa_hd64", {2, 5, 3, 16, 4, 2, 64}),
      rope_case("rope_decode_kv300_hd128", {2, 1, 300, 320, 8, 2, 128}),
      kv_append_case("kv_append_prefill", {2, 5, 3, 12, 4, 2, 16}),
      kv_append_case("kv_append_decode_kv300", {3, 1, 300, 301, 8, 2, 128}),
      attention_case("attention_prefill_gqa_hd64", {2, 7, 0, 16, 8, 2, 64}),
      attention_case("attention_prefill_after_cache_gqa_hd128", {1, 70, 30, 128, 4, 2, 128}),
      attention_case("attention_prefill_hd80_odd_heads", {1, 9, 5, 16, 3, 1, 80}),
      attention_case("attention_decode_gqa_kv300_hd64", {2, 1, 300, 320, 8, 2, 64}),
      attention_case("attention_decode_gqa_kv300_hd128", {1, 1, 300, 301, 32, 8, 128}),
      attention_case("attention_decode_mha_kv40_hd256", {3, 1, 40, 48, 2, 2, 256}),
      silu_mul_case("silu_mul_r4_w14336", 4, 14336),
      silu_mul_case("silu_mul_r3_w1001", 3, 1001),
      gelu_case("gelu_n4096", 4096),
      gelu_case("gelu_n1001", 1001),
      add_case("add_n4096", 4096, false),
      add_case("add_n1001", 1001, false),
      add_case("add_in_place_n4096", 4096, true),
      softmax_case("softmax_rows_r4_c1000", 4, 1000, 5),
      softmax_case("softmax_rows_vocab_r2_c128256", 2, 128256, 10),
      embedding_case("embedding_v50_d96", 50, 96, {3, 0, 49, 3, 17}),
      embedding_case("embedding_v20_d100", 20, 100, {19, 0, 7}),
      quantize_case("quantize_roundtrip_n1000_b64", 1000, 64),
      quantize_case("quantize_roundtrip_n4096_b128", 4096, 128),
  };
}

/// Why `name` cannot run here, from make_backend's exception.
std::string unavailable_reason(const std::string& name) {
  try {
    (void)make_backend(name);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "make_backend succeeds but available_backends() does not list it";
}

class BackendParity : public ::testing::TestWithParam<std::tuple<ParityCase, std::string>> {
 protected:
  void SetUp() override {
    const std::string& name = std::get<1>(GetParam());
    const auto names = available_backends();
    if (std::find(names.begin(), names.end(), name) == names.end())
      GTEST_SKIP() << name << " backend not available here: " << unavailable_reason(name);
    backend_ = make_backend(name);
  }
  std::unique_ptr<Backend> backend_;
};

}  // namespace

TEST_P(BackendParity, MatchesCpuTwin) {
  std::get<0>(GetParam()).check(*backend_);
  backend_->synchronize();
}

INSTANTIATE_TEST_SUITE_P(Ops, BackendParity,
                         ::testing::Combine(::testing::ValuesIn(parity_cases()), ::testing::Values("cpu", "cuda")),
                         [](const ::testing::TestParamInfo<BackendParity::ParamType>& info) {
                           return std::get<0>(info.param).name + "_" + std::get<1>(info.param);
                         });

// Without a usable device, asking for the CUDA backend fails loudly and says why.
TEST(CudaBackend, UnavailableCudaSaysWhy) {
  const auto names = available_backends();
  if (std::find(names.begin(), names.end(), "cuda") != names.end()) GTEST_SKIP() << "a CUDA device is available here";
  try {
    (void)make_backend("cuda");
    FAIL() << "make_backend(\"cuda\") succeeded although available_backends() does not list cuda";
  } catch (const std::runtime_error& e) {
    const std::string why = e.what();
    EXPECT_NE(why.find("CUDA"), std::string::npos) << why;
    EXPECT_GT(why.size(), 30u) << "too short to explain anything: " << why;
  }
}

// The buffers of the CUDA backend: zero-filled allocations of every dtype the ops use, exact
// round trips of BF16 values, and uploads it refuses.
TEST(CudaBackend, BuffersRoundTrip) {
  const auto names = available_backends();
  if (std::find(names.begin(), names.end(), "cuda") == names.end())
    GTEST_SKIP() << "cuda backend not available here: " << unavailable_reason("cuda");
  auto be = make_backend("cuda");
  EXPECT_EQ(be->name(), "cuda");
  EXPECT_EQ(be->storage(), DType::BF16);
  EXPECT_FALSE(be->device_name().empty());
  for (const DType t : {DType::BF16, DType::F32, DType::Int8}) {
    DeviceTensor z = be->alloc(1000, t);
    ASSERT_EQ(z.size(), 1000u);
    std::vector<float> host(1000, -1.0f);
    be->download(z, host);
    EXPECT_EQ(std::count(host.begin(), host.end(), 0.0f), 1000) << "alloc must zero-fill";
  }
  const auto values = bf16_inputs(777, 18, -100, 100);
  DeviceTensor b = be->alloc(values.size());
  be->upload(b, values);
  EXPECT_EQ(get(*be, b), values) << "BF16-representable values survive the round trip exactly";
  DeviceTensor f = be->alloc(3, DType::F32);
  const std::vector<float> precise{1.0f / 3, 1e-30f, 123456.789f};
  be->upload(f, precise);
  EXPECT_EQ(get(*be, f), precise);
  DeviceTensor q = be->alloc(3, DType::Int8);
  EXPECT_THROW(be->upload(q, precise), std::invalid_argument);
  EXPECT_THROW(be->upload(b, precise), std::invalid_argument);  // size mismatch
}
