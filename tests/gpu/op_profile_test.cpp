#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "gpu/op_profile.hpp"

using namespace swarmsim::gpu;

namespace {

/// A "measured" profile whose timings are the roofline model's own on `measured` (without its launch
/// overhead), for the ops of `model` at `works`.
OpProfile roofline_profile(const DeviceSpec& measured, const TransformerSpec& model, const std::vector<BlockWork>& works) {
  RooflineCostModel roofline;
  OpProfile p;
  p.backend = "synthetic";
  p.device = {measured.name, measured.kind, measured.peak_flops, measured.memory_bandwidth, "catalog"};
  p.model = model.name;
  p.storage = "bf16";
  p.command = "test";
  for (const BlockWork& w : works)
    for (const OpCost& op : block_ops(model, w))
      p.entries.push_back({op.name, op.cls, w, op.flops, op.bytes, roofline.op_seconds(measured, op) - measured.launch_overhead_s,
                           0.01, 10});
  return p;
}

}  // namespace

// Issue 2: a profile-priced op on a simulated device lands within 10% of the roofline estimate when it
// is clearly compute- or memory-bound (intensity 3x away from both devices' ridge points).
TEST(ProfileCostModel, ScalesClearlyBoundOpsLikeTheRoofline) {
  const TransformerSpec& m = *find_model("Llama-3-8B");
  const std::vector<BlockWork> works{{1, 1, 512}, {8, 512, 0}, {64, 1, 1024}};
  ProfileCostModel priced({roofline_profile(*find_device("H100"), m, works)});
  RooflineCostModel roofline;
  int checked = 0;
  for (const char* target : {"L4", "RTX-4090", "A100-80GB", "T4"}) {
    const DeviceSpec& d = *find_device(target);
    for (const BlockWork& w : works)
      for (const OpCost& op : block_ops(m, w)) {
        const double intensity = op.flops / op.bytes;
        const double ridge_t = d.ridge_point(), ridge_m = find_device("H100")->ridge_point();
        const bool clear = (intensity > 3 * ridge_t && intensity > 3 * ridge_m) ||
                           (intensity < ridge_t / 3 && intensity < ridge_m / 3);
        if (!clear || op.cls != OpClass::Gemm) continue;  // the vector ops are dominated by launch overhead
        const double want = roofline.op_seconds(d, op) - d.launch_overhead_s;
        EXPECT_NEAR(priced.op_seconds(d, op) / want, 1.0, 0.10) << target << " " << op.name << " batch " << w.batch;
        ++checked;
      }
  }
  EXPECT_GT(checked, 20);
}

TEST(ProfileCostModel, UsesTheMeasuredEfficiencyOfTheBindingResource) {
  // One memory-bound entry that reached 40% of a 100 GB/s device's bandwidth: a 1 MB op took 25 us.
  OpProfile p;
  p.backend = "cpu";
  p.device = {"test cpu", DeviceKind::Cpu, 1e12, 100e9, "test"};
  p.model = "m";
  p.storage = "f32";
  p.command = "test";
  p.entries.push_back({"residual_attn", OpClass::Vector, {1, 1, 0}, 1e5, 1e6, 25e-6, 0, 5});
  ProfileCostModel priced({p});
  const DeviceSpec& cpu = *find_device("cpu-generic");
  // On cpu-generic (76.8 GB/s) a 2 MB add at 40% efficiency: 2e6 / (76.8e9 * 0.4).
  const OpCost op{"residual_attn", OpClass::Vector, 2e5, 2e6};
  EXPECT_NEAR(priced.op_seconds(cpu, op), 2e6 / (76.8e9 * 0.4), 1e-12);
  EXPECT_NEAR(p.fraction_of_peak(p.entries[0]), 0.4, 1e-12);
  EXPECT_FALSE(p.compute_bound(p.entries[0]));
  // GPUs have no profile here: they are priced by the roofline model, and the pricing says so.
  const DeviceSpec& l4 = *find_device("L4");
  EXPECT_DOUBLE_EQ(priced.op_seconds(l4, op), RooflineCostModel().op_seconds(l4, op));
  EXPECT_EQ(priced.profile_for(l4), nullptr);
  EXPECT_EQ(priced.pricing(), "roofline for GPU devices, profile for CPU devices (cpu: test cpu)");
}

