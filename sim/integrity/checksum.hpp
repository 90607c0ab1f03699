#pragma once
// Integrity of hidden-state messages: a 64-bit FNV-1a checksum travels with every message; the
// receiver recomputes it and asks for the message again when they differ (seed 003, "Error
// Handling"). FNV-1a changes on every single-bit flip of the payload (tests/sim/checksum_test.cpp).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace swarmsim::sim {

/// FNV-1a, 64-bit (Fowler, Noll, Vo): offset basis 14695981039346656037, prime 1099511628211.
inline std::uint64_t fnv1a64(std::span<const std::byte> data) {
  std::uint64_t h = 14695981039346656037ULL;
  for (std::byte b : data) {
    h ^= static_cast<std::uint64_t>(b);
    h *= 1099511628211ULL;
  }
  return h;
}

/// A message as it travels: the payload and the sender's checksum of it.
struct CheckedMessage {
  std::vector<std::byte> payload;
  std::uint64_t checksum = 0;

  static CheckedMessage seal(std::vector<std::byte> payload) {
    CheckedMessage m{std::move(payload), 0};
    m.checksum = fnv1a64(m.payload);
    return m;
  }
  /// Whether the payload still matches the checksum the sender computed.
  bool intact() const { return fnv1a64(payload) == checksum; }
};

}  // namespace swarmsim::sim
