#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>

#include "gpu/adapter.hpp"
#include "gpu/adapter_training.hpp"
#include "gpu/device_catalog.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/shard_cost_model.hpp"
#include "gpu/transformer_block.hpp"
#include "tests/gpu/finite_difference.hpp"

using namespace swarmsim::gpu;

namespace {

std::vector<double> values(std::uint64_t stream, std::size_t n, double bound = 1.0) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = hashed_uniform(77, stream, i, static_cast<float>(-bound), static_cast<float>(bound));
  return v;
}

/// Central difference of `loss` in parameter `p`, against the analytic gradient `g`.
void expect_gradient(std::vector<double>& p, const std::vector<double>& g, const std::function<double()>& loss, const char* what) {
  ASSERT_EQ(p.size(), g.size());
  for (std::size_t i = 0; i < p.size(); i += std::max<std::size_t>(1, p.size() / 23)) {
    const double numeric = swarmsim::test::central_difference(p, i, loss);
    EXPECT_NEAR(g[i], numeric, 1e-6 + 1e-5 * std::fabs(numeric)) << what << "[" << i << "]";
  }
}

/// L = sum(y * target) / 2 + sum(y^2) / 2: any smooth loss with a non-trivial gradient.
double probe_loss(const std::vector<double>& y, const std::vector<double>& target) {
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) s += 0.5 * y[i] * y[i] + 0.5 * y[i] * target[i];
  return s;
}
std::vector<double> probe_grad(const std::vector<double>& y, const std::vector<double>& target) {
  std::vector<double> g(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) g[i] = y[i] + 0.5 * target[i];
  return g;
}

}  // namespace

TEST(AdapterParams, LoraOnLlama3AttentionCountsRTimesInPlusOutPerMatrix) {
  // Llama-3-8B: hidden 4096, Q 4096, K and V 1024 each. Rank 8 on the fused QKV [6144 x 4096] and
  // O [4096 x 4096]: 8 x (4096 + 6144) + 8 x (4096 + 4096) = 81,920 + 65,536.
  const TransformerSpec& m = *find_model("Llama-3-8B");
  EXPECT_DOUBLE_EQ(adapter_params_per_block(m, AdapterSpec{AdapterKind::Lora, 8, kLoraQkv | kLoraO}), 147456.0);
  // All four matrices add gate|up [28672 x 4096] and down [4096 x 14336] at rank 16.
  EXPECT_DOUBLE_EQ(adapter_params_per_block(m, AdapterSpec{AdapterKind::Lora, 16, kLoraQkv | kLoraO | kLoraGateUp | kLoraDown}),
                   16.0 * (10240 + 8192 + 32768 + 18432));
  // Eq. 5's bottleneck: W1 [r x h] and W2 [h x r] plus the LayerNorm's gain and bias.
  EXPECT_DOUBLE_EQ(adapter_params_per_block(m, AdapterSpec{AdapterKind::Bottleneck, 64, 0}), 2.0 * 64 * 4096 + 2 * 4096);
  // A Mixtral expert MLP is adapted once per expert.
  const TransformerSpec& mx = *find_model("Mixtral-8x7B");
  EXPECT_DOUBLE_EQ(adapter_params_per_block(mx, AdapterSpec{AdapterKind::Lora, 4, kLoraDown}), 8.0 * 4 * (mx.ffn + mx.hidden));
}

