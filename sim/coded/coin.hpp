#pragma once
// Erasure-coded neural-network inference (seed 001, COIN): N task models, a coded model whose
// output distribution approximates Σ β_i of theirs, and the decoder that recovers a missing
// model's output from the others and the coded one. The models are two-layer perceptrons trained
// here by SGD on synthetic classification tasks, each fine-tuned from one shared pretrained model
// (as the seed's models are fine-tuned from one pretrained network); the coded model is their
// diagonal-Fisher-weighted average (seed 001, eq. 15), or, as the baseline, their plain weighted
// average. Pure: no SimGrid. docs/coded-inference.md explains the method and its deviations.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// How a run's coding reads in summaries: "COIN-coded", "COIN-coded (full Fisher)", "average-coded", or "uncoded"
/// when parity is 0.
std::string coding_name(const std::string& method, int parity);

/// Which independent stream of inputs a sample comes from.
enum class CodedStream : std::uint64_t { Train = 1, Fisher = 2, Test = 3, Serve = 4 };

/// The synthetic tasks: task t (0..N-1) has C classes with means μ_{t,y} of norm `separation` in
/// R^d; task N is the pretraining task, drawn the same way. An input of task t and class y is
/// x = μ_{t,y} + σ ε, ε ~ N(0, I); its class is uniform over the C classes. All fixed by the seed.
class CodedTasks {
 public:
  CodedTasks(const CodedSpec& spec, std::uint64_t seed);
  int tasks() const { return tasks_; }  ///< N (the pretraining task is index N)
  int classes() const { return classes_; }
  int dim() const { return dim_; }
  /// μ_{t,y}, dim() values.
  const double* mean(int task, int y) const;
  /// Sample `index` of task t's stream: writes its input to x (dim() values), returns its class.
  int sample(int task, CodedStream stream, std::uint64_t index, double* x) const;

 private:
  int tasks_, classes_, dim_;
  double noise_;
  std::uint64_t seed_;
  std::vector<double> means_;  ///< (N + 1) × C × d
};

/// A two-layer perceptron p_θ(y | x) = softmax(W2 tanh(W1 x + b1) + b2). θ holds W1 (hidden × dim,
/// row-major), b1 (hidden), W2 (classes × hidden, row-major), b2 (classes), in that order.
struct Perceptron {
  int dim = 0, hidden = 0, classes = 0;
  std::vector<double> theta;

  /// A perceptron with θ drawn from N(0, 1/fan_in) for the weights and 0 for the biases.
  static Perceptron random(int dim, int hidden, int classes, std::uint64_t seed);
  std::size_t parameters() const { return theta.size(); }
  /// p_θ(· | x) into p (classes values).
  void probabilities(const double* x, double* p) const;
  /// Adds ∂/∂θ log p_θ(y | x) to grad (parameters() values); writes p_θ(· | x) into p.
  void add_log_likelihood_gradient(const double* x, int y, double* grad, double* p) const;
  /// argmax_y p_θ(y | x).
  int predict(const double* x) const;
};

/// SGD on task `task`'s Train stream from `start`: `steps` steps of `batch` inputs, step size
/// learning_rate, minimizing −log p_θ(y | x). Deterministic: the i-th step uses Train samples
/// [offset + i·batch, offset + (i+1)·batch).
Perceptron train(const Perceptron& start, const CodedTasks& tasks, int task, int steps, int batch, double learning_rate,
                 std::uint64_t offset = 0);

/// The diagonal of model θ's Fisher information on task `task` (seed 001, diagonal approximation):
/// F = (1/P) Σ_x Σ_y p_θ(y | x) (∂ log p_θ(y | x) / ∂θ)², over the first P inputs of the task's
/// Fisher stream, with the expectation over y taken exactly.
std::vector<double> diagonal_fisher(const Perceptron& model, const CodedTasks& tasks, int task, int samples);

