#include "gpu/block_adapters.hpp"

#include <cmath>
#include <stdexcept>

#include "gpu/transformer_block.hpp"

namespace swarmsim::gpu {

LoraFactors::LoraFactors(int in, int out, int r, double alpha, std::uint64_t seed, std::uint64_t stream)
    : n_in(in), n_out(out), rank(r), scale(alpha / r) {
  if (in < 1 || out < 1 || r < 1) throw std::invalid_argument("LoraFactors: widths and rank must be at least 1");
  const auto bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(in)));
  a.resize(static_cast<std::size_t>(r) * in);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = hashed_uniform(seed, stream, i, -bound, bound);
  b.assign(static_cast<std::size_t>(out) * r, 0.0);
  grad_a.assign(a.size(), 0.0);
  grad_b.assign(b.size(), 0.0);
}

void lora_add_forward(const double* x, int rows, int n_in, int n_out, int rank, double scale, const double* a, const double* b, double* y) {
  std::vector<double> u(static_cast<std::size_t>(rank));
  for (int i = 0; i < rows; ++i) {
    const double* xi = x + static_cast<std::size_t>(i) * n_in;
    for (int k = 0; k < rank; ++k) {  // u = x A^T
      double s = 0.0;
      for (int j = 0; j < n_in; ++j) s += xi[j] * a[static_cast<std::size_t>(k) * n_in + j];
      u[static_cast<std::size_t>(k)] = s;
    }
    double* yi = y + static_cast<std::size_t>(i) * n_out;
    for (int o = 0; o < n_out; ++o) {  // seed 002, eq. 6: x W'^T = x W^T + s u B^T
      double s = 0.0;
      for (int k = 0; k < rank; ++k) s += u[static_cast<std::size_t>(k)] * b[static_cast<std::size_t>(o) * rank + k];
      yi[o] += scale * s;
    }
  }
}

void lora_add_backward(const double* x, const double* dy, int rows, int n_in, int n_out, int rank, double scale, const double* a,
                       const double* b, double* grad_a, double* grad_b, double* dx) {
  std::vector<double> u(static_cast<std::size_t>(rank)), du(static_cast<std::size_t>(rank));
  for (int i = 0; i < rows; ++i) {
    const double* xi = x + static_cast<std::size_t>(i) * n_in;
    const double* gi = dy + static_cast<std::size_t>(i) * n_out;
    for (int k = 0; k < rank; ++k) {
      double s = 0.0, g = 0.0;
      for (int j = 0; j < n_in; ++j) s += xi[j] * a[static_cast<std::size_t>(k) * n_in + j];
      for (int o = 0; o < n_out; ++o) g += gi[o] * b[static_cast<std::size_t>(o) * rank + k];
      u[static_cast<std::size_t>(k)] = s;
      du[static_cast<std::size_t>(k)] = scale * g;  // dL/du = s dy B
    }
    for (int o = 0; o < n_out; ++o)  // dL/dB = s dy^T u
      for (int k = 0; k < rank; ++k) grad_b[static_cast<std::size_t>(o) * rank + k] += scale * gi[o] * u[static_cast<std::size_t>(k)];
    double* dxi = dx ? dx + static_cast<std::size_t>(i) * n_in : nullptr;
    for (int k = 0; k < rank; ++k) {
      const double g = du[static_cast<std::size_t>(k)];
      const double* ak = a + static_cast<std::size_t>(k) * n_in;
      double* gak = grad_a + static_cast<std::size_t>(k) * n_in;
      for (int j = 0; j < n_in; ++j) gak[j] += g * xi[j];  // dL/dA = du^T x
      if (dxi)
        for (int j = 0; j < n_in; ++j) dxi[j] += g * ak[j];  // dL/dx += du A
    }
  }
}

void LoraFactors::add_forward(const double* x, int rows, double* y) const {
  lora_add_forward(x, rows, n_in, n_out, rank, scale, a.data(), b.data(), y);
}

void LoraFactors::backward(const double* x, const double* dy, int rows, double* dx) {
  lora_add_backward(x, dy, rows, n_in, n_out, rank, scale, a.data(), b.data(), grad_a.data(), grad_b.data(), dx);
}

BlockAdapters BlockAdapters::make(const TransformerSpec& m, const AdapterSpec& spec, double alpha, std::uint64_t seed) {
  BlockAdapters ad;
  const int H = m.hidden, W = m.q_dim() + 2 * m.kv_dim();
  if (spec.kind == AdapterKind::Bottleneck) {
    ad.bottleneck.emplace(H, spec.rank, seed);
    return ad;
  }
  if (spec.targets & kLoraQkv) ad.qkv.emplace(H, W, spec.rank, alpha, seed, 11);
  if (spec.targets & kLoraO) ad.o.emplace(m.q_dim(), H, spec.rank, alpha, seed, 12);
  if (spec.targets & kLoraGateUp) ad.gate_up.emplace(H, 2 * m.ffn, spec.rank, alpha, seed, 13);
  if (spec.targets & kLoraDown) ad.down.emplace(m.ffn, H, spec.rank, alpha, seed, 14);
  return ad;
}

std::vector<std::pair<std::vector<double>*, std::vector<double>*>> BlockAdapters::tensors() {
  std::vector<std::pair<std::vector<double>*, std::vector<double>*>> t;
  for (std::optional<LoraFactors>* l : {&qkv, &o, &gate_up, &down})
    if (*l) {
      t.emplace_back(&(*l)->a, &(*l)->grad_a);
      t.emplace_back(&(*l)->b, &(*l)->grad_b);
    }
  if (bottleneck) {
    BottleneckAdapter& bn = *bottleneck;
    t.emplace_back(&bn.w1, &bn.grad_w1);
    t.emplace_back(&bn.w2, &bn.grad_w2);
    t.emplace_back(&bn.gain, &bn.grad_gain);
    t.emplace_back(&bn.bias, &bn.grad_bias);
  }
  return t;
}

std::vector<const std::vector<double>*> BlockAdapters::parameters() const {
  std::vector<const std::vector<double>*> p;
  for (auto& [theta, grad] : const_cast<BlockAdapters*>(this)->tensors()) p.push_back(theta);
  return p;
}

}  // namespace swarmsim::gpu