TEST(AdapterOps, LoraForwardFlopsAreTwiceTheMultiplyAddsTheReferencePerforms) {
  TransformerSpec m = reduced_width(*find_model("Llama-3-8B"), 64);  // hidden 64, q 64, kv 16, ffn 224
  const int rows = 6, r = 4;
  // The reference layers of each target, run on `rows` token rows.
  std::uint64_t madds = 0;
  const int up = 2 * m.ffn;
  for (auto [n_in, n_out] : {std::pair{m.hidden, m.q_dim() + 2 * m.kv_dim()}, std::pair{m.q_dim(), m.hidden},
                             std::pair{m.hidden, up}, std::pair{m.ffn, m.hidden}}) {
    LoraLinear layer(values(1, static_cast<std::size_t>(n_in) * n_out), n_in, n_out, r, r, 5);
    std::vector<double> y(static_cast<std::size_t>(rows) * n_out);
    layer.forward(values(2, static_cast<std::size_t>(rows) * n_in), rows, y);
    madds += layer.multiply_adds;
  }
  const OpList ops = adapter_forward_ops(m, AdapterSpec{AdapterKind::Lora, r, kLoraQkv | kLoraO | kLoraGateUp | kLoraDown},
                                         BlockWork{2, 3, 0});
  EXPECT_DOUBLE_EQ(ops.flops(OpClass::Gemm), 2.0 * static_cast<double>(madds));

  BottleneckAdapter bottleneck(m.hidden, r, 3);
  std::vector<double> out(static_cast<std::size_t>(rows) * m.hidden);
  bottleneck.forward(values(3, out.size()), rows, out);
  EXPECT_DOUBLE_EQ(adapter_forward_ops(m, AdapterSpec{AdapterKind::Bottleneck, r, 0}, BlockWork{3, 2, 0}).flops(OpClass::Gemm),
                   2.0 * static_cast<double>(bottleneck.multiply_adds));
}

TEST(AdapterOps, FrozenBackwardCostsTheForwardGemmsOnceAndAttentionTwoAndAHalfTimes) {
  // With frozen weights the backward needs only dX = dY W per linear layer: as many FLOPs as the
  // forward GEMM. FlashAttention's backward runs five matmuls against the forward's two.
  for (const char* name : {"Llama-3-8B", "Mixtral-8x7B", "BLOOM-176B"}) {
    const TransformerSpec& m = *find_model(name);
    const BlockWork w{4, 512, 0};
    const OpList fwd = block_ops(m, w), bwd = block_backward_ops(m, w);
    EXPECT_NEAR(bwd.flops(OpClass::Gemm) / fwd.flops(OpClass::Gemm), 1.0, 1e-12) << name;
    const double pairs = 4 * 512.0 * 513 / 2, matmul = 4.0 * m.n_heads * m.head_dim * pairs;
    EXPECT_NEAR((bwd.flops(OpClass::Attention) - 8.0 * m.n_heads * pairs) / matmul, 2.5, 1e-12) << name;
  }
}

TEST(AdapterOps, ATrainingStepOfALargeBatchCostsAboutThreeForwardPasses) {
  // Recompute (1x) + input gradients (1x) + the forward itself (1x), plus the adapters: on an H100
  // at 8 x 1024 tokens every GEMM is compute-bound, so time follows FLOPs.
  const TransformerSpec& m = *find_model("Llama-3-8B");
  const DeviceSpec& h100 = *find_device("H100");
  const RooflineCostModel cost;
  const BlockWork w{8, 1024, 0};
  const AdapterSpec lora{AdapterKind::Lora, 16, kLoraQkv | kLoraO};
  const double fwd = cost.blocks_seconds(h100, m, w, 1);
  const double step = 2 * fwd + cost.ops_seconds(h100, adapter_forward_ops(m, lora, w)) * 2 +
                      cost.ops_seconds(h100, block_backward_ops(m, w)) + cost.ops_seconds(h100, adapter_backward_ops(m, lora, w)) +
                      cost.ops_seconds(h100, optimizer_ops(adapter_params_per_block(m, lora), Optimizer::Adam));
  EXPECT_GT(step / fwd, 3.0);
  EXPECT_LT(step / fwd, 3.6);
  // The optimizer reads and writes 28 bytes per parameter under Adam, 12 under SGD.
  EXPECT_DOUBLE_EQ(optimizer_ops(1000, Optimizer::Adam).ops[0].bytes, 28000.0);
  EXPECT_DOUBLE_EQ(optimizer_ops(1000, Optimizer::Sgd).ops[0].bytes, 12000.0);
}

