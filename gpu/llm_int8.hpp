#pragma once
// LLM.int8-style mixed decomposition of a weight matrix (Dettmers et al. 2022; seed 002, section 4):
// the input columns that carry outlier features stay in 16 bits, the rest are quantized to 8 bits
// with one absmax scale per output row. Host-side (it is applied once, when weights are loaded).
#include <cstdint>
#include <span>
#include <vector>

namespace swarmsim::gpu {

/// A weight matrix W [n_out x n_in] (PyTorch Linear layout) in mixed int8 / 16-bit form.
struct MixedInt8Weight {
  int n_out = 0, n_in = 0;
  std::vector<int> outlier_cols;             ///< input columns kept in 16 bits, sorted
  std::vector<std::int8_t> q;                ///< [n_out x n_in]; 0 in outlier columns
  std::vector<float> row_scale;              ///< per output row: absmax over non-outlier columns / 127
  std::vector<std::uint16_t> outliers_bf16;  ///< [n_out x outlier_cols.size()], BF16 bits

  /// Bytes held: 1 per int8 weight, 2 per outlier-column weight, 4 per row scale.
  double bytes() const;
  /// The weights the decomposed product multiplies by: q * scale, and the BF16 outlier columns.
  std::vector<float> effective_weights() const;
};

/// Decomposes `w` keeping `outlier_cols` (any order, duplicates ignored) in 16 bits.
MixedInt8Weight decompose_llm_int8(std::span<const float> w, int n_out, int n_in, std::span<const int> outlier_cols);

/// Input columns whose largest observed |activation| exceeds `threshold` (LLM.int8's criterion, 6.0).
std::vector<int> outlier_columns(std::span<const float> column_absmax, float threshold);

}  // namespace swarmsim::gpu
