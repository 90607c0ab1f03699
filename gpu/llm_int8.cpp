#include "gpu/llm_int8.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gpu/dtype.hpp"

namespace swarmsim::gpu {

double MixedInt8Weight::bytes() const {
  const double k = static_cast<double>(outlier_cols.size());
  return static_cast<double>(n_out) * ((n_in - k) * 1.0 + k * 2.0 + 4.0);
}

std::vector<float> MixedInt8Weight::effective_weights() const {
  std::vector<float> w(static_cast<std::size_t>(n_out) * n_in);
  for (int o = 0; o < n_out; ++o) {
    for (int i = 0; i < n_in; ++i)
      w[static_cast<std::size_t>(o) * n_in + i] = q[static_cast<std::size_t>(o) * n_in + i] * row_scale[static_cast<std::size_t>(o)];
    for (std::size_t c = 0; c < outlier_cols.size(); ++c)
      w[static_cast<std::size_t>(o) * n_in + outlier_cols[c]] =
          bf16_to_float(outliers_bf16[static_cast<std::size_t>(o) * outlier_cols.size() + c]);
  }
  return w;
}

MixedInt8Weight decompose_llm_int8(std::span<const float> w, int n_out, int n_in, std::span<const int> outlier_cols) {
  if (w.size() != static_cast<std::size_t>(n_out) * n_in) throw std::invalid_argument("decompose_llm_int8: size mismatch");
  MixedInt8Weight m;
  m.n_out = n_out;
  m.n_in = n_in;
  m.outlier_cols.assign(outlier_cols.begin(), outlier_cols.end());
  std::sort(m.outlier_cols.begin(), m.outlier_cols.end());
  m.outlier_cols.erase(std::unique(m.outlier_cols.begin(), m.outlier_cols.end()), m.outlier_cols.end());
  std::vector<bool> is_outlier(static_cast<std::size_t>(n_in), false);
  for (int c : m.outlier_cols) {
    if (c < 0 || c >= n_in) throw std::invalid_argument("decompose_llm_int8: outlier column out of range");
    is_outlier[static_cast<std::size_t>(c)] = true;
  }
  m.q.assign(w.size(), 0);
  m.row_scale.assign(static_cast<std::size_t>(n_out), 0.0f);
  m.outliers_bf16.assign(static_cast<std::size_t>(n_out) * m.outlier_cols.size(), 0);
#pragma omp parallel for schedule(static)
  for (int o = 0; o < n_out; ++o) {
    const float* row = w.data() + static_cast<std::size_t>(o) * n_in;
    float absmax = 0.0f;
    for (int i = 0; i < n_in; ++i)
      if (!is_outlier[static_cast<std::size_t>(i)]) absmax = std::max(absmax, std::fabs(row[i]));
    const float scale = absmax / 127.0f;  // vector-wise (per output row) absmax quantization
    m.row_scale[static_cast<std::size_t>(o)] = scale;
    const float inv = scale > 0 ? 1.0f / scale : 0.0f;
    for (int i = 0; i < n_in; ++i)
      if (!is_outlier[static_cast<std::size_t>(i)])
        m.q[static_cast<std::size_t>(o) * n_in + i] =
            static_cast<std::int8_t>(std::clamp(std::nearbyint(row[i] * inv), -127.0f, 127.0f));
    for (std::size_t c = 0; c < m.outlier_cols.size(); ++c)
      m.outliers_bf16[static_cast<std::size_t>(o) * m.outlier_cols.size() + c] = float_to_bf16(row[m.outlier_cols[c]]);
  }
  return m;
}

std::vector<int> outlier_columns(std::span<const float> column_absmax, float threshold) {
  std::vector<int> cols;
  for (std::size_t i = 0; i < column_absmax.size(); ++i)
    if (column_absmax[i] > threshold) cols.push_back(static_cast<int>(i));
  return cols;
}

}  // namespace swarmsim::gpu
