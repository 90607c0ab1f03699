#pragma once
// Numeric storage formats of weights, activations and KV caches.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace swarmsim::gpu {

/// Storage format of a tensor element.
enum class DType { F32, BF16, F16, Int8 };

/// Bytes per element of `t` (an Int8 weight counts 1 byte; its scales are accounted separately).
constexpr double dtype_bytes(DType t) {
  switch (t) {
    case DType::F32: return 4.0;
    case DType::BF16: return 2.0;
    case DType::F16: return 2.0;
    case DType::Int8: return 1.0;
  }
  return 0.0;
}

/// FP32 -> BF16 bits, round to nearest even (NaN stays NaN).
inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
/// BF16 bits -> FP32 (exact).
inline float bf16_to_float(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// Lower-case name as used in scenario files: "f32", "bf16", "f16", "int8".
std::string_view dtype_name(DType t);

/// Parses a scenario dtype name; nullopt when unknown.
std::optional<DType> parse_dtype(std::string_view name);

}  // namespace swarmsim::gpu
