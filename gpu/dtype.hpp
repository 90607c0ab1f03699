#pragma once
// Numeric storage formats of weights, activations and KV caches.
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

/// Lower-case name as used in scenario files: "f32", "bf16", "f16", "int8".
std::string_view dtype_name(DType t);

/// Parses a scenario dtype name; nullopt when unknown.
std::optional<DType> parse_dtype(std::string_view name);

}  // namespace swarmsim::gpu
