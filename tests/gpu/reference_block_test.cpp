// The reference Llama block in double precision: its forward is the CPU backend's block, its
// backward matches finite differences, and block_backward_ops prices exactly the products it does.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu/adapter.hpp"
#include "gpu/backend.hpp"
#include "gpu/block_ops.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/reference_block.hpp"
#include "gpu/transformer_block.hpp"
#include "tests/gpu/finite_difference.hpp"
#include "tests/gpu/tiny_llama.hpp"

using namespace swarmsim::gpu;
using swarmsim::test::tiny_llama;

namespace {

std::vector<double> values(std::uint64_t stream, std::size_t n) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = hashed_uniform(91, stream, i, -1.0f, 1.0f);
  return v;
}

}  // namespace

TEST(ReferenceBlock, ForwardIsTheCpuBackendsBlock) {
  const TransformerSpec m = tiny_llama();
  const BlockWeightsHost w = generate_block_weights(m, 5, 0);
  const int batch = 2, tokens = 5, rows = batch * tokens;
  const std::vector<double> x = values(1, static_cast<std::size_t>(rows) * m.hidden);
  const std::vector<double> y = ReferenceBlock(m, w).forward(x, batch, tokens);

  const auto be = make_backend("cpu");
  TransformerBlock block(*be, m, w);
  KvCache cache(*be, batch, tokens, m.kv_dim());
  DeviceTensor t = be->alloc(x.size());
  be->upload(t, std::vector<float>(x.begin(), x.end()));
  block.forward(t, cache, batch, tokens);
  std::vector<float> got(x.size());
  be->download(t, got);
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(got[i], y[i], 1e-4 * (1.0 + std::fabs(y[i]))) << "element " << i;
}

TEST(ReferenceBlock, BackwardMatchesFiniteDifferences) {
  const TransformerSpec m = tiny_llama();
  ReferenceBlock block(m, generate_block_weights(m, 6, 0));
  const int batch = 2, tokens = 4;
  std::vector<double> x = values(2, static_cast<std::size_t>(batch) * tokens * m.hidden);
  const std::vector<double> r = values(3, x.size());  // L = sum(y * r), so dL/dy = r
  const auto loss = [&] {
    const std::vector<double> y = block.forward(x, batch, tokens);
    double s = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * r[i];
    return s;
  };
  const std::vector<double> dx = block.backward(x, r, batch, tokens);
  for (std::size_t i = 0; i < x.size(); i += 5) {
    EXPECT_NEAR(dx[i], swarmsim::test::central_difference(x, i, loss), 1e-6 * (1.0 + std::fabs(dx[i]))) << "element " << i;
  }
}

TEST(ReferenceBlock, BlockBackwardOpsPriceExactlyTheProductsTheBackwardDoes) {
  const TransformerSpec m = tiny_llama();
  ReferenceBlock block(m, generate_block_weights(m, 7, 0));
  const int batch = 3, tokens = 6;
  const std::vector<double> x = values(4, static_cast<std::size_t>(batch) * tokens * m.hidden);
  block.backward(x, values(5, x.size()), batch, tokens);
  const OpList ops = block_backward_ops(m, BlockWork{batch, tokens, 0});
  EXPECT_DOUBLE_EQ(ops.flops(OpClass::Gemm), 2.0 * static_cast<double>(block.weight_product_madds()));
  const double pairs = batch * tokens * (tokens + 1) / 2.0;
  EXPECT_DOUBLE_EQ(ops.flops(OpClass::Attention) - 8.0 * m.n_heads * pairs, 2.0 * static_cast<double>(block.attention_madds()));
}
