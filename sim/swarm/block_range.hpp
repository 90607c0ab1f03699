#pragma once
// A contiguous, half-open range of transformer blocks [start, end).
#include <string>

namespace swarmsim::sim {

/// Blocks [start, end) of a model served by one server or used by one chain hop.
struct BlockRange {
  int start = 0;  ///< first block (inclusive)
  int end = 0;    ///< one past the last block (exclusive)

  int size() const { return end - start; }
  bool empty() const { return end <= start; }
  bool contains(int block) const { return block >= start && block < end; }
  bool operator==(const BlockRange&) const = default;
  /// "0-15" style, inclusive last block, as printed in logs and events.
  std::string str() const { return std::to_string(start) + "-" + std::to_string(end - 1); }
};

}  // namespace swarmsim::sim