TEST(ProfileCostModel, PicksTheEntryNearestInFlops) {
  OpProfile p;
  p.backend = "cpu";
  p.device = {"test cpu", DeviceKind::Cpu, 1e12, 100e9, "test"};
  p.model = "m";
  p.storage = "f32";
  p.command = "test";
  // Two compute-bound GEMM entries: a small one at 10% of peak, a large one at 80%.
  p.entries.push_back({"qkv_proj", OpClass::Gemm, {1, 64, 0}, 1e9, 1e7, 1e9 / (1e12 * 0.1), 0, 5});
  p.entries.push_back({"qkv_proj", OpClass::Gemm, {8, 512, 0}, 1e12, 1e9, 1e12 / (1e12 * 0.8), 0, 5});
  ProfileCostModel priced({p});
  const DeviceSpec& cpu = *find_device("cpu-generic");
  EXPECT_NEAR(priced.op_seconds(cpu, {"qkv_proj", OpClass::Gemm, 2e9, 1e7}), 2e9 / (cpu.peak_flops * 0.1), 1e-12);
  EXPECT_NEAR(priced.op_seconds(cpu, {"qkv_proj", OpClass::Gemm, 5e11, 1e8}), 5e11 / (cpu.peak_flops * 0.8), 1e-12);
  // An op the profile lacks takes the nearest entry of its class.
  EXPECT_NEAR(priced.op_seconds(cpu, {"o_proj", OpClass::Gemm, 9e11, 1e8}), 9e11 / (cpu.peak_flops * 0.8), 1e-12);
}

namespace {

/// A one-entry CPU profile (an attention op at batch 2, KV 300).
OpProfile one_entry_profile() {
  OpProfile p;
  p.backend = "cpu";
  p.device = {"x", DeviceKind::Cpu, 1e11, 1e10, "measured"};
  p.model = "Llama-3-8B";
  p.storage = "f32";
  p.command = "swarmsim profile";
  p.entries.push_back({"attention", OpClass::Attention, {2, 1, 300}, 123.0, 456.0, 7e-6, 0.02, 9});
  return p;
}

}  // namespace

TEST(OpProfile, JsonRoundTripAndErrorsNameThePath) {
  const OpProfile p = one_entry_profile();
  const OpProfile q = OpProfile::from_json(p.to_json(), "p.json");
  ASSERT_EQ(q.entries.size(), 1u);
  EXPECT_EQ(q.entries[0].op, "attention");
  EXPECT_EQ(q.entries[0].work.kv_len, 300);
  EXPECT_DOUBLE_EQ(q.entries[0].median_s, 7e-6);
  EXPECT_DOUBLE_EQ(q.device.peak_flops, 1e11);
  auto j = p.to_json();
  j["entries"][0].erase("median_s");
  try {
    OpProfile::from_json(j, "bad.json");
    FAIL() << "a profile without median_s loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "bad.json: entries[0].median_s: missing");
  }
}

// Profiles are user input (SWARMSIM_PROFILE_DIR): each kind of bad value is refused with the file,
// the JSON path and what was expected, before it can price an op (a negative byte count priced
// every block 10^6 times too slow; a missing "device" escaped as a bare json exception).
TEST(OpProfile, BadValuesAreRefusedWithFileAndPath) {
  const nlohmann::json good = one_entry_profile().to_json();
  struct Case {
    const char* pointer;
    nlohmann::json value;  // null: delete the key
    const char* message;
  };
  const Case cases[] = {
      {"/device", nullptr, "bad.json: device: missing"},
      {"/device", "x", "bad.json: device: expected an object"},
      {"/device/kind", "tpu", "bad.json: device.kind: expected \"gpu\" or \"cpu\", got \"tpu\""},
      {"/device/peak_flops", 0, "bad.json: device.peak_flops: expected a number > 0, got 0"},
      {"/device/memory_bandwidth", "1TBps", "bad.json: device.memory_bandwidth: expected a number, got \"1TBps\""},
      {"/entries", nlohmann::json::object(), "bad.json: entries: expected an array"},
      {"/entries/0", "x", "bad.json: entries[0]: expected an object"},
      {"/entries/0/batch", 0, "bad.json: entries[0].batch: expected an integer >= 1, got 0"},
      {"/entries/0/batch", 1e308, "bad.json: entries[0].batch: expected an integer >= 1, got 1e+308"},
      {"/entries/0/batch", 2.5, "bad.json: entries[0].batch: expected an integer >= 1, got 2.5"},
      {"/entries/0/kv_len", -1, "bad.json: entries[0].kv_len: expected an integer >= 0, got -1"},
      {"/entries/0/new_tokens", 4294967296LL, "bad.json: entries[0].new_tokens: expected an integer >= 1, got 4294967296"},
      {"/entries/0/flops", -1, "bad.json: entries[0].flops: expected a number >= 0, got -1"},
      {"/entries/0/bytes", 0, "bad.json: entries[0].bytes: expected a number > 0, got 0"},
      {"/entries/0/median_s", -1e-3, "bad.json: entries[0].median_s: expected a number > 0, got -0.001"},
      {"/entries/0/spread", true, "bad.json: entries[0].spread: expected a number, got true"},
      {"/entries/0/runs", 0, "bad.json: entries[0].runs: expected an integer >= 1, got 0"},
      {"/entries/0/class", "matmul", "bad.json: entries[0].class: unknown op class \"matmul\""},
      {"/format", "swarmsim-profile/2", "bad.json: format: expected \"swarmsim-profile/1\""},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    const nlohmann::json::json_pointer at(c.pointer);
    if (c.value.is_null())
      j[at.parent_pointer()].erase(at.back());
    else
      j[at] = c.value;
    try {
      OpProfile::from_json(j, "bad.json");
      ADD_FAILURE() << c.pointer << " = " << c.value.dump() << " loaded";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(c.message, 0), 0u) << c.pointer << ": " << e.what();
    }
  }
  EXPECT_EQ(OpProfile::from_json(good, "good.json").entries.size(), 1u);
}

