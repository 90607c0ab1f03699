#include "gpu/adapter_training.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gpu/block_adapters.hpp"
#include "gpu/transformer_block.hpp"

namespace swarmsim::gpu {
namespace {

std::vector<double> uniform(std::uint64_t seed, std::uint64_t stream, std::size_t n, double bound) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = hashed_uniform(seed, stream, i, static_cast<float>(-bound), static_cast<float>(bound));
  return v;
}

double silu(double z) { return z / (1.0 + std::exp(-z)); }
double silu_grad(double z) {
  const double s = 1.0 / (1.0 + std::exp(-z));
  return s * (1.0 + z * (1.0 - s));
}

void check(std::size_t got, std::size_t want, const char* what) {
  if (got != want) throw std::invalid_argument(std::string(what) + ": wrong size");
}

}  // namespace

LoraLinear::LoraLinear(std::vector<double> weights, int in, int out, int r, double alpha, std::uint64_t seed)
    : n_in(in), n_out(out), rank(r), scale(alpha / r), w(std::move(weights)) {
  check(w.size(), static_cast<std::size_t>(in) * out, "LoraLinear: W");
  if (r < 1) throw std::invalid_argument("LoraLinear: rank must be at least 1");
  a = uniform(seed, 1, static_cast<std::size_t>(r) * in, 1.0 / std::sqrt(static_cast<double>(in)));
  b.assign(static_cast<std::size_t>(out) * r, 0.0);
  grad_a.assign(a.size(), 0.0);
  grad_b.assign(b.size(), 0.0);
}

void LoraLinear::forward(std::span<const double> x, int rows, std::span<double> y) {
  check(x.size(), static_cast<std::size_t>(rows) * n_in, "LoraLinear::forward: x");
  check(y.size(), static_cast<std::size_t>(rows) * n_out, "LoraLinear::forward: y");
  for (int i = 0; i < rows; ++i)  // x W^T
    for (int o = 0; o < n_out; ++o) {
      double base = 0.0;
      for (int j = 0; j < n_in; ++j) base += x[static_cast<std::size_t>(i) * n_in + j] * w[static_cast<std::size_t>(o) * n_in + j];
      y[static_cast<std::size_t>(i) * n_out + o] = base;
    }
  lora_add_forward(x.data(), rows, n_in, n_out, rank, scale, a.data(), b.data(), y.data());  // + s (x A^T) B^T
  multiply_adds += static_cast<std::uint64_t>(rows) * rank * (n_in + n_out);
}

void LoraLinear::backward(std::span<const double> x, std::span<const double> dy, int rows, std::span<double> dx) {
  check(x.size(), static_cast<std::size_t>(rows) * n_in, "LoraLinear::backward: x");
  check(dy.size(), static_cast<std::size_t>(rows) * n_out, "LoraLinear::backward: dy");
  if (!dx.empty()) {
    check(dx.size(), x.size(), "LoraLinear::backward: dx");
    for (int i = 0; i < rows; ++i)  // dL/dx = dy W, plus the LoRA path's below
      for (int j = 0; j < n_in; ++j) {
        double s = 0.0;
        for (int o = 0; o < n_out; ++o) s += dy[static_cast<std::size_t>(i) * n_out + o] * w[static_cast<std::size_t>(o) * n_in + j];
        dx[static_cast<std::size_t>(i) * n_in + j] = s;
      }
  }
  lora_add_backward(x.data(), dy.data(), rows, n_in, n_out, rank, scale, a.data(), b.data(), grad_a.data(), grad_b.data(),
                    dx.empty() ? nullptr : dx.data());
}

std::vector<double> LoraLinear::merged() const {
  std::vector<double> m = w;
  for (int o = 0; o < n_out; ++o)
    for (int j = 0; j < n_in; ++j) {
      double s = 0.0;
      for (int k = 0; k < rank; ++k) s += b[static_cast<std::size_t>(o) * rank + k] * a[static_cast<std::size_t>(k) * n_in + j];
      m[static_cast<std::size_t>(o) * n_in + j] += scale * s;  // seed 002, eq. 6: W' = W + B A
    }
  return m;
}

