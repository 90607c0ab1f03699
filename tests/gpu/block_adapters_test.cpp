// Adapters inside the reference Llama block (seed 002, eq. 5 and 6): a block with LoRA computes
// the block whose weights are eq. 6's merged W', fresh adapters leave it unchanged, and every
// adapter gradient matches finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu/block_adapters.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/reference_block.hpp"
#include "gpu/transformer_block.hpp"
#include "tests/gpu/finite_difference.hpp"
#include "tests/gpu/tiny_llama.hpp"

using namespace swarmsim::gpu;
using swarmsim::test::tiny_llama;

namespace {

std::vector<double> values(std::uint64_t stream, std::size_t n, double bound = 1.0) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = hashed_uniform(77, stream, i, static_cast<float>(-bound), static_cast<float>(bound));
  return v;
}

constexpr unsigned kAllTargets = kLoraQkv | kLoraO | kLoraGateUp | kLoraDown;

/// Adapters with their zero factor drawn too, so that they change the block.
BlockAdapters trained_adapters(const TransformerSpec& m, const AdapterSpec& spec) {
  BlockAdapters ad = BlockAdapters::make(m, spec, 2.0 * spec.rank, 3);
  std::uint64_t stream = 40;
  for (std::optional<LoraFactors>* f : {&ad.qkv, &ad.o, &ad.gate_up, &ad.down})
    if (*f) (*f)->b = values(stream++, (*f)->b.size(), 0.3);
  if (ad.bottleneck) {
    ad.bottleneck->w2 = values(50, ad.bottleneck->w2.size(), 0.3);
    ad.bottleneck->gain = values(51, ad.bottleneck->gain.size(), 1.0);
    for (double& g : ad.bottleneck->gain) g += 1.5;
    ad.bottleneck->bias = values(52, ad.bottleneck->bias.size(), 0.2);
  }
  return ad;
}

/// W + s B A (eq. 6) in the block's float layout.
std::vector<float> merged(const std::vector<float>& w, const std::optional<LoraFactors>& f) {
  std::vector<float> out = w;
  if (!f) return out;
  for (int o = 0; o < f->n_out; ++o)
    for (int j = 0; j < f->n_in; ++j) {
      double s = 0.0;
      for (int k = 0; k < f->rank; ++k) s += f->b[static_cast<std::size_t>(o) * f->rank + k] * f->a[static_cast<std::size_t>(k) * f->n_in + j];
      out[static_cast<std::size_t>(o) * f->n_in + j] = static_cast<float>(w[static_cast<std::size_t>(o) * f->n_in + j] + f->scale * s);
    }
  return out;
}

}  // namespace

TEST(BlockAdapters, LoraOnEveryProjectionComputesTheBlockWithEq6sMergedWeights) {
  const TransformerSpec m = tiny_llama();
  const BlockWeightsHost w = generate_block_weights(m, 8, 0);
  const BlockAdapters ad = trained_adapters(m, AdapterSpec{AdapterKind::Lora, 3, kAllTargets});
  BlockWeightsHost wm = w;
  wm.w_qkv = merged(w.w_qkv, ad.qkv);
  wm.w_o = merged(w.w_o, ad.o);
  wm.w_gate_up = merged(w.w_gate_up, ad.gate_up);
  wm.w_down = merged(w.w_down, ad.down);
  const int batch = 2, tokens = 5;
  const std::vector<double> x = values(1, static_cast<std::size_t>(batch) * tokens * m.hidden);
  const std::vector<double> adapted = ReferenceBlock(m, w).forward(x, batch, tokens, &ad);
  const std::vector<double> base = ReferenceBlock(m, w).forward(x, batch, tokens);
  const std::vector<double> want = ReferenceBlock(m, wm).forward(x, batch, tokens);
  double moved = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(adapted[i], want[i], 1e-5 * (1.0 + std::fabs(want[i]))) << "element " << i;
    moved = std::max(moved, std::fabs(adapted[i] - base[i]));
  }
  EXPECT_GT(moved, 1e-2);  // the adapters did change the block
}