/// Model θ's full Fisher information on task `task` (the seed's "next check": COIN without the diagonal
/// approximation): F = (1/P) Σ_x Σ_y p_θ(y | x) g_y g_yᵀ, g_y = ∂ log p_θ(y | x) / ∂θ, over the same P inputs as
/// diagonal_fisher, whose values are its diagonal. parameters() × parameters() values, row-major, symmetric.
std::vector<double> full_fisher(const Perceptron& model, const CodedTasks& tasks, int task, int samples);

/// COIN with full Fisher matrices (seed 001, eq. 15 without the diagonal approximation), model i's Fisher on task i:
/// θ_c = (Σ_i β_i F_i + λI)^{-1} (Σ_i β_i F_i θ_i + λ θ̄), θ̄ the plain weighted average and λ = `damping` × the mean
/// diagonal of Σ_i β_i F_i (> 0): P inputs give each F_i a rank of at most P·(classes − 1), and the directions no
/// Fisher sees go to the average, as diagonal parameters without information do in fisher_average. Holds one
/// Fisher and the sum at a time: 2 × parameters()² doubles.
Perceptron full_fisher_average(const std::vector<Perceptron>& models, const CodedTasks& tasks, const std::vector<double>& beta,
                               int samples, double damping);
/// The same for several rows of weights (one coded model each), every Fisher computed once:
/// (rows + 1) × parameters² doubles.
std::vector<Perceptron> full_fisher_averages(const std::vector<Perceptron>& models, const CodedTasks& tasks,
                                             const std::vector<std::vector<double>>& betas, int samples, double damping);

/// Indices into θ of one block of a block-diagonal Fisher.
using FisherBlock = std::vector<std::size_t>;

/// One block per unit: hidden unit k's input weights and bias (dim + 1 parameters), then output
/// unit c's weights and bias (hidden + 1): the Fisher's entries between parameters of one neuron.
std::vector<FisherBlock> unit_blocks(const Perceptron& shape);

/// The Fisher's entries within each block (full_fisher's, restricted): one matrix per block,
/// |block| × |block| values, row-major, symmetric. Throws when a block names a parameter beyond θ.
std::vector<std::vector<double>> block_fisher(const Perceptron& model, const CodedTasks& tasks, int task, int samples,
                                              const std::vector<FisherBlock>& blocks);

/// full_fisher_averages with a block-diagonal Fisher: eq. 15 solved block by block, with the same
/// damping toward the plain average (λ from the mean diagonal, which blocks keep whole). `blocks`
/// must cover every parameter once; one block of every parameter is the full Fisher.
std::vector<Perceptron> block_fisher_averages(const std::vector<Perceptron>& models, const CodedTasks& tasks,
                                              const std::vector<std::vector<double>>& betas, int samples, double damping,
                                              const std::vector<FisherBlock>& blocks);

/// The damping a method uses when the scenario sets none, each the best of a sweep on the default
/// tasks (docs/coded-inference.md): 1 for "coin_full", 0.03 for "coin_block" (0 for the others).
double default_fisher_damping(const std::string& method);
/// spec.fisher_damping, or the method's default when it is 0.
double fisher_damping_of(const CodedSpec& spec);

/// Entries of the Fisher matrices `method` holds for one model of `spec`'s shape: parameters² for
/// "coin_full", Σ |block|² over unit_blocks for "coin_block", 0 for the others.
long fisher_matrix_entries(const CodedSpec& spec);

/// COIN's coded model (seed 001, eq. 15): θ_c = (Σ_i β_i F_i)^{-1} Σ_i β_i F_i θ_i, elementwise
/// with diagonal F_i; a parameter whose Σ_i β_i F_i is below `damping` × the largest takes the
/// plain weighted average (its Fisher carries no information on it).
Perceptron fisher_average(const std::vector<Perceptron>& models, const std::vector<std::vector<double>>& fishers,
                          const std::vector<double>& beta, double damping = 1e-12);

/// The baseline coded model: θ_c = Σ_i β_i θ_i / Σ_i β_i.
Perceptron weight_average(const std::vector<Perceptron>& models, const std::vector<double>& beta);

/// Decodes model j's output from the coded output and the others' (seed 001):
/// p̂_j = (p_c − Σ_{i≠j} β_i p_i) / β_j. outputs[i] is model i's (classes values; outputs[j] is not
/// read); writes p̂_j (classes values, not renormalized) to out.
void decode_output(const std::vector<const double*>& outputs, const double* coded, const std::vector<double>& beta, int j,
                   int classes, double* out);

