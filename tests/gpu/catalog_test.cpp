#include <gtest/gtest.h>

#include "gpu/block_ops.hpp"
#include "gpu/device_catalog.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/shard_cost_model.hpp"

using namespace swarmsim::gpu;

TEST(ModelCatalog, ParameterCountsMatchPublishedTotals) {
  // Published totals: Llama 3 8B 8.03e9, Llama 2 70B 68.98e9, Mixtral 8x7B 46.70e9, BLOOM 176.25e9.
  struct Case {
    const char* name;
    double published;
  };
  for (const Case& c : {Case{"Llama-3-8B", 8.03e9}, Case{"Llama-2-70B", 68.98e9}, Case{"Mixtral-8x7B", 46.70e9},
                        Case{"BLOOM-176B", 176.25e9}}) {
    const TransformerSpec* m = find_model(c.name);
    ASSERT_NE(m, nullptr) << c.name;
    EXPECT_NEAR(m->total_params() / c.published, 1.0, 0.005) << c.name << ": " << m->total_params();
  }
}

TEST(ModelCatalog, KvCachePerTokenFollowsEq4) {
  // seed 002, eq. 4 with the KV heads: Llama-3-8B = 2 * 128 * 8 * 2 bytes = 4 KiB per token per block,
  // 128 KiB per token for its 32 blocks; BLOOM (MHA, 112 heads) = 2 * 128 * 112 * 2 = 56 KiB per block.
  EXPECT_DOUBLE_EQ(find_model("Llama-3-8B")->kv_bytes_per_token_per_block(), 4096.0);
  EXPECT_DOUBLE_EQ(find_model("Llama-3-8B")->kv_bytes_per_token_per_block() * 32, 131072.0);
  EXPECT_DOUBLE_EQ(find_model("BLOOM-176B")->kv_bytes_per_token_per_block(), 57344.0);
}

TEST(ModelCatalog, LookupIgnoresCaseAndPunctuation) {
  EXPECT_EQ(find_model("llama3-8b"), find_model("Llama-3-8B"));
  EXPECT_EQ(find_model("mixtral 8x7b"), find_model("Mixtral-8x7B"));
  EXPECT_EQ(find_model("GPT-5"), nullptr);
}

TEST(DeviceCatalog, HoldsTheRequiredDevicesWithSaneFigures) {
  for (const char* name : {"GTX-1650", "T4", "L4", "RTX-3090", "RTX-4090", "A100-80GB", "H100", "H200", "cpu-generic"}) {
    const DeviceSpec* d = find_device(name);
    ASSERT_NE(d, nullptr) << name;
    EXPECT_GT(d->peak_flops, 1e12) << name;
    EXPECT_GT(d->memory_bandwidth, 5e10) << name;
    EXPECT_GE(d->memory_bytes, 4.0 * (1 << 30)) << name;
    EXPECT_FALSE(d->source.empty()) << name;
  }
  // Spot checks against the datasheets: H100 SXM 989.4 TFLOP/s and 3.35 TB/s; L4 121 TFLOP/s, 300 GB/s.
  EXPECT_DOUBLE_EQ(find_device("H100")->peak_flops, 989.4e12);
  EXPECT_DOUBLE_EQ(find_device("L4")->memory_bandwidth, 300e9);
  EXPECT_EQ(find_device("h100"), find_device("H100"));
  EXPECT_EQ(find_device("gtx1650"), find_device("GTX-1650"));
}

TEST(BlockOps, DecodeGemmsAreMemoryBoundAndLargeBatchesComputeBound) {
  const TransformerSpec& m = *find_model("Llama-3-8B");
  const DeviceSpec& h100 = *find_device("H100");
  RooflineCostModel roofline;
  const auto find_op = [](const OpList& ops, const char* name) {
    for (const OpCost& op : ops)
      if (std::string(op.name) == name) return op;
    return OpCost{};
  };
  const OpCost decode = find_op(block_ops(m, {1, 1, 128}), "gate_up_proj");
  const OpCost prefill = find_op(block_ops(m, {8, 1024, 0}), "gate_up_proj");
  EXPECT_FALSE(roofline.compute_bound(h100, decode));
  EXPECT_TRUE(roofline.compute_bound(h100, prefill));
  // Hand count of the decode gate+up projection: 2 * 1 token * 4096 * (2 * 14336) FLOPs; weights
  // 4096 * 28672 * 2 bytes plus the input row and the two output rows.
  EXPECT_DOUBLE_EQ(decode.flops, 2.0 * 4096 * 2 * 14336);
  EXPECT_DOUBLE_EQ(decode.bytes, 4096.0 * 28672 * 2 + 4096 * 2 + 28672 * 2);
  // Memory-bound: time = bytes / (3.35e12 * 0.8) + 5 us launch.
  EXPECT_NEAR(roofline.op_seconds(h100, decode), decode.bytes / (3.35e12 * 0.8) + 5e-6, 1e-12);
}

TEST(BlockOps, AttentionGrowsWithTheKvCache) {
  const TransformerSpec& m = *find_model("Llama-3-8B");
  const auto attention = [&](int kv) {
    for (const OpCost& op : block_ops(m, {1, 1, kv}))
      if (std::string(op.name) == "attention") return op;
    return OpCost{};
  };
  // One new token over K cached: K + 1 (query, key) pairs, 4 * heads * head_dim FLOPs each + softmax.
  EXPECT_DOUBLE_EQ(attention(1023).flops, (4.0 * 32 * 128 + 5.0 * 32) * 1024);
  EXPECT_GT(attention(4095).bytes, 3.9 * attention(1023).bytes);
}

TEST(BlockOps, MixtureOfExpertsTouchesFewExpertsAtBatchOne) {
  // One token routed to 2 of 8 experts touches exactly 2; a large batch touches nearly all 8.
  EXPECT_NEAR(expected_experts_touched(8, 2, 1), 2.0, 1e-12);
  EXPECT_NEAR(expected_experts_touched(8, 2, 256), 8.0, 1e-9);
  const TransformerSpec& mixtral = *find_model("Mixtral-8x7B");
  const TransformerSpec& llama = *find_model("Llama-3-8B");
  RooflineCostModel roofline;
  const DeviceSpec& l4 = *find_device("L4");
  // Same attention and per-expert shapes: at batch 1 Mixtral reads 2 experts' weights, Llama 1 MLP.
  const double ratio = roofline.blocks_seconds(l4, mixtral, {1, 1, 0}, 1) / roofline.blocks_seconds(l4, llama, {1, 1, 0}, 1);
  EXPECT_GT(ratio, 1.7);
  EXPECT_LT(ratio, 2.0);
}
