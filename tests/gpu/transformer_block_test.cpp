// A block decoding token by token with its KV cache equals the block run on the whole sequence, on
// every backend here; the CUDA block equals the CPU one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gpu/backend.hpp"
#include "gpu/transformer_block.hpp"

using namespace swarmsim::gpu;

namespace {

std::vector<float> input(const TransformerSpec& m, int rows, std::uint64_t stream) {
  std::vector<float> x(static_cast<std::size_t>(rows) * m.hidden);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = hashed_uniform(5, stream, i, -1, 1);
  return x;
}

}  // namespace

TEST(TransformerBlock, ReducedLlamaKeepsHeadDimAndGqaRatio) {
  const TransformerSpec m = reduced_width(*find_model("Llama-3-8B"), 16);
  EXPECT_EQ(m.name, "Llama-3-8B/16");
  EXPECT_EQ(m.head_dim, 128);
  EXPECT_EQ(m.n_kv_heads, 1);
  EXPECT_EQ(m.n_heads, 2);
  EXPECT_EQ(m.hidden, 256);
  EXPECT_EQ(m.ffn, 896);
}

namespace {

/// Two blocks of `m` on `be` over the whole sequence at once (`prompt` + `decode` tokens per
/// sequence), sequence-major; and, in `steps` when given, the same blocks run on the prompt and
/// then one token at a time with their KV caches growing.
std::vector<float> run_blocks(Backend& be, const TransformerSpec& m, int batch, int prompt, int decode,
                              std::vector<std::vector<float>>* steps, int* cache_len = nullptr) {
  const int total = prompt + decode;
  std::vector<TransformerBlock> blocks;
  for (int layer = 0; layer < 2; ++layer) blocks.emplace_back(be, m, generate_block_weights(m, 9, layer));
  const std::vector<float> all = input(m, batch * total, 1);
  const auto rows_of = [&](int from, int count) {  // tokens [from, from + count) of each sequence
    std::vector<float> x;
    for (int b = 0; b < batch; ++b)
      x.insert(x.end(), all.begin() + (static_cast<std::size_t>(b) * total + from) * m.hidden,
               all.begin() + (static_cast<std::size_t>(b) * total + from + count) * m.hidden);
    return x;
  };
  std::vector<float> full(static_cast<std::size_t>(batch) * total * m.hidden);
  {
    std::vector<KvCache> caches;
    for (int l = 0; l < 2; ++l) caches.emplace_back(be, batch, total, m.kv_dim());
    DeviceTensor x = be.alloc(full.size());
    be.upload(x, all);
    for (int l = 0; l < 2; ++l) blocks[l].forward(x, caches[l], batch, total);
    be.download(x, full);
  }
  if (!steps) return full;
  std::vector<KvCache> caches;
  for (int l = 0; l < 2; ++l) caches.emplace_back(be, batch, total, m.kv_dim());
  for (int pos = 0; pos < total;) {
    const int count = pos == 0 ? prompt : 1;
    const std::vector<float> in = rows_of(pos, count);
    DeviceTensor x = be.alloc(in.size());
    be.upload(x, in);
    for (int l = 0; l < 2; ++l) blocks[l].forward(x, caches[l], batch, count);
    std::vector<float> out(in.size());
    be.download(x, out);
    steps->push_back(out);
    pos += count;
  }
  if (cache_len) *cache_len = caches[0].len;
  return full;
}

/// Error allowed relative to the activations' scale: FP32 storage differs only in summation
/// order (OpenBLAS blocks by rows); BF16 storage rounds every op's output to 8 bits of mantissa
/// (0.4%), through two blocks of about ten ops each.
double tolerance(const Backend& be) { return be.storage() == DType::F32 ? 1e-5 : 3e-2; }

/// Why backend `name` cannot run here, from make_backend's exception (e.g. no CUDA device).
std::string why_unavailable(const std::string& name) {
  try {
    (void)make_backend(name);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "make_backend succeeds but available_backends() does not list it";
}

class TransformerBlockOn : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto names = available_backends();
    if (std::find(names.begin(), names.end(), GetParam()) == names.end())
      GTEST_SKIP() << GetParam() << " backend not available here: " << why_unavailable(GetParam());
    be_ = make_backend(GetParam());
  }
  std::unique_ptr<Backend> be_;
};

}  // namespace

