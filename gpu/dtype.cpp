#include "gpu/dtype.hpp"

namespace swarmsim::gpu {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::Int8: return "int8";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "f32" || name == "fp32") return DType::F32;
  if (name == "bf16") return DType::BF16;
  if (name == "f16" || name == "fp16") return DType::F16;
  if (name == "int8") return DType::Int8;
  return std::nullopt;
}

}  // namespace swarmsim::gpu
