// The fine-tuning loss proxy: its shape follows the served model's, a training step returns the loss
// before its update, and eq. 7 really lowers the held-out distillation loss with either optimizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gpu/fine_tuning_proxy.hpp"
#include "gpu/model_catalog.hpp"
#include "tests/gpu/finite_difference.hpp"

using namespace swarmsim::gpu;

TEST(ProxyModel, KeepsTheServedModelsDepthAndAttentionLayout) {
  const TransformerSpec p = proxy_model(*find_model("Llama-3-8B"), 32, 128);
  EXPECT_EQ(p.n_layers, 32);
  EXPECT_EQ(p.hidden, 32);
  EXPECT_EQ(p.n_heads, 4);
  EXPECT_EQ(p.n_kv_heads, 1);  // Llama-3-8B: 32 query heads share 8 key/value heads, groups of 4
  EXPECT_EQ(p.head_dim, 8);
  EXPECT_EQ(p.ffn, 112);       // 14336 / 4096 = 3.5 times the width
  EXPECT_EQ(p.vocab, 128);
  EXPECT_EQ(proxy_model(*find_model("Llama-2-70B"), 64, 16).n_layers, 80);
  EXPECT_THROW(proxy_model(*find_model("Mixtral-8x7B"), 32, 128), std::invalid_argument);
  EXPECT_THROW(proxy_model(*find_model("Llama-3-8B"), 36, 128), std::invalid_argument);
}

namespace {
TransformerSpec shallow_llama() {
  TransformerSpec m = *find_model("Llama-3-8B");
  m.n_layers = 4;
  return m;
}
}  // namespace

TEST(FineTuningProxy, AStepReturnsTheLossBeforeItsUpdateAndChangesTheAdapters) {
  FineTuningProxy p(shallow_llama(), AdapterSpec{AdapterKind::Lora, 4, kLoraQkv | kLoraO}, Optimizer::Adam, ProxyConfig{}, 3);
  FineTuningProxy::Adapters ad = p.initial();
  const std::vector<int> tokens = p.batch(0, 0);
  const std::vector<double> teacher = p.teacher(tokens);
  const double before = p.loss(ad, tokens, teacher);
  EXPECT_GT(before, 0.0);  // the teacher's adapters make it differ from the base model
  EXPECT_DOUBLE_EQ(p.step(ad, tokens, teacher), before);
  EXPECT_NE(p.loss(ad, tokens, teacher), before);
  EXPECT_EQ(p.loss(p.initial(), tokens, teacher), before);  // initial() is untouched
}

class ProxyLearning : public ::testing::TestWithParam<std::pair<AdapterKind, Optimizer>> {};

TEST_P(ProxyLearning, TrainingLowersTheHeldOutLoss) {
  const auto [kind, optimizer] = GetParam();
  ProxyConfig cfg;
  cfg.learning_rate = optimizer == Optimizer::Adam ? 1e-3 : 0.03;
  FineTuningProxy p(shallow_llama(), AdapterSpec{kind, 4, kLoraQkv | kLoraO | kLoraDown}, optimizer, cfg, 11);
  FineTuningProxy::Adapters ad = p.initial();
  const std::vector<int> held_out = p.batch(99, 0, 8);
  const std::vector<double> teacher = p.teacher(held_out);
  const double untrained = p.loss(ad, held_out, teacher);
  for (int s = 0; s < 40; ++s) {
    const std::vector<int> b = p.batch(0, static_cast<std::uint64_t>(s));
    p.step(ad, b, p.teacher(b));
  }
  // Plain SGD (eq. 7 as written) moves slower than Adam at a step size that stays stable.
  EXPECT_LT(p.loss(ad, held_out, teacher), (optimizer == Optimizer::Adam ? 0.6 : 0.8) * untrained);
}

INSTANTIATE_TEST_SUITE_P(Kinds, ProxyLearning,
                         ::testing::Values(std::pair{AdapterKind::Lora, Optimizer::Adam}, std::pair{AdapterKind::Lora, Optimizer::Sgd},
                                           std::pair{AdapterKind::Bottleneck, Optimizer::Adam}),
                         [](const auto& info) {
                           return std::string(info.param.first == AdapterKind::Lora ? "Lora" : "Bottleneck") +
                                  (info.param.second == Optimizer::Adam ? "Adam" : "Sgd");
                         });

