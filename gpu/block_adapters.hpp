#pragma once
// The trainable adapters of one Llama-style block (seed 002, section 2.4), as ReferenceBlock applies
// them: LoRA factors beside the targeted projections (eq. 6, applied unmerged) or a bottleneck
// adapter after the block (eq. 5). Double precision on the host; plain data, copied and averaged
// by whoever trains them.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "gpu/adapter.hpp"
#include "gpu/adapter_training.hpp"
#include "gpu/model_catalog.hpp"

namespace swarmsim::gpu {

/// y [rows x n_out] += s (x A^T) B^T: the LoRA path of seed 002's eq. 6, unmerged, for x [rows x n_in],
/// A [rank x n_in], B [n_out x rank].
void lora_add_forward(const double* x, int rows, int n_in, int n_out, int rank, double scale, const double* a, const double* b, double* y);
/// The LoRA path's backward: adds dL/dA and dL/dB to grad_a and grad_b, and s (dy B) A to dx
/// (unless null).
void lora_add_backward(const double* x, const double* dy, int rows, int n_in, int n_out, int rank, double scale, const double* a,
                       const double* b, double* grad_a, double* grad_b, double* dx);

/// The LoRA factors of one frozen linear layer W [n_out x n_in]: the layer computes
/// x W^T + s (x A^T) B^T = x W'^T with W' = W + s B A (seed 002, eq. 6; s = alpha / r).
struct LoraFactors {
  int n_in = 0, n_out = 0, rank = 0;
  double scale = 1.0;                  ///< s = alpha / r
  std::vector<double> a, b;            ///< A [rank x n_in], B [n_out x rank]
  std::vector<double> grad_a, grad_b;  ///< accumulated by backward()

  LoraFactors() = default;
  /// A uniform in +-1/sqrt(n_in) from (seed, stream), B = 0: training starts from the base layer.
  LoraFactors(int n_in, int n_out, int rank, double alpha, std::uint64_t seed, std::uint64_t stream);
  /// y [rows x n_out] += s (x A^T) B^T for x [rows x n_in].
  void add_forward(const double* x, int rows, double* y) const;
  /// Adds dL/dA and dL/dB to the gradients and s (dy B) A to dx [rows x n_in].
  void backward(const double* x, const double* dy, int rows, double* dx);
};

/// One block's adapters: LoRA factors on the targeted projections, or a bottleneck adapter.
struct BlockAdapters {
  std::optional<LoraFactors> qkv, o, gate_up, down;
  std::optional<BottleneckAdapter> bottleneck;

  /// The adapters `spec` describes for one block of `model` (a Llama-style dense block), at their
  /// starting values: LoRA's B and the bottleneck's W2 are zero, so the block computes the base
  /// block exactly. `alpha` scales LoRA's update (s = alpha / r); `seed` draws A or W1.
  static BlockAdapters make(const TransformerSpec& model, const AdapterSpec& spec, double alpha, std::uint64_t seed);

  /// Every trainable tensor with its gradient, in a fixed order (for the optimizer, copies and averages).
  std::vector<std::pair<std::vector<double>*, std::vector<double>*>> tensors();
  std::vector<const std::vector<double>*> parameters() const;
};

}  // namespace swarmsim::gpu