/// Decodes the missing task outputs (seed 001's decoding, generalized to N_c coded models). With M the
/// models whose output is missing and K the coded models whose output arrived, solves, per class,
/// Σ_{j∈M} β_{k,j} p̂_j = p_{c,k} − Σ_{i∉M} β_{k,i} p_i for k ∈ K: exactly when |K| = |M| (one missing
/// and one coded output give decode_output's p̂_j), by least squares when |K| > |M|. outputs[i] is
/// model i's output or nullptr when missing, coded[k] coded model k's or nullptr, beta[k] coded
/// model k's N weights; decoded[j] receives p̂_j (classes values, not renormalized) for each missing
/// j. Throws std::invalid_argument when more outputs are missing than coded ones arrived (or more
/// than kMaxCodedParity), or when the system is singular.
void decode_outputs(const std::vector<const double*>& outputs, const std::vector<const double*>& coded,
                    const std::vector<std::vector<double>>& beta, int classes, const std::vector<double*>& decoded);

/// Row k = (1, 2^k, ..., N^k) / Σ_i i^k for k < parity: positive weights summing to 1 per row (row 0
/// uniform) whose square submatrices are all nonsingular (a generalized Vandermonde matrix on distinct
/// positive nodes is totally positive), so any N of the N + parity outputs decode the rest.
std::vector<std::vector<double>> default_coding_weights(int models, int parity);

/// A square subsystem of coding weights `beta` (parity rows of N) that cannot be solved: the coded
/// models `rows` could not decode the models `columns` (Gaussian elimination meets a pivot below
/// 1e-9 of the submatrix's largest entry). Empty vectors when every square submatrix is nonsingular.
struct SingularCoding {
  std::vector<int> rows, columns;
  bool found() const { return !rows.empty(); }
};
SingularCoding find_singular_coding(const std::vector<std::vector<double>>& beta);

/// What the coded ensemble achieves offline, on each task's Test stream.
struct CodedAccuracy {
  std::vector<double> accuracy;          ///< per task t: model t's accuracy on task t
  std::vector<double> decoded_accuracy;  ///< per task t: accuracy of model t's output decoded from the others and the coded model
  std::vector<double> normalized;        ///< per task t: decoded_accuracy / accuracy (the seed's normalized decoding accuracy)
  std::vector<double> decoded_agreement; ///< per task t: share of inputs whose decoded argmax equals model t's own
  double mean_normalized = 0;            ///< mean over tasks of `normalized`
  /// With two coded models or more, per task t: the normalized accuracy of model t's output decoded
  /// when model (t + 1) mod N's output is missing too, from coded models 0 and 1 (empty otherwise).
  std::vector<double> normalized_two_missing;
  double mean_normalized_two_missing = 0;  ///< its mean over tasks
};

/// The N task models and the N_c coded ones, built from a spec and a seed: a shared model
/// pretrained on task N, N copies fine-tuned on tasks 0..N-1, their diagonal Fishers, and coded
/// model k for each row β_k (method "coin", "coin_full" or "average"; none when parity is 0).
struct CodedEnsemble {
  CodedTasks tasks;
  std::vector<std::vector<double>> beta;     ///< β_{k,i}: one row of N per coded model (spec's, or default_coding_weights)
  Perceptron pretrained;
  std::vector<Perceptron> models;            ///< N
  std::vector<std::vector<double>> fishers;  ///< N diagonal Fishers (method "coin" only; else empty)
  std::vector<Perceptron> coded;             ///< N_c, coded[k] made with beta[k]
  bool has_coded() const { return !coded.empty(); }

  CodedEnsemble(const CodedSpec& spec, std::uint64_t seed);
  /// Accuracies over `samples` inputs of each task's Test stream (needs a coded model): the seed's
  /// figure, each model's output decoded from the others and coded model 0.
  CodedAccuracy evaluate(int samples) const;
};

}  // namespace swarmsim::sim
