#pragma once
// The reference arithmetic of adapter fine-tuning (seed 002, section 2.4) on the host, in double
// precision: a LoRA linear layer (eq. 6), a bottleneck adapter (eq. 5), their backward passes,
// and the updates of eq. 7 (plain SGD and Adam). Tests check the gradients against finite
// differences and that training reaches a target; adapter.hpp's op counts are checked against the
// multiply-adds these functions perform.
#include <cstdint>
#include <span>
#include <vector>

namespace swarmsim::gpu {

/// A frozen linear layer W [n_out x n_in] with a LoRA adapter: y = x W^T + s (x A^T) B^T, which is
/// x W'^T with W' = W + s B A (seed 002, eq. 6; s = alpha / r scales the update, as in LoRA).
/// A starts random and B at zero, so training starts from the base model exactly.
struct LoraLinear {
  int n_in = 0, n_out = 0, rank = 0;
  double scale = 1.0;                  ///< s = alpha / r
  std::vector<double> w;               ///< [n_out x n_in], frozen
  std::vector<double> a, b;            ///< A [rank x n_in], B [n_out x rank]: the trainable parameters
  std::vector<double> grad_a, grad_b;  ///< accumulated by backward()
  std::uint64_t multiply_adds = 0;     ///< of the adapter path (not W), counted by forward()

  /// A layer with weights W, A uniform in +-1/sqrt(n_in) from `seed`, B = 0.
  LoraLinear(std::vector<double> w, int n_in, int n_out, int rank, double alpha, std::uint64_t seed);

  /// y [rows x n_out] from x [rows x n_in].
  void forward(std::span<const double> x, int rows, std::span<double> y);
  /// Adds dL/dA and dL/dB to the gradients; writes dL/dx to `dx` unless it is empty.
  void backward(std::span<const double> x, std::span<const double> dy, int rows, std::span<double> dx);
  /// W' = W + s B A (eq. 6).
  std::vector<double> merged() const;
};

/// A bottleneck adapter of width `dim` and inner width `rank`:
/// h' = LayerNorm(h + W2 phi(W1 h)) with phi = SiLU (seed 002, eq. 5). W2 starts at zero.
struct BottleneckAdapter {
  int dim = 0, rank = 0;
  double eps = 1e-5;
  std::vector<double> w1, w2, gain, bias;                  ///< W1 [rank x dim], W2 [dim x rank], LayerNorm [dim] x 2
  std::vector<double> grad_w1, grad_w2, grad_gain, grad_bias;
  std::uint64_t multiply_adds = 0;  ///< of W1 and W2, counted by forward()

  BottleneckAdapter(int dim, int rank, std::uint64_t seed);
  /// out [rows x dim] from h [rows x dim].
  void forward(std::span<const double> h, int rows, std::span<double> out);
  /// Adds the parameters' gradients; writes dL/dh to `dh` unless it is empty (recomputes the forward).
  void backward(std::span<const double> h, std::span<const double> dout, int rows, std::span<double> dh);
};

/// theta <- theta - eta * grad (seed 002, eq. 7); clears grad.
void sgd_step(std::span<double> theta, std::span<double> grad, double eta);

/// Adam's moment estimates of one parameter vector.
struct AdamState {
  std::vector<double> m, v;
  long step = 0;
  /// Empty, or per element the step at which its moments last restarted (a ZeRO shard lost with a
  /// server): its bias correction counts the steps since, as a fresh optimizer's would.
  std::vector<long> restarted_at;
};
/// Eq. 7 with Adam's bias-corrected moments in place of the gradient; clears grad.
void adam_step(std::span<double> theta, std::span<double> grad, AdamState& state, double eta, double beta1 = 0.9,
               double beta2 = 0.999, double eps = 1e-8);

}  // namespace swarmsim::gpu