// Split learning's noisy release (seed 002, eq. 25) inside a training step: with every row
// clipped (a tiny C), the gradient of the adapters before the split goes back through the clipping
// (eq. 24) and matches a central difference of the loss with the same noise; without noise and
// clipping it equals the plain step's.
TEST(FineTuningProxy, TheGradientCrossesTheNoisyReleaseByTheChainRule) {
  ProxyConfig cfg;
  cfg.release_after = 2;
  cfg.clip_norm = 1e-2;
  cfg.noise_sigma = 0.05;
  const AdapterSpec lora{AdapterKind::Lora, 4, kLoraQkv | kLoraO};
  FineTuningProxy p(shallow_llama(), lora, Optimizer::Adam, cfg, 5);
  ASSERT_TRUE(p.noisy());
  FineTuningProxy::Adapters ad = p.initial();
  const std::vector<int> tokens = p.batch(0, 0);
  const std::vector<double> teacher = p.teacher(tokens);
  p.step(ad, tokens, teacher, 7);  // B != 0 now, so every factor has a gradient
  FineTuningProxy::Adapters g = ad;
  const double loss = p.gradient(g, tokens, teacher, 9);
  EXPECT_DOUBLE_EQ(loss, p.loss(ad, tokens, teacher, 9));
  EXPECT_NE(loss, p.loss(ad, tokens, teacher, 10));  // another stream, other noise
  EXPECT_NE(loss, p.loss(ad, tokens, teacher));      // and none
  for (int block : {0, 1, 3}) {  // before the split (through the release) and after it
    auto params = ad.blocks[static_cast<std::size_t>(block)].tensors();
    auto grads = g.blocks[static_cast<std::size_t>(block)].tensors();
    for (std::size_t t = 0; t < params.size(); ++t)
      for (std::size_t i = 0; i < params[t].first->size(); i += 37) {
        const double fd = swarmsim::test::central_difference(*params[t].first, i, [&] { return p.loss(ad, tokens, teacher, 9); });
        EXPECT_NEAR((*grads[t].second)[i], fd, 1e-6 * std::max(1.0, std::abs(fd))) << "block " << block << ", tensor " << t << ", element " << i;
      }
  }
  // No noise and a clip no row reaches: the release is the identity.
  ProxyConfig plain_cfg = cfg;
  plain_cfg.clip_norm = 1e12;
  plain_cfg.noise_sigma = 1e-300;
  FineTuningProxy open(shallow_llama(), lora, Optimizer::Adam, plain_cfg, 5), plain(shallow_llama(), lora, Optimizer::Adam, ProxyConfig{}, 5);
  FineTuningProxy::Adapters a = plain.initial(), b = plain.initial();
  EXPECT_DOUBLE_EQ(open.step(a, tokens, teacher, 3), plain.step(b, tokens, teacher));
}

// A dishonest server's wrong forward output (seed 002, section 6.1) lands each row `magnitude` away
// from itself in relative L2, along a direction fixed by its stream; the blocks after it, the
// loss and the backward pass run on it as on data, so their gradients are the chain rule of the
// loss through the wrong values (checked against central differences).
TEST(FineTuningProxy, AWrongForwardOutputSitsAtItsMagnitudeAndTheLaterBlocksTrainOnIt) {
  const AdapterSpec lora{AdapterKind::Lora, 4, kLoraQkv | kLoraO};
  FineTuningProxy p(shallow_llama(), lora, Optimizer::Adam, ProxyConfig{}, 5);
  std::vector<double> h(3 * 32);
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = std::sin(0.7 * static_cast<double>(i)) + (i / 32 == 1 ? 5.0 : 0.0);
  for (const double m : {0.01, 0.5, 2.0}) {
    std::vector<double> w = h;
    p.perturb(w, ActivationPerturbation{2, m, 11});
    for (std::size_t r = 0; r < 3; ++r) {
      double dd = 0, hh = 0;
      for (std::size_t i = r * 32; i < (r + 1) * 32; ++i) {
        dd += (w[i] - h[i]) * (w[i] - h[i]);
        hh += h[i] * h[i];
      }
      EXPECT_NEAR(std::sqrt(dd / hh), m, 1e-12 * m) << "row " << r;
    }
  }
  std::vector<double> a = h, b = h, c = h;
  p.perturb(a, {2, 0.5, 11});
  p.perturb(b, {2, 0.5, 11});
  p.perturb(c, {2, 0.5, 12});
  EXPECT_EQ(a, b);  // a cartel's members (one stream) return the same values
  EXPECT_NE(a, c);

  FineTuningProxy::Adapters ad = p.initial();
  const std::vector<int> tokens = p.batch(0, 0);
  const std::vector<double> teacher = p.teacher(tokens);
  p.step(ad, tokens, teacher);  // B != 0 now, so every factor has a gradient
  const std::vector<ActivationPerturbation> wrong{{2, 0.3, 21}};
  FineTuningProxy::Adapters g = ad;
  const double loss = p.gradient(g, tokens, teacher, 0, wrong);
  EXPECT_DOUBLE_EQ(loss, p.loss(ad, tokens, teacher, std::nullopt, wrong));
  EXPECT_NE(loss, p.loss(ad, tokens, teacher));
  for (int block : {2, 3}) {  // the blocks after the wrong output
    auto params = ad.blocks[static_cast<std::size_t>(block)].tensors();
    auto grads = g.blocks[static_cast<std::size_t>(block)].tensors();
    for (std::size_t t = 0; t < params.size(); ++t)
      for (std::size_t i = 0; i < params[t].first->size(); i += 41) {
        const double fd = swarmsim::test::central_difference(*params[t].first, i, [&] { return p.loss(ad, tokens, teacher, std::nullopt, wrong); });
        EXPECT_NEAR((*grads[t].second)[i], fd, 1e-6 * std::max(1.0, std::abs(fd))) << "block " << block << ", tensor " << t << ", element " << i;
      }
  }
  // Zero magnitude is the honest step, to the last bit.
  FineTuningProxy::Adapters honest = ad, zero = ad;
  const std::vector<ActivationPerturbation> none{{2, 0.0, 21}};
  EXPECT_EQ(p.step(honest, tokens, teacher), p.step(zero, tokens, teacher, 0, none));
  EXPECT_EQ(honest.blocks[3].tensors()[0].first->front(), zero.blocks[3].tensors()[0].first->front());
}

