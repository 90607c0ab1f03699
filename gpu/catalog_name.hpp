#pragma once
// Catalog lookups forgive case and punctuation: "rtx3090", "RTX 3090" and "RTX-3090" are one device.
#include <cctype>
#include <string>
#include <string_view>

namespace swarmsim::gpu {

/// `name` lower-cased without '-', '_', ' ' and '.'.
inline std::string catalog_key(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '-' || c == '_' || c == ' ' || c == '.') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace swarmsim::gpu