TEST(BlockAdapters, FreshAdaptersLeaveTheBlockUnchanged) {
  const TransformerSpec m = tiny_llama();
  const ReferenceBlock block(m, generate_block_weights(m, 9, 0));
  const std::vector<double> x = values(2, static_cast<std::size_t>(6) * m.hidden);
  const std::vector<double> base = block.forward(x, 2, 3);
  const BlockAdapters lora = BlockAdapters::make(m, AdapterSpec{AdapterKind::Lora, 4, kAllTargets}, 8.0, 1);
  EXPECT_EQ(block.forward(x, 2, 3, &lora), base);  // B = 0: exactly the base block
  // A fresh bottleneck adapter (W2 = 0) is eq. 5's LayerNorm of the block's output.
  const BlockAdapters bn = BlockAdapters::make(m, AdapterSpec{AdapterKind::Bottleneck, 4, 0}, 4.0, 1);
  const std::vector<double> y = block.forward(x, 2, 3, &bn);
  for (int r = 0; r < 6; ++r) {
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < m.hidden; ++i) mean += base[static_cast<std::size_t>(r) * m.hidden + i] / m.hidden;
    for (int i = 0; i < m.hidden; ++i) var += std::pow(base[static_cast<std::size_t>(r) * m.hidden + i] - mean, 2) / m.hidden;
    for (int i = 0; i < m.hidden; ++i) {
      const std::size_t k = static_cast<std::size_t>(r) * m.hidden + i;
      EXPECT_NEAR(y[k], (base[k] - mean) / std::sqrt(var + 1e-5), 1e-9);
    }
  }
}

class BlockAdapterGradients : public ::testing::TestWithParam<AdapterSpec> {};

TEST_P(BlockAdapterGradients, MatchFiniteDifferences) {
  const TransformerSpec m = tiny_llama();
  ReferenceBlock block(m, generate_block_weights(m, 10, 0));
  BlockAdapters ad = trained_adapters(m, GetParam());
  const int batch = 2, tokens = 3;
  std::vector<double> x = values(3, static_cast<std::size_t>(batch) * tokens * m.hidden);
  const std::vector<double> r = values(4, x.size());  // L = sum(y * r)
  const auto loss = [&] {
    const std::vector<double> y = block.forward(x, batch, tokens, &ad);
    double s = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * r[i];
    return s;
  };
  const std::vector<double> dx = block.backward(x, r, batch, tokens, &ad);
  const auto check = [&](std::vector<double>& theta, double analytic, std::size_t i, const char* what) {
    EXPECT_NEAR(analytic, swarmsim::test::central_difference(theta, i, loss), 1e-6 * (1.0 + std::fabs(analytic))) << what << " element " << i;
  };
  for (std::size_t i = 0; i < x.size(); i += 7) check(x, dx[i], i, "x");
  int checked = 0;
  for (auto& [theta, grad] : ad.tensors()) {
    const std::vector<double> g = *grad;  // the backward's, before the probes run more forwards
    for (std::size_t i = 0; i < theta->size(); i += 1 + theta->size() / 9, ++checked) check(*theta, g[i], i, "adapter");
  }
  EXPECT_GT(checked, 20);
}

INSTANTIATE_TEST_SUITE_P(Adapters, BlockAdapterGradients,
                         ::testing::Values(AdapterSpec{AdapterKind::Lora, 2, kAllTargets}, AdapterSpec{AdapterKind::Lora, 3, kLoraQkv | kLoraO},
                                           AdapterSpec{AdapterKind::Bottleneck, 3, 0}),
                         [](const auto& info) { return std::string(info.param.kind == AdapterKind::Lora ? "Lora" : "Bottleneck") + std::to_string(info.index); });
