// Every CPU kernel against a naive double-precision reference on small shapes.
#include <gtest/gtest.h>

#include <numeric>

#include "gpu/cpu/cpu_backend.hpp"
#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/cpu/vector_math.hpp"
#include "gpu/transformer_block.hpp"
#include "tests/gpu/naive_reference.hpp"

using namespace swarmsim;
using namespace swarmsim::gpu;
using namespace swarmsim::testing;

namespace {

std::vector<float> random_vector(std::size_t n, std::uint64_t stream, float lo = -1, float hi = 1) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = hashed_uniform(42, stream, i, lo, hi);
  return v;
}

// FP32 kernels against FP64 references: |got - want| <= abs_tol + rel_tol * |want| everywhere.
void expect_close(std::span<const float> got, std::span<const float> want, double rel_tol, const char* what,
                  double abs_tol = 1e-7) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::abs(double(got[i]) - want[i]) > abs_tol + rel_tol * std::abs(double(want[i])) && bad++ == 0) first = i;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " elements off, first at " << first << ": got " << got[first]
                     << ", want " << want[first];
}

}  // namespace

TEST(CpuKernels, RmsNorm) {
  const int rows = 5, dim = 96;
  auto x = random_vector(rows * dim, 1), w = random_vector(dim, 2, 0.5, 1.5);
  std::vector<float> out(x.size());
  cpu::rmsnorm(out.data(), x.data(), w.data(), rows, dim, 1e-5f);
  expect_close(out, ref_rmsnorm(x, w, rows, dim, 1e-5), 1e-5, "rmsnorm");
}

TEST(CpuKernels, MatmulOpenBlasAndNaiveTwin) {
  for (const int rows : {7, 1}) {  // one row: a decode step, through sgemv
    const int n_in = 130, n_out = 33;
    auto x = random_vector(rows * n_in, 3), w = random_vector(n_out * n_in, 4);
    std::vector<float> blas(rows * n_out), naive(rows * n_out);
    cpu::matmul(blas.data(), x.data(), w.data(), rows, n_in, n_out);
    cpu::matmul_naive(naive.data(), x.data(), w.data(), rows, n_in, n_out);
    const auto ref = ref_matmul(x, w, rows, n_in, n_out);
    expect_close(blas, ref, 1e-4, rows == 1 ? "openblas sgemv" : "openblas");
    expect_close(naive, ref, 1e-6, "naive");
  }
}

TEST(CpuKernels, RopeRotatesPairsByPosition) {
  const AttentionShape s{2, 3, 4, 16, 2, 1, 8};
  const Columns cols{4, 24};  // 2 heads of 8 at column 4 of a 24-wide row
  auto x = random_vector(s.rows() * cols.stride, 5);
  auto got = x;
  cpu::rope(got.data(), cols, 2, s, 10000.0f);
  expect_close(got, ref_rope(x, cols, 2, s, 10000.0), 1e-5, "rope");
  // Columns outside the view are untouched.
  for (int r = 0; r < s.rows(); ++r)
    for (std::size_t c : {0u, 1u, 2u, 3u, 20u, 23u}) EXPECT_EQ(got[r * cols.stride + c], x[r * cols.stride + c]);
}

TEST(CpuKernels, AttentionPrefillAndDecodeWithGroupedHeads) {
  for (const AttentionShape s : {AttentionShape{2, 5, 0, 12, 4, 2, 8}, AttentionShape{3, 1, 9, 12, 4, 1, 8},
                                 AttentionShape{1, 3, 4, 12, 2, 2, 16}}) {
    const Columns q_cols{0, static_cast<std::size_t>(s.q_dim())};
    auto q = random_vector(s.rows() * s.q_dim(), 6);
    auto k = random_vector(s.batch * s.max_len * s.kv_dim(), 7), v = random_vector(k.size(), 8);
    std::vector<float> out(s.rows() * s.q_dim());
    cpu::attention(out.data(), q.data(), q_cols, k.data(), v.data(), s);
    expect_close(out, ref_attention(q, q_cols, k, v, s), 1e-5, "attention");
  }
}

TEST(CpuKernels, KvAppendWritesTheStepsPositions) {
  const AttentionShape s{2, 2, 3, 8, 2, 1, 4};
  const Columns cols{4, 12};
  auto x = random_vector(s.rows() * 12, 9);
  std::vector<float> cache(s.batch * s.max_len * s.kv_dim(), -7.0f);
  cpu::kv_append(cache.data(), x.data(), cols, s);
  for (int r = 0; r < s.rows(); ++r)
    for (int d = 0; d < s.kv_dim(); ++d)
      EXPECT_EQ(cache[((r / 2) * s.max_len + 3 + r % 2) * s.kv_dim() + d], x[r * 12 + 4 + d]);
  EXPECT_EQ(cache[0], -7.0f);  // position 0 untouched
}

