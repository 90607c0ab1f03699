// A block decoding token by token with its KV cache equals the block run on the whole sequence.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu/backend.hpp"
#include "gpu/transformer_block.hpp"

using namespace swarmsim::gpu;

namespace {

struct Fixture {
  TransformerSpec model = reduced_width(*find_model("Llama-3-8B"), 16);
  std::unique_ptr<Backend> be = make_backend("cpu");
};

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

TEST(TransformerBlock, DecodeTokenByTokenEqualsWholeSequence) {
  Fixture s;
  const TransformerSpec& m = s.model;
  const int batch = 2, prompt = 5, decode = 4, total = prompt + decode;
  std::vector<TransformerBlock> blocks;
  for (int layer = 0; layer < 2; ++layer) blocks.emplace_back(*s.be, m, generate_block_weights(m, 9, layer));

  // Sequence-major token inputs for the whole sequence.
  const std::vector<float> all = input(m, batch * total, 1);
  const auto rows_of = [&](int from, int count) {  // tokens [from, from + count) of each sequence
    std::vector<float> x;
    for (int b = 0; b < batch; ++b)
      x.insert(x.end(), all.begin() + (static_cast<std::size_t>(b) * total + from) * m.hidden,
               all.begin() + (static_cast<std::size_t>(b) * total + from + count) * m.hidden);
    return x;
  };

  // Whole sequence at once.
  std::vector<float> full(static_cast<std::size_t>(batch) * total * m.hidden);
  {
    std::vector<KvCache> caches;
    for (int l = 0; l < 2; ++l) caches.emplace_back(*s.be, batch, total, m.kv_dim());
    DeviceTensor x = s.be->alloc(full.size());
    s.be->upload(x, all);
    for (int l = 0; l < 2; ++l) blocks[l].forward(x, caches[l], batch, total);
    s.be->download(x, full);
  }
  // Prefill then one token at a time.
  std::vector<KvCache> caches;
  for (int l = 0; l < 2; ++l) caches.emplace_back(*s.be, batch, total, m.kv_dim());
  std::vector<std::vector<float>> steps;
  for (int pos = 0; pos < total;) {
    const int count = pos == 0 ? prompt : 1;
    const std::vector<float> in = rows_of(pos, count);
    DeviceTensor x = s.be->alloc(in.size());
    s.be->upload(x, in);
    for (int l = 0; l < 2; ++l) blocks[l].forward(x, caches[l], batch, count);
    std::vector<float> out(in.size());
    s.be->download(x, out);
    steps.push_back(out);
    pos += count;
  }
  EXPECT_EQ(caches[0].len, total);
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
  // FP32 with different summation orders (OpenBLAS blocks by rows): 1e-5 of the activations' scale.
  EXPECT_LT(worst, 1e-5 * scale) << "worst " << worst << " scale " << scale;
  EXPECT_GT(scale, 0.1);  // the comparison is of real values, not zeros
}

TEST(TransformerBlock, WeightsAreDeterministicAndDifferPerLayer) {
  const TransformerSpec m = reduced_width(*find_model("Llama-3-8B"), 16);
  const auto a = generate_block_weights(m, 3, 0), b = generate_block_weights(m, 3, 0), c = generate_block_weights(m, 3, 1);
  EXPECT_EQ(a.w_qkv, b.w_qkv);
  EXPECT_NE(a.w_qkv, c.w_qkv);
  // Same shapes as the spec's block (biases aside).
  EXPECT_DOUBLE_EQ(a.params(), m.block_params());
}
