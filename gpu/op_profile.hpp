#pragma once
// Op profiles: the measured time of each op of a block at given shapes on one real device, and
// the cost model that prices a shard's work on any catalog device from them.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "gpu/block_ops.hpp"
#include "gpu/device_catalog.hpp"
#include "gpu/shard_cost_model.hpp"

namespace swarmsim::gpu {

/// One op measured at one shape.
struct ProfileEntry {
  std::string op;       ///< block_ops name ("qkv_proj", "attention", ...)
  OpClass cls = OpClass::Vector;
  BlockWork work;       ///< the shape it was measured at
  double flops = 0.0;   ///< FLOPs of the measured op (FLOP)
  double bytes = 0.0;   ///< bytes it moved at the backend's storage dtype (bytes)
  double median_s = 0.0;
  double spread = 0.0;  ///< (p75 - p25) / median of the runs
  int runs = 0;
};

/// The measured device: its identity and its peaks (measured for CPUs, datasheet for GPUs).
struct ProfiledDevice {
  std::string name;
  DeviceKind kind = DeviceKind::Cpu;
  double peak_flops = 0.0;        ///< FLOP/s
  double memory_bandwidth = 0.0;  ///< bytes/s
  std::string peaks_source;       ///< how the peaks were obtained
  double ridge_point() const { return peak_flops / memory_bandwidth; }
};

/// A profile file (gpu/profiles/*.json).
struct OpProfile {
  std::string backend;   ///< "cpu" or "cuda"
  ProfiledDevice device;
  std::string model;     ///< the model whose shapes were measured
  std::string storage;   ///< element type the kernels ran in ("f32", "bf16")
  std::string command;   ///< the command that produced it
  std::vector<ProfileEntry> entries;

  /// Achieved fraction of the device's peak of the bound resource for `e`.
  double fraction_of_peak(const ProfileEntry& e) const;
  /// Whether `e` was compute-bound on the measured device (intensity above its ridge point).
  bool compute_bound(const ProfileEntry& e) const { return e.bytes > 0 && e.flops / e.bytes > device.ridge_point(); }

  nlohmann::json to_json() const;
  /// Parses a profile; throws std::runtime_error naming `source` and the JSON path on bad input.
  static OpProfile from_json(const nlohmann::json& j, const std::string& source);
};

/// Reads every *.json profile in `dir` (sorted by name). A missing directory gives none.
std::vector<OpProfile> load_profiles(const std::filesystem::path& dir);

/// The directory of the committed profiles (gpu/profiles of the source tree), unless
/// SWARMSIM_PROFILE_DIR says otherwise.
std::filesystem::path default_profile_dir();

/// Prices ops from measured profiles: a device is priced from the profile of its own kind (GPU or
/// CPU) whose ridge point is closest to its own; an op takes the measured efficiency of the entry
/// of the same name nearest in FLOPs, for the resource that bound it on the measured device
/// (compute-bound: the ratio of peak FLOP/s; memory-bound: the ratio of bandwidth), and the
/// roofline default for the other resource:
///   t = max(flops / (peak x e_compute), bytes / (bandwidth x e_memory)).
/// Devices with no profile of their kind are priced by the roofline model.
class ProfileCostModel final : public ShardCostModel {
 public:
  explicit ProfileCostModel(std::vector<OpProfile> profiles, RooflineEfficiency fallback = {});

  /// Seconds of one op of `model` doing `work` on `device`.
  double op_seconds(const DeviceSpec& device, const OpCost& op) const;
  /// The profile pricing `device`, or nullptr when the roofline model does.
  const OpProfile* profile_for(const DeviceSpec& device) const;

  double blocks_seconds(const DeviceSpec& device, const TransformerSpec& model, const BlockWork& work,
                        int n_blocks) const override;
  double embed_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch, int tokens) const override;
  double head_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch) const override;
  /// "profile" when every device kind has a profile, else e.g.
  /// "profile for CPU devices (cpu: AMD EPYC), roofline for GPU devices".
  std::string pricing() const override;
  double ops_seconds(const DeviceSpec& device, const OpList& ops) const override;

 private:
  std::vector<OpProfile> profiles_;
  RooflineCostModel roofline_;
};

}  // namespace swarmsim::gpu