// The committed CPU profile loads and covers every op of a Llama block and of the client.
TEST(OpProfile, CommittedCpuProfileCoversLlamaOps) {
  const auto profiles = load_profiles(std::filesystem::path(SWARMSIM_SOURCE_DIR) / "gpu/profiles");
  const OpProfile* cpu = nullptr;
  for (const OpProfile& p : profiles)
    if (p.device.kind == DeviceKind::Cpu) cpu = &p;
  ASSERT_NE(cpu, nullptr) << "no CPU profile in gpu/profiles";
  const TransformerSpec& m = *find_model("Llama-3-8B");
  for (const OpList& ops : {block_ops(m, {1, 1, 64}), embed_ops(m, 1, 64), head_ops(m, 1)})
    for (const OpCost& op : ops) {
      bool found = false;
      for (const ProfileEntry& e : cpu->entries) found |= e.op == op.name;
      EXPECT_TRUE(found) << op.name;
    }
  for (const ProfileEntry& e : cpu->entries) {
    EXPECT_GT(cpu->fraction_of_peak(e), 0.0) << e.op;
    // Nothing computes faster than the FMA peak. (Memory-bound ops may beat the DRAM bandwidth: their
    // working set stays in cache between repetitions, as it does inside a forward pass.)
    if (cpu->compute_bound(e)) {
      EXPECT_LT(cpu->fraction_of_peak(e), 1.05) << e.op << ": above the measured peak";
    }
  }
}

// The H200 profile measured with this project's CUDA kernels (gpu/profiles/gpu/, read only when
// SWARMSIM_PROFILE_DIR names it) loads, covers every op of a Llama block and the client, and prices
// a GPU from it: a Llama-3-8B decode step on an H100 no faster than the H100's bandwidth allows
// for the weights it reads, and slower than the roofline's 80% of it, as our kernels are.
TEST(OpProfile, CommittedGpuProfileLoadsAndPricesGpus) {
  const auto profiles = load_profiles(std::filesystem::path(SWARMSIM_SOURCE_DIR) / "gpu/profiles/gpu");
  ASSERT_EQ(profiles.size(), 1u);
  const OpProfile& gpu = profiles.front();
  EXPECT_EQ(gpu.backend, "cuda");
  EXPECT_EQ(gpu.device.kind, DeviceKind::Gpu);
  EXPECT_EQ(gpu.storage, "bf16");
  const TransformerSpec& m = *find_model("Llama-3-8B");
  for (const OpList& ops : {block_ops(m, {1, 1, 64}), embed_ops(m, 1, 64), head_ops(m, 1)})
    for (const OpCost& op : ops) {
      bool found = false;
      for (const ProfileEntry& e : gpu.entries) found |= e.op == op.name;
      EXPECT_TRUE(found) << op.name;
    }
  const ProfileCostModel model(profiles);
  const DeviceSpec& h100 = *find_device("H100");
  ASSERT_NE(model.profile_for(h100), nullptr);
  EXPECT_EQ(model.profile_for(h100)->device.name, "NVIDIA H200");
  const double step = model.blocks_seconds(h100, m, {1, 1, 64}, m.n_layers);
  const double weights_at_peak = m.n_layers * m.block_params() * 2.0 / h100.memory_bandwidth;  // BF16 weights once
  EXPECT_GT(step, weights_at_peak);
  EXPECT_GT(step, RooflineCostModel().blocks_seconds(h100, m, {1, 1, 64}, m.n_layers));
}
