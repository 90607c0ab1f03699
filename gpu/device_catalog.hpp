#pragma once
// The catalog of devices a simulated node can hold, with their public spec figures.
#include <string>
#include <string_view>
#include <vector>

namespace swarmsim::gpu {

/// Whether a device is a GPU or a CPU (a CPU node prices its work from a CPU profile).
enum class DeviceKind { Gpu, Cpu };

/// Public spec figures of one device model. All rates are peaks from the vendor's sheet.
struct DeviceSpec {
  std::string name;          ///< catalog key used in scenario files, e.g. "L4"
  DeviceKind kind;           ///< GPU or CPU
  double peak_flops;         ///< dense FP16/BF16 matrix FLOP/s with FP32 accumulation (FLOP/s)
  double memory_bandwidth;   ///< peak device-memory bandwidth (bytes/s)
  double memory_bytes;       ///< device memory (bytes)
  double launch_overhead_s;  ///< fixed cost of dispatching one kernel/op (s)
  std::string source;        ///< where the figures come from
  /// Board power at full load (W): the datasheet's maximum (TDP / total graphics power). Real
  /// memory-bound decoding draws less, so this bounds a busy device's draw from above.
  double busy_power_w = 0.0;
  /// Draw when on and idle (W): the typical P8 idle that nvidia-smi and reviews report, not a
  /// datasheet figure (approximate; scenarios override both with `power`).
  double idle_power_w = 0.0;
  std::string power_source;  ///< where the power figures come from

  /// Arithmetic intensity (FLOP/byte) above which an op is compute-bound on this device.
  double ridge_point() const { return peak_flops / memory_bandwidth; }
};

/// Every device in the catalog, in a stable order.
const std::vector<DeviceSpec>& device_catalog();

/// The device named `name` (see catalog_key: case, '-', '_', ' ' and '.' ignored); nullptr if unknown.
const DeviceSpec* find_device(std::string_view name);

/// Catalog names, for error messages that list what was expected.
std::vector<std::string> device_names();

}  // namespace swarmsim::gpu