TEST(CpuKernels, Elementwise) {
  const int rows = 3, width = 40;
  auto gu = random_vector(rows * 2 * width, 10, -4, 4);
  std::vector<float> out(rows * width);
  cpu::silu_mul(out.data(), gu.data(), rows, width);
  expect_close(out, ref_silu_mul(gu, rows, width), 1e-5, "silu_mul");
  auto x = random_vector(100, 11, -5, 5);
  std::vector<float> g(100);
  cpu::gelu(g.data(), x.data(), 100);
  // 1 + tanh(.) cancels for inputs near -5 in FP32: about 3 ulps of the input's magnitude absolute.
  expect_close(g, ref_gelu_tanh(x), 1e-5, "gelu", 1e-6);
  std::vector<float> sm(100);
  cpu::softmax_rows(sm.data(), x.data(), 4, 25);
  expect_close(sm, ref_softmax(x, 4, 25), 1e-5, "softmax");
  std::vector<float> sum(100);
  cpu::add(sum.data(), x.data(), g.data(), 100);
  for (int i = 0; i < 100; ++i) EXPECT_FLOAT_EQ(sum[i], x[i] + g[i]);
}

TEST(CpuKernels, EmbeddingGathersRows) {
  auto table = random_vector(10 * 6, 12);
  const std::vector<int> ids{3, 0, 9, 3};
  std::vector<float> out(ids.size() * 6);
  cpu::embedding(out.data(), table.data(), ids, 6);
  for (std::size_t r = 0; r < ids.size(); ++r)
    for (int d = 0; d < 6; ++d) EXPECT_EQ(out[r * 6 + d], table[ids[r] * 6 + d]);
}

// Quantize -> dequantize error is bounded by absmax/127 of the block (in fact by half of it:
// rounding to the nearest of 255 levels).
TEST(CpuKernels, BlockwiseQuantizationErrorBound) {
  for (int block : {64, 32, 100}) {
    auto x = random_vector(1000, 13, -3, 3);
    x[17] = 80.0f;  // an outlier costs precision only in its own block
    std::vector<std::int8_t> q(x.size());
    std::vector<float> scales((x.size() + block - 1) / block), back(x.size());
    cpu::quantize_blockwise(q.data(), scales.data(), x.data(), x.size(), block);
    cpu::dequantize_blockwise(back.data(), q.data(), scales.data(), x.size(), block);
    for (std::size_t b = 0; b * block < x.size(); ++b) {
      float absmax = 0;
      for (std::size_t i = b * block; i < std::min(x.size(), (b + 1) * block); ++i) absmax = std::max(absmax, std::abs(x[i]));
      EXPECT_FLOAT_EQ(scales[b], absmax / 127.0f);
      for (std::size_t i = b * block; i < std::min(x.size(), (b + 1) * block); ++i) {
        EXPECT_LE(std::abs(back[i] - x[i]), absmax / 127.0f) << "block " << block << " i " << i;
        EXPECT_LE(std::abs(back[i] - x[i]), absmax / 254.0f * 1.0001f) << "block " << block << " i " << i;
      }
    }
  }
}

// The vectorizable e^x of the softmax, SiLU and attention kernels: within 2 ulp of FP64 exp over
// the whole range where e^x is a normal float (sampled every 1e-4 of the argument, relative),
// 0 below it, infinity above, NaN for NaN; and the rounding it uses is nearbyint's.
TEST(CpuKernels, VectorExpIsWithinTwoUlpOfExp) {
  double worst_ulp = 0.0;
  float worst_at = 0.0f;
  int samples = 0;
  for (float x = -87.33f; x < 88.72f; x += std::max(1e-6f, 1e-4f * std::abs(x)), ++samples) {
    const double want = std::exp(static_cast<double>(x));
    const float wantf = static_cast<float>(want);
    const double ulp = std::nextafter(wantf, INFINITY) - wantf;
    const double err = std::abs(cpu::exp_approx(x) - want) / ulp;
    if (err > worst_ulp) {
      worst_ulp = err;
      worst_at = x;
    }
  }
  EXPECT_GT(samples, 150000);
  EXPECT_LE(worst_ulp, 2.0) << "at x = " << worst_at;
  EXPECT_EQ(cpu::exp_approx(0.0f), 1.0f);
  EXPECT_EQ(cpu::exp_approx(-100.0f), 0.0f);
  EXPECT_EQ(cpu::exp_approx(-INFINITY), 0.0f);
  EXPECT_EQ(cpu::exp_approx(100.0f), INFINITY);
  EXPECT_TRUE(std::isnan(cpu::exp_approx(NAN)));
  EXPECT_GT(cpu::exp_approx(88.72f), 3.3e38f);  // 2^128 split in two factors: no overflow
  for (const float v : {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 126.5f, -126.5f, 3.49f, -3.51f})
    EXPECT_EQ(cpu::round_to_nearest(v), std::nearbyint(v)) << v;
}

// Debian 12's OpenBLAS gives CPU models it does not know its generic SSE3 kernels; the CPU
// backend switches it to its AVX-512 or AVX2 ones where the CPU has them (and the user did not
// choose with OPENBLAS_CORETYPE), and the profile's device name says which ran.
TEST(CpuKernels, OpenBlasRunsVectorKernelsWhereTheCpuHasThem) {
  const std::string kernels = cpu::blas_kernels();
  EXPECT_FALSE(kernels.empty());
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_NE(kernels, "Prescott") << "OpenBLAS kept its generic kernels on a CPU with AVX2 and FMA";
  }
  EXPECT_NE(make_cpu_backend()->device_name().find("OpenBLAS " + kernels), std::string::npos);
}