TEST(LoraLinear, ForwardIsTheMergedWeightOfEq6AndStartsAtTheBaseModel) {
  const int n_in = 7, n_out = 5, rows = 3, r = 2;
  const std::vector<double> w = values(10, n_in * n_out), x = values(11, rows * n_in);
  LoraLinear layer(w, n_in, n_out, r, 4.0, 9);
  std::vector<double> y(rows * n_out);
  layer.forward(x, rows, y);
  for (int i = 0; i < rows; ++i)  // B = 0: exactly x W^T
    for (int o = 0; o < n_out; ++o) {
      double s = 0.0;
      for (int j = 0; j < n_in; ++j) s += x[i * n_in + j] * w[o * n_in + j];
      EXPECT_DOUBLE_EQ(y[i * n_out + o], s);
    }
  layer.b = values(12, n_out * r);
  layer.forward(x, rows, y);
  const std::vector<double> merged = layer.merged();
  for (int i = 0; i < rows; ++i)
    for (int o = 0; o < n_out; ++o) {
      double s = 0.0;
      for (int j = 0; j < n_in; ++j) s += x[i * n_in + j] * merged[o * n_in + j];
      EXPECT_NEAR(y[i * n_out + o], s, 1e-12);
    }
  EXPECT_NE(merged, w);
}

TEST(LoraLinear, GradientsMatchFiniteDifferences) {
  const int n_in = 6, n_out = 4, rows = 3, r = 3;
  LoraLinear layer(values(20, n_in * n_out), n_in, n_out, r, 6.0, 4);
  layer.b = values(21, n_out * r);  // away from B = 0, where dL/dA vanishes
  std::vector<double> x = values(22, rows * n_in);
  const std::vector<double> target = values(23, rows * n_out);
  std::vector<double> y(rows * n_out), dx(x.size());
  const auto loss = [&] {
    layer.forward(x, rows, y);
    return probe_loss(y, target);
  };
  loss();
  layer.backward(x, probe_grad(y, target), rows, dx);
  expect_gradient(layer.a, layer.grad_a, loss, "dA");
  expect_gradient(layer.b, layer.grad_b, loss, "dB");
  expect_gradient(x, dx, loss, "dx");
}

TEST(BottleneckAdapter, GradientsMatchFiniteDifferences) {
  const int dim = 8, rows = 3, r = 3;
  BottleneckAdapter ad(dim, r, 6);
  ad.w2 = values(30, dim * r);  // away from W2 = 0
  ad.gain = values(31, dim);
  std::vector<double> h = values(32, rows * dim, 2.0);
  const std::vector<double> target = values(33, rows * dim);
  std::vector<double> out(h.size()), dh(h.size());
  const auto loss = [&] {
    ad.forward(h, rows, out);
    return probe_loss(out, target);
  };
  loss();
  ad.backward(h, probe_grad(out, target), rows, dh);
  expect_gradient(ad.w1, ad.grad_w1, loss, "dW1");
  expect_gradient(ad.w2, ad.grad_w2, loss, "dW2");
  expect_gradient(ad.gain, ad.grad_gain, loss, "dgain");
  expect_gradient(ad.bias, ad.grad_bias, loss, "dbias");
  expect_gradient(h, dh, loss, "dh");
}