BottleneckAdapter::BottleneckAdapter(int d, int r, std::uint64_t seed) : dim(d), rank(r) {
  if (d < 1 || r < 1) throw std::invalid_argument("BottleneckAdapter: dim and rank must be at least 1");
  w1 = uniform(seed, 2, static_cast<std::size_t>(r) * d, 1.0 / std::sqrt(static_cast<double>(d)));
  w2.assign(static_cast<std::size_t>(d) * r, 0.0);
  gain.assign(static_cast<std::size_t>(d), 1.0);
  bias.assign(static_cast<std::size_t>(d), 0.0);
  grad_w1.assign(w1.size(), 0.0);
  grad_w2.assign(w2.size(), 0.0);
  grad_gain.assign(gain.size(), 0.0);
  grad_bias.assign(bias.size(), 0.0);
}

namespace {
/// One row of the bottleneck's forward: z = W1 h, g = phi(z), s = h + W2 g, then LayerNorm(s).
struct BottleneckRow {
  std::vector<double> z, g, s, xhat;
  double inv_std = 0.0;
};
BottleneckRow bottleneck_row(const BottleneckAdapter& ad, const double* h) {
  BottleneckRow r;
  const int d = ad.dim, k = ad.rank;
  r.z.assign(static_cast<std::size_t>(k), 0.0);
  r.g.resize(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    double s = 0.0;
    for (int j = 0; j < d; ++j) s += ad.w1[static_cast<std::size_t>(i) * d + j] * h[j];
    r.z[static_cast<std::size_t>(i)] = s;
    r.g[static_cast<std::size_t>(i)] = silu(s);
  }
  r.s.resize(static_cast<std::size_t>(d));
  double mean = 0.0;
  for (int j = 0; j < d; ++j) {
    double s = h[j];
    for (int i = 0; i < k; ++i) s += ad.w2[static_cast<std::size_t>(j) * k + i] * r.g[static_cast<std::size_t>(i)];
    r.s[static_cast<std::size_t>(j)] = s;
    mean += s;
  }
  mean /= d;
  double var = 0.0;
  for (double s : r.s) var += (s - mean) * (s - mean);
  r.inv_std = 1.0 / std::sqrt(var / d + ad.eps);
  r.xhat.resize(static_cast<std::size_t>(d));
  for (int j = 0; j < d; ++j) r.xhat[static_cast<std::size_t>(j)] = (r.s[static_cast<std::size_t>(j)] - mean) * r.inv_std;
  return r;
}
}  // namespace

void BottleneckAdapter::forward(std::span<const double> h, int rows, std::span<double> out) {
  check(h.size(), static_cast<std::size_t>(rows) * dim, "BottleneckAdapter::forward: h");
  check(out.size(), h.size(), "BottleneckAdapter::forward: out");
  for (int i = 0; i < rows; ++i) {
    const BottleneckRow r = bottleneck_row(*this, &h[static_cast<std::size_t>(i) * dim]);
    for (int j = 0; j < dim; ++j)  // seed 002, eq. 5
      out[static_cast<std::size_t>(i) * dim + j] = gain[static_cast<std::size_t>(j)] * r.xhat[static_cast<std::size_t>(j)] + bias[static_cast<std::size_t>(j)];
  }
  multiply_adds += 2ull * static_cast<std::uint64_t>(rows) * rank * dim;
}

