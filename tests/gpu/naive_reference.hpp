#pragma once
// Naive double-precision references of every kernel, written from the definitions (not from the
// kernels), for the CPU-kernel tests and the backend parity test.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "gpu/backend.hpp"

namespace swarmsim::testing {

using gpu::AttentionShape;
using gpu::Columns;

inline std::vector<float> ref_rmsnorm(std::span<const float> x, std::span<const float> w, int rows, int dim, double eps) {
  std::vector<float> out(x.size());
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
    const double inv = 1.0 / std::sqrt(ss / dim + eps);
    for (int i = 0; i < dim; ++i) out[r * dim + i] = float(x[r * dim + i] * inv * w[i]);
  }
  return out;
}

inline std::vector<float> ref_matmul(std::span<const float> x, std::span<const float> w, int rows, int n_in, int n_out) {
  std::vector<float> out(static_cast<std::size_t>(rows) * n_out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < n_out; ++o) {
      double acc = 0;
      for (int i = 0; i < n_in; ++i) acc += double(x[r * n_in + i]) * w[o * n_in + i];
      out[r * n_out + o] = float(acc);
    }
  return out;
}

/// Rotary embedding as a rotation of the complex number (x[i], x[i + d/2]) by pos * theta^(-2i/d).
inline std::vector<float> ref_rope(std::vector<float> x, Columns cols, int n_heads, const AttentionShape& s, double theta) {
  const int half = s.head_dim / 2;
  for (int r = 0; r < s.rows(); ++r) {
    const int pos = s.kv_len + r % s.new_tokens;
    for (int h = 0; h < n_heads; ++h)
      for (int i = 0; i < half; ++i) {
        float* a = &x[r * cols.stride + cols.offset + h * s.head_dim + i];
        float* b = a + half;
        const double angle = pos * std::pow(theta, -2.0 * i / s.head_dim);
        const double re = *a * std::cos(angle) - *b * std::sin(angle), im = *a * std::sin(angle) + *b * std::cos(angle);
        *a = float(re);
        *b = float(im);
      }
  }
  return x;
}

/// Causal attention from the full score matrix: query at position p sees keys 0..p.
inline std::vector<float> ref_attention(std::span<const float> q, Columns q_cols, std::span<const float> k,
                                        std::span<const float> v, const AttentionShape& s) {
  std::vector<float> out(static_cast<std::size_t>(s.rows()) * s.q_dim());
  const int kv_dim = s.kv_dim();
  for (int r = 0; r < s.rows(); ++r) {
    const int b = r / s.new_tokens, pos = s.kv_len + r % s.new_tokens;
    for (int h = 0; h < s.n_heads; ++h) {
      const int kvh = h * s.n_kv_heads / s.n_heads;
      std::vector<double> p(static_cast<std::size_t>(pos + 1));
      double mx = -1e300;
      for (int j = 0; j <= pos; ++j) {
        double dot = 0;
        for (int d = 0; d < s.head_dim; ++d)
          dot += double(q[r * q_cols.stride + q_cols.offset + h * s.head_dim + d]) *
                 k[(b * s.max_len + j) * kv_dim + kvh * s.head_dim + d];
        p[j] = dot / std::sqrt(double(s.head_dim));
        mx = std::max(mx, p[j]);
      }
      double z = 0;
      for (double& e : p) z += (e = std::exp(e - mx));
      for (int d = 0; d < s.head_dim; ++d) {
        double acc = 0;
        for (int j = 0; j <= pos; ++j) acc += p[j] / z * v[(b * s.max_len + j) * kv_dim + kvh * s.head_dim + d];
        out[r * s.q_dim() + h * s.head_dim + d] = float(acc);
      }
    }
  }
  return out;
}

inline std::vector<float> ref_silu_mul(std::span<const float> gu, int rows, int width) {
  std::vector<float> out(static_cast<std::size_t>(rows) * width);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < width; ++j) {
      const double g = gu[r * 2 * width + j], u = gu[r * 2 * width + width + j];
      out[r * width + j] = float(g / (1 + std::exp(-g)) * u);
    }
  return out;
}

inline std::vector<float> ref_gelu_tanh(std::span<const float> x) {
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = x[i];
    out[i] = float(0.5 * a * (1 + std::tanh(std::sqrt(2 / M_PI) * (a + 0.044715 * a * a * a))));
  }
  return out;
}

inline std::vector<float> ref_softmax(std::span<const float> x, int rows, int cols) {
  std::vector<float> out(x.size());
  for (int r = 0; r < rows; ++r) {
    double mx = -1e300, z = 0;
    for (int j = 0; j < cols; ++j) mx = std::max(mx, double(x[r * cols + j]));
    for (int j = 0; j < cols; ++j) z += std::exp(x[r * cols + j] - mx);
    for (int j = 0; j < cols; ++j) out[r * cols + j] = float(std::exp(x[r * cols + j] - mx) / z);
  }
  return out;
}

}  // namespace swarmsim::testing