namespace {
/// Mean squared error of a LoRA layer against a teacher W + dW with dW of rank 2, on fixed inputs.
struct LowRankTask {
  int n_in = 12, n_out = 10, rows = 32;
  std::vector<double> w = values(40, 120), x = values(41, 32 * 12), target;
  LowRankTask() {
    const std::vector<double> u = values(42, 10 * 2), v = values(43, 2 * 12);
    target.assign(static_cast<std::size_t>(rows) * n_out, 0.0);
    for (int i = 0; i < rows; ++i)
      for (int o = 0; o < n_out; ++o) {
        double s = 0.0;
        for (int j = 0; j < n_in; ++j) {
          double dw = 0.0;
          for (int k = 0; k < 2; ++k) dw += u[o * 2 + k] * v[k * n_in + j];
          s += x[i * n_in + j] * (w[o * n_in + j] + dw);
        }
        target[i * n_out + o] = s;
      }
  }
  /// Loss, and its gradient accumulated in the layer.
  double step(LoraLinear& layer) const {
    std::vector<double> y(target.size()), dy(target.size());
    layer.forward(x, rows, y);
    double loss = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      loss += (y[i] - target[i]) * (y[i] - target[i]) / static_cast<double>(rows);
      dy[i] = 2.0 * (y[i] - target[i]) / static_cast<double>(rows);
    }
    layer.backward(x, dy, rows, {});
    return loss;
  }
};
}  // namespace

TEST(LoraLinear, Eq7LearnsALowRankUpdateOfAFrozenLayer) {
  const LowRankTask task;
  for (const Optimizer opt : {Optimizer::Sgd, Optimizer::Adam}) {
    LoraLinear layer(task.w, task.n_in, task.n_out, 4, 4.0, 8);
    AdamState sa, sb;
    const double first = task.step(layer);
    double last = first;
    for (int t = 0; t < 1500; ++t) {
      if (opt == Optimizer::Sgd) {
        sgd_step(layer.a, layer.grad_a, 0.05);
        sgd_step(layer.b, layer.grad_b, 0.05);
      } else {
        adam_step(layer.a, layer.grad_a, sa, 0.01);
        adam_step(layer.b, layer.grad_b, sb, 0.01);
      }
      last = task.step(layer);
    }
    EXPECT_LT(last, 1e-3 * first) << (opt == Optimizer::Sgd ? "sgd" : "adam") << ": " << first << " -> " << last;
    // The frozen weights never moved: the whole change is B A.
    EXPECT_EQ(layer.w, task.w);
  }
}

TEST(AdapterTraining, OptimizerStepsClearTheGradientAndFollowEq7) {
  std::vector<double> theta{1.0, -2.0}, grad{0.5, -1.0};
  sgd_step(theta, grad, 0.1);
  EXPECT_DOUBLE_EQ(theta[0], 0.95);
  EXPECT_DOUBLE_EQ(theta[1], -1.9);
  EXPECT_EQ(grad, (std::vector<double>{0.0, 0.0}));
  // Adam's first step moves every parameter by eta against its gradient's sign.
  std::vector<double> p{1.0, -2.0}, g{0.5, -1e-3};
  AdamState st;
  adam_step(p, g, st, 0.1);
  EXPECT_NEAR(p[0], 0.9, 1e-6);
  EXPECT_NEAR(p[1], -1.9, 1e-4);
  // An element whose moments restarted (a ZeRO shard lost with its server) takes a first step
  // again: eta against its gradient's sign, while its neighbour, 50 steps into its history, moves
  // by its bias-corrected ratio (here well under eta: its gradient just grew 100-fold).
  std::vector<double> q{0.0, 0.0}, h;
  AdamState run;
  for (int i = 0; i < 50; ++i) {
    h = {1e-3, 1e-3};
    adam_step(q, h, run, 0.1);
  }
  run.m[1] = run.v[1] = 0.0;
  run.restarted_at = {0, run.step};
  const std::vector<double> q0 = q;
  h = {0.1, 0.1};
  adam_step(q, h, run, 0.1);
  EXPECT_NEAR(q0[1] - q[1], 0.1, 1e-6);
  const double c1 = 1 - std::pow(0.9, 51), c2 = 1 - std::pow(0.999, 51);
  EXPECT_NEAR(q0[0] - q[0], 0.1 * (run.m[0] / c1) / (std::sqrt(run.v[0] / c2) + 1e-8), 1e-12);
  EXPECT_GT(std::abs((q0[0] - q[0]) - (q0[1] - q[1])), 1e-3);
}