TEST_P(TransformerBlockOn, DecodeTokenByTokenEqualsWholeSequence) {
  const TransformerSpec m = reduced_width(*find_model("Llama-3-8B"), 16);
  const int batch = 2, prompt = 5, decode = 4, total = prompt + decode;
  std::vector<std::vector<float>> steps;
  int cache_len = 0;
  const std::vector<float> full = run_blocks(*be_, m, batch, prompt, decode, &steps, &cache_len);
  EXPECT_EQ(cache_len, total);
  // Compare every token's output.
  double worst = 0, scale = 0;
  int pos = 0;
  for (const auto& out : steps) {
    const int count = static_cast<int>(out.size() / (batch * m.hidden));
    for (int b = 0; b < batch; ++b)
      for (int t = 0; t < count; ++t)
        for (int d = 0; d < m.hidden; ++d) {
          const float a = out[(static_cast<std::size_t>(b) * count + t) * m.hidden + d];
          const float e = full[(static_cast<std::size_t>(b) * total + pos + t) * m.hidden + d];
          worst = std::max(worst, double(std::abs(a - e)));
          scale = std::max(scale, double(std::abs(e)));
        }
    pos += count;
  }
  EXPECT_LT(worst, tolerance(*be_) * scale) << be_->name() << ": worst " << worst << " scale " << scale;
  EXPECT_GT(scale, 0.1);  // the comparison is of real values, not zeros
  std::printf("[ block    ] %s: decode vs whole sequence, worst |diff| %.3g of scale %.3g (%.2e relative)\n", be_->name().c_str(),
              worst, scale, worst / scale);
}

INSTANTIATE_TEST_SUITE_P(Backends, TransformerBlockOn, ::testing::Values("cpu", "cuda"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The CUDA block (BF16 storage, FP32 accumulation) against the CPU backend's (FP32) on the same
// weights and inputs: the whole sequence through two blocks.
TEST(TransformerBlock, CudaMatchesTheCpuBackend) {
  const auto names = available_backends();
  if (std::find(names.begin(), names.end(), "cuda") == names.end())
    GTEST_SKIP() << "cuda backend not available here: " << why_unavailable("cuda");
  const TransformerSpec m = reduced_width(*find_model("Llama-3-8B"), 16);
  auto cpu = make_backend("cpu"), cuda = make_backend("cuda");
  const std::vector<float> want = run_blocks(*cpu, m, 2, 9, 0, nullptr), got = run_blocks(*cuda, m, 2, 9, 0, nullptr);
  ASSERT_EQ(got.size(), want.size());
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, double(std::abs(got[i] - want[i])));
    scale = std::max(scale, double(std::abs(want[i])));
  }
  EXPECT_LT(worst, tolerance(*cuda) * scale) << "worst " << worst << " scale " << scale;
  EXPECT_GT(scale, 0.1);
  std::printf("[ block    ] cuda vs cpu, whole sequence: worst |diff| %.3g of scale %.3g (%.2e relative)\n", worst, scale, worst / scale);
}

TEST(TransformerBlock, WeightsAreDeterministicAndDifferPerLayer) {
  const TransformerSpec m = reduced_width(*find_model("Llama-3-8B"), 16);
  const auto a = generate_block_weights(m, 3, 0), b = generate_block_weights(m, 3, 0), c = generate_block_weights(m, 3, 1);
  EXPECT_EQ(a.w_qkv, b.w_qkv);
  EXPECT_NE(a.w_qkv, c.w_qkv);
  // Same shapes as the spec's block (biases aside).
  EXPECT_DOUBLE_EQ(a.params(), m.block_params());
}