void BottleneckAdapter::backward(std::span<const double> h, std::span<const double> dout, int rows, std::span<double> dh) {
  check(h.size(), static_cast<std::size_t>(rows) * dim, "BottleneckAdapter::backward: h");
  check(dout.size(), h.size(), "BottleneckAdapter::backward: dout");
  if (!dh.empty()) check(dh.size(), h.size(), "BottleneckAdapter::backward: dh");
  const auto d = static_cast<std::size_t>(dim), k = static_cast<std::size_t>(rank);
  std::vector<double> dxhat(d), ds(d), dg(k);
  for (int i = 0; i < rows; ++i) {
    const double* hi = &h[static_cast<std::size_t>(i) * d];
    const double* go = &dout[static_cast<std::size_t>(i) * d];
    const BottleneckRow r = bottleneck_row(*this, hi);
    double mean_dxhat = 0.0, mean_dxhat_xhat = 0.0;
    for (std::size_t j = 0; j < d; ++j) {
      grad_gain[j] += go[j] * r.xhat[j];
      grad_bias[j] += go[j];
      dxhat[j] = go[j] * gain[j];
      mean_dxhat += dxhat[j];
      mean_dxhat_xhat += dxhat[j] * r.xhat[j];
    }
    mean_dxhat /= static_cast<double>(d);
    mean_dxhat_xhat /= static_cast<double>(d);
    for (std::size_t j = 0; j < d; ++j) ds[j] = r.inv_std * (dxhat[j] - mean_dxhat - r.xhat[j] * mean_dxhat_xhat);
    std::fill(dg.begin(), dg.end(), 0.0);
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t q = 0; q < k; ++q) {
        grad_w2[j * k + q] += ds[j] * r.g[q];
        dg[q] += ds[j] * w2[j * k + q];
      }
    for (std::size_t q = 0; q < k; ++q) {
      const double dz = dg[q] * silu_grad(r.z[q]);
      for (std::size_t j = 0; j < d; ++j) grad_w1[q * d + j] += dz * hi[j];
      dg[q] = dz;
    }
    if (dh.empty()) continue;
    for (std::size_t j = 0; j < d; ++j) {  // the residual path plus W1's
      double s = ds[j];
      for (std::size_t q = 0; q < k; ++q) s += dg[q] * w1[q * d + j];
      dh[static_cast<std::size_t>(i) * d + j] = s;
    }
  }
}

void sgd_step(std::span<double> theta, std::span<double> grad, double eta) {
  check(grad.size(), theta.size(), "sgd_step: grad");
  for (std::size_t i = 0; i < theta.size(); ++i) {
    theta[i] -= eta * grad[i];  // seed 002, eq. 7
    grad[i] = 0.0;
  }
}

void adam_step(std::span<double> theta, std::span<double> grad, AdamState& st, double eta, double beta1, double beta2,
               double eps) {
  check(grad.size(), theta.size(), "adam_step: grad");
  if (st.m.empty()) {
    st.m.assign(theta.size(), 0.0);
    st.v.assign(theta.size(), 0.0);
  }
  check(st.m.size(), theta.size(), "adam_step: state");
  ++st.step;
  const double c1 = 1.0 - std::pow(beta1, static_cast<double>(st.step)), c2 = 1.0 - std::pow(beta2, static_cast<double>(st.step));
  for (std::size_t i = 0; i < theta.size(); ++i) {
    st.m[i] = beta1 * st.m[i] + (1.0 - beta1) * grad[i];
    st.v[i] = beta2 * st.v[i] + (1.0 - beta2) * grad[i] * grad[i];
    double b1 = c1, b2 = c2;
    if (!st.restarted_at.empty() && st.restarted_at[i] > 0) {
      const auto t = static_cast<double>(st.step - st.restarted_at[i]);
      b1 = 1.0 - std::pow(beta1, t);
      b2 = 1.0 - std::pow(beta2, t);
    }
    theta[i] -= eta * (st.m[i] / b1) / (std::sqrt(st.v[i] / b2) + eps);  // seed 002, eq. 7 with Adam's step
    grad[i] = 0.0;
  }
}

}  // namespace swarmsim::gpu