// Compression on the wire (seed 002, section 4): the hidden states entering a listed block go
// through the served model's 8-bit quantizer; the later blocks train on the rounded values, and the
// gradient passes the rounding unchanged (straight through).
TEST(FineTuningProxy, TheWireRoundsTheHiddenStatesWhereTheyArriveAndTheGradientPassesStraightThrough) {
  const AdapterSpec lora{AdapterKind::Lora, 4, kLoraQkv | kLoraO};
  ProxyConfig wired;
  wired.wire_block = 64;
  FineTuningProxy plain(shallow_llama(), lora, Optimizer::Adam, ProxyConfig{}, 5), p(shallow_llama(), lora, Optimizer::Adam, wired, 5);
  FineTuningProxy::Adapters ad = p.initial();
  const std::vector<int> tokens = p.batch(0, 0);
  const std::vector<double> teacher = p.teacher(tokens);
  {
    FineTuningProxy::Adapters a = p.initial(), b = p.initial();
    plain.step(a, tokens, teacher);
    p.step(b, tokens, teacher);
    ad = a;  // B != 0 now, so every factor has a gradient
  }
  const std::vector<int> chain{0, 2, 4};  // legs [0, 2) and [2, 4), then the client's loss
  const double exact = plain.loss(ad, tokens, teacher);
  const double rounded = p.loss(ad, tokens, teacher, std::nullopt, {}, chain);
  EXPECT_NE(rounded, exact);
  EXPECT_LT(std::abs(rounded - exact), 0.05 * exact);  // 8 bits per value: a small change
  EXPECT_EQ(p.loss(ad, tokens, teacher), exact);                               // no arrivals listed: nothing rounded
  EXPECT_EQ(plain.loss(ad, tokens, teacher, std::nullopt, {}, chain), exact);  // no wire_block: exact messages
  ProxyConfig per_value;
  per_value.wire_block = 1;  // one scale per value: only FP32's rounding is left
  FineTuningProxy fine(shallow_llama(), lora, Optimizer::Adam, per_value, 5);
  EXPECT_NEAR(fine.loss(ad, tokens, teacher, std::nullopt, {}, chain), exact, 1e-6 * exact);

  // After the last rounding (before block 2) the loss is smooth in blocks 2 and 3: their gradient
  // is the finite difference of the rounded forward.
  const std::vector<int> mid{2};
  FineTuningProxy::Adapters g = ad;
  const double loss = p.gradient(g, tokens, teacher, 0, {}, mid);
  EXPECT_DOUBLE_EQ(loss, p.loss(ad, tokens, teacher, std::nullopt, {}, mid));
  for (int block : {2, 3}) {
    auto params = ad.blocks[static_cast<std::size_t>(block)].tensors();
    auto grads = g.blocks[static_cast<std::size_t>(block)].tensors();
    for (std::size_t t = 0; t < params.size(); ++t)
      for (std::size_t i = 0; i < params[t].first->size(); i += 41) {
        const double fd = swarmsim::test::central_difference(*params[t].first, i, [&] { return p.loss(ad, tokens, teacher, std::nullopt, {}, mid); });
        EXPECT_NEAR((*grads[t].second)[i], fd, 1e-6 * std::max(1.0, std::abs(fd))) << "block " << block << ", tensor " << t << ", element " << i;
      }
  }
  // Through every rounding, the gradient stays the exact one's direction (a rounding's true
  // derivative is 0 almost everywhere: a zero or reversed gradient would fail here).
  FineTuningProxy::Adapters ge = ad, gq = ad;
  plain.gradient(ge, tokens, teacher);
  p.gradient(gq, tokens, teacher, 0, {}, chain);
  double dot = 0, ee = 0, qq = 0;
  for (std::size_t b = 0; b < ad.blocks.size(); ++b) {
    auto e = ge.blocks[b].tensors(), q = gq.blocks[b].tensors();
    for (std::size_t t = 0; t < e.size(); ++t)
      for (std::size_t i = 0; i < e[t].second->size(); ++i) {
        dot += (*e[t].second)[i] * (*q[t].second)[i];
        ee += (*e[t].second)[i] * (*e[t].second)[i];
        qq += (*q[t].second)[i] * (*q[t].second)[i];
      }
  }
  EXPECT_GT(dot / std::sqrt(ee * qq), 0.99);
  EXPECT_NE(dot / std::sqrt(ee * qq), 1.0);
  EXPECT_THROW(FineTuningProxy(shallow_llama(), lora, Optimizer::Adam, ProxyConfig{.wire_block = -1}, 5), std::invalid_argument);
}
