#include "gpu/device_catalog.hpp"

#include "gpu/catalog_name.hpp"

#include <algorithm>

namespace swarmsim::gpu {
namespace {

constexpr double TFLOPS = 1e12;
constexpr double GBps = 1e9;
constexpr double GiB = 1024.0 * 1024.0 * 1024.0;

// Peak figures are dense (no 2:4 sparsity) FP16/BF16 tensor throughput with FP32 accumulation,
// since inference kernels accumulate in FP32. GeForce cards run FP32-accumulate MMA at half their
// FP16-accumulate rate; their sheets quote the latter, so the halved figure is used and cited.
// Launch overhead: ~5 us per CUDA kernel launch without graphs (CUDA C++ Best Practices Guide,
// "kernel launch overhead"); ~2 us per op dispatch on a thread-pooled CPU runtime.
// Power: the board's maximum (datasheet TDP or total graphics power) as the busy draw, and a
// typical idle draw (P8 state as nvidia-smi shows it, or reviews), which no datasheet gives:
// approximate, and scenarios override both per host ("power": {"idle": ..., "busy": ...}). The
// host around the board (CPU, fans, power-supply losses) is not counted.
std::vector<DeviceSpec> make_catalog() {
  return {
      // NVIDIA GeForce GTX 1650 (TU117, GDDR5): no tensor cores; FP16 runs at 2x the 2.984 TFLOP/s
      // FP32 rate = 5.97 TFLOP/s; 128-bit @ 8 Gbps = 128.1 GB/s; 4 GB.
      // Source: NVIDIA GTX 1650 product page; TechPowerUp GPU database entry "GeForce GTX 1650".
      {"GTX-1650", DeviceKind::Gpu, 5.967 * TFLOPS, 128.1 * GBps, 4 * GiB, 5e-6,
       "NVIDIA GTX 1650 spec page / TechPowerUp GPU DB (FP16 = 2x FP32, no tensor cores)",
       75.0, 7.0, "NVIDIA GTX 1650 spec page: graphics card power 75 W; idle ~7 W (reviews)"},
      // NVIDIA T4: 65 TFLOP/s FP16/FP32 mixed precision (tensor), 320 GB/s GDDR6, 16 GB.
      // Source: NVIDIA T4 Tensor Core GPU datasheet.
      {"T4", DeviceKind::Gpu, 65.0 * TFLOPS, 320.0 * GBps, 16 * GiB, 5e-6, "NVIDIA T4 datasheet",
       70.0, 10.0, "NVIDIA T4 datasheet: max power 70 W; idle ~10 W (nvidia-smi, P8)"},
      // NVIDIA L4: 121 TFLOP/s FP16/BF16 tensor dense (242 with sparsity), 300 GB/s, 24 GB.
      // Source: NVIDIA L4 Tensor Core GPU datasheet.
      {"L4", DeviceKind::Gpu, 121.0 * TFLOPS, 300.0 * GBps, 24 * GiB, 5e-6, "NVIDIA L4 datasheet",
       72.0, 16.0, "NVIDIA L4 datasheet: max TDP 72 W; idle ~16 W (nvidia-smi, P8)"},
      // NVIDIA GeForce RTX 3090: 71 TFLOP/s FP16 tensor with FP32 accumulate, dense (142 with FP16
      // accumulate); 936 GB/s GDDR6X; 24 GB. Source: NVIDIA Ampere GA102 GPU architecture whitepaper.
      {"RTX-3090", DeviceKind::Gpu, 71.0 * TFLOPS, 936.0 * GBps, 24 * GiB, 5e-6,
       "NVIDIA Ampere GA102 whitepaper (FP16 tensor, FP32 accumulate, dense)",
       350.0, 25.0, "NVIDIA RTX 3090 spec page: total graphics power 350 W; idle ~25 W (reviews)"},
      // NVIDIA GeForce RTX 4090: 165.2 TFLOP/s FP16 tensor with FP32 accumulate, dense; 1008 GB/s; 24 GB.
      // Source: NVIDIA Ada Lovelace GPU architecture whitepaper, RTX 4090 column.
      {"RTX-4090", DeviceKind::Gpu, 165.2 * TFLOPS, 1008.0 * GBps, 24 * GiB, 5e-6,
       "NVIDIA Ada Lovelace whitepaper (FP16 tensor, FP32 accumulate, dense)",
       450.0, 20.0, "NVIDIA RTX 4090 spec page: total graphics power 450 W; idle ~20 W (reviews)"},
      // NVIDIA A100 80GB SXM: 312 TFLOP/s BF16 tensor dense, 2039 GB/s HBM2e, 80 GB.
      // Source: NVIDIA A100 Tensor Core GPU datasheet.
      {"A100-80GB", DeviceKind::Gpu, 312.0 * TFLOPS, 2039.0 * GBps, 80 * GiB, 5e-6, "NVIDIA A100 datasheet (SXM)",
       400.0, 55.0, "NVIDIA A100 datasheet: max TDP 400 W (SXM); idle ~55 W (nvidia-smi)"},
      // NVIDIA H100 SXM5: 989.4 TFLOP/s BF16 tensor dense (1979 with sparsity), 3.35 TB/s HBM3, 80 GB.
      // Source: NVIDIA H100 Tensor Core GPU datasheet.
      {"H100", DeviceKind::Gpu, 989.4 * TFLOPS, 3350.0 * GBps, 80 * GiB, 5e-6, "NVIDIA H100 datasheet (SXM)",
       700.0, 70.0, "NVIDIA H100 datasheet: max TDP up to 700 W (SXM); idle ~70 W (nvidia-smi)"},
      // NVIDIA H200 SXM: 989 TFLOP/s BF16 tensor dense (1979 with sparsity), 4.8 TB/s HBM3e, 141 GB.
      // Source: NVIDIA H200 Tensor Core GPU datasheet.
      {"H200", DeviceKind::Gpu, 989.0 * TFLOPS, 4800.0 * GBps, 141e9, 5e-6, "NVIDIA H200 datasheet (SXM)",
       700.0, 75.0, "NVIDIA H200 datasheet: max TDP up to 700 W (SXM); idle ~75 W (nvidia-smi)"},
      // Generic CPU node: 16 x86-64 cores at 3.0 GHz with two 256-bit FMA units each:
      // 16 * 3.0e9 * 2 units * 8 FP32 lanes * 2 FLOP = 1.536 TFLOP/s (BF16 is computed in FP32 without
      // AMX); dual-channel DDR5-4800 = 2 * 38.4 GB/s = 76.8 GB/s; 64 GiB RAM.
      // Source: derived from the AVX2 FMA throughput (Intel optimization manual) and JEDEC DDR5-4800.
      {"cpu-generic", DeviceKind::Cpu, 1.536 * TFLOPS, 76.8 * GBps, 64 * GiB, 2e-6,
       "derived: 16 cores x 3.0 GHz x 2 FMA x 8 lanes x 2; DDR5-4800 dual channel",
       125.0, 25.0, "assumed: a 16-core desktop package at 125 W under full vector load, 25 W idle"},
  };
}

}  // namespace

const std::vector<DeviceSpec>& device_catalog() {
  static const std::vector<DeviceSpec> catalog = make_catalog();
  return catalog;
}

const DeviceSpec* find_device(std::string_view name) {
  const std::string key = catalog_key(name);
  for (const DeviceSpec& d : device_catalog())
    if (catalog_key(d.name) == key) return &d;
  return nullptr;
}

std::vector<std::string> device_names() {
  std::vector<std::string> names;
  for (const DeviceSpec& d : device_catalog()) names.push_back(d.name);
  return names;
}

}  // namespace swarmsim::gpu
