#include "sim/coded/coin.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "sim/rng.hpp"

namespace swarmsim::sim {

namespace {
constexpr std::uint64_t kMeansStream = 0x636F696E6D75ULL;    // "coinmu"
constexpr std::uint64_t kSampleStream = 0x636F696E78ULL;     // "coinx"
constexpr std::uint64_t kInitStream = 0x636F696E696E6954ULL; // "coininiT"

/// Offsets of W1, b1, W2 and b2 in θ.
struct Layout {
  std::size_t d, h, c, w1, b1, w2, b2, size;
  explicit Layout(const Perceptron& m)
      : d(static_cast<std::size_t>(m.dim)), h(static_cast<std::size_t>(m.hidden)), c(static_cast<std::size_t>(m.classes)),
        w1(0), b1(h * d), w2(b1 + h), b2(w2 + c * h), size(b2 + c) {}
};

/// Forward pass: hidden activations tanh(W1 x + b1) into hid (hidden values), softmax into p.
void forward(const Perceptron& m, const Layout& L, const double* x, double* hid, double* p) {
  const double* th = m.theta.data();
  for (std::size_t k = 0; k < L.h; ++k) {
    const double* w = th + L.w1 + k * L.d;
    double a = th[L.b1 + k];
    for (std::size_t j = 0; j < L.d; ++j) a += w[j] * x[j];
    hid[k] = std::tanh(a);
  }
  double zmax = -INFINITY;
  for (std::size_t c = 0; c < L.c; ++c) {
    const double* w = th + L.w2 + c * L.h;
    double z = th[L.b2 + c];
    for (std::size_t k = 0; k < L.h; ++k) z += w[k] * hid[k];
    p[c] = z;
    zmax = std::max(zmax, z);
  }
  double sum = 0;  // stable softmax: subtract the largest logit
  for (std::size_t c = 0; c < L.c; ++c) {
    p[c] = std::exp(p[c] - zmax);
    sum += p[c];
  }
  for (std::size_t c = 0; c < L.c; ++c) p[c] /= sum;
}

/// Adds scale · ∂ log p(y | x) / ∂θ to grad, given the forward pass's hid and p; dh is scratch (hidden values).
void backward(const Perceptron& m, const Layout& L, const double* x, const double* hid, const double* p, int y,
              double scale, double* grad, double* dh) {
  const double* th = m.theta.data();
  std::fill(dh, dh + L.h, 0.0);
  const auto yy = static_cast<std::size_t>(y);
  for (std::size_t c = 0; c < L.c; ++c) {
    const double dz = (c == yy ? 1.0 : 0.0) - p[c];  // ∂ log p_y / ∂z_c = δ_cy − p_c
    grad[L.b2 + c] += scale * dz;
    const double* w = th + L.w2 + c * L.h;
    double* g = grad + L.w2 + c * L.h;
    for (std::size_t k = 0; k < L.h; ++k) {
      g[k] += scale * dz * hid[k];
      dh[k] += w[k] * dz;
    }
  }
  for (std::size_t k = 0; k < L.h; ++k) {
    const double da = dh[k] * (1.0 - hid[k] * hid[k]);  // tanh' = 1 − tanh²
    grad[L.b1 + k] += scale * da;
    double* g = grad + L.w1 + k * L.d;
    for (std::size_t j = 0; j < L.d; ++j) g[j] += scale * da * x[j];
  }
}

/// Per-thread scratch for the public one-input methods (no allocation once warm).
std::vector<double>& scratch(std::size_t n) {
  thread_local std::vector<double> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

void check_same_shape(const std::vector<Perceptron>& models, const std::vector<double>& beta) {
  if (models.empty()) throw std::invalid_argument("coded model: no models to combine");
  if (beta.size() != models.size()) throw std::invalid_argument("coded model: need one beta per model");
  for (const Perceptron& m : models)
    if (m.dim != models[0].dim || m.hidden != models[0].hidden || m.classes != models[0].classes ||
        m.theta.size() != models[0].theta.size())
      throw std::invalid_argument("coded model: models differ in shape");
}
}  // namespace

std::string coding_name(const std::string& method, int parity) {
  if (parity <= 0) return "uncoded";
  if (method == "coin") return "COIN-coded";
  if (method == "coin_full") return "COIN-coded (full Fisher)";
  if (method == "coin_block") return "COIN-coded (per-unit Fisher blocks)";
  return method + "-coded";
}

double default_fisher_damping(const std::string& method) {
  if (method == "coin_full") return 1.0;
  if (method == "coin_block") return 0.03;
  return 0.0;
}

double fisher_damping_of(const CodedSpec& spec) {
  return spec.fisher_damping > 0 ? spec.fisher_damping : default_fisher_damping(spec.method);
}

long fisher_matrix_entries(const CodedSpec& spec) {
  const long d = spec.dim, h = spec.hidden, c = spec.classes;
  if (spec.method == "coin_full") {
    const long n = h * (d + 1) + c * (h + 1);
    return n * n;
  }
  if (spec.method == "coin_block") return h * (d + 1) * (d + 1) + c * (h + 1) * (h + 1);
  return 0;
}

// ---- CodedTasks ----

CodedTasks::CodedTasks(const CodedSpec& spec, std::uint64_t seed)
    : tasks_(spec.models), classes_(spec.classes), dim_(spec.dim), noise_(spec.noise), seed_(seed) {
  if (tasks_ < 1 || classes_ < 2 || dim_ < 1)
    throw std::invalid_argument("coded tasks: need models >= 1, classes >= 2, dim >= 1");
  const auto d = static_cast<std::size_t>(dim_);
  const auto C = static_cast<std::size_t>(classes_);
  means_.assign(static_cast<std::size_t>(tasks_ + 1) * C * d, 0.0);
  for (int t = 0; t <= tasks_; ++t) {  // task t's means depend on t alone, not on N
    Rng rng = Rng(seed ^ kMeansStream).split(static_cast<std::uint64_t>(t));
    for (std::size_t y = 0; y < C; ++y) {  // a uniformly random direction, scaled to the separation
      double* mu = &means_[(static_cast<std::size_t>(t) * C + y) * d];
      fill_normals(rng, mu, d);
      double n2 = 0;
      for (std::size_t i = 0; i < d; ++i) n2 += mu[i] * mu[i];
      const double scale = spec.separation / std::sqrt(std::max(n2, 1e-300));
      for (std::size_t i = 0; i < d; ++i) mu[i] *= scale;
    }
  }
}

const double* CodedTasks::mean(int task, int y) const {
  return &means_[(static_cast<std::size_t>(task) * static_cast<std::size_t>(classes_) + static_cast<std::size_t>(y)) *
                 static_cast<std::size_t>(dim_)];
}

int CodedTasks::sample(int task, CodedStream stream, std::uint64_t index, double* x) const {
  Rng rng = Rng(seed_ ^ kSampleStream)
                .split(static_cast<std::uint64_t>(task))
                .split(static_cast<std::uint64_t>(stream))
                .split(index);
  const int y = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes_)));
  const auto d = static_cast<std::size_t>(dim_);
  fill_normals(rng, x, d);
  const double* mu = mean(task, y);
  for (std::size_t i = 0; i < d; ++i) x[i] = mu[i] + noise_ * x[i];
  return y;
}

// ---- Perceptron ----

Perceptron Perceptron::random(int dim, int hidden, int classes, std::uint64_t seed) {
  Perceptron m;
  m.dim = dim;
  m.hidden = hidden;
  m.classes = classes;
  const Layout L(m);
  m.theta.assign(L.size, 0.0);
  Rng rng = Rng(seed).split(kInitStream);
  fill_normals(rng, m.theta.data() + L.w1, L.h * L.d);
  fill_normals(rng, m.theta.data() + L.w2, L.c * L.h);
  const double s1 = 1.0 / std::sqrt(static_cast<double>(dim)), s2 = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (std::size_t i = 0; i < L.h * L.d; ++i) m.theta[L.w1 + i] *= s1;
  for (std::size_t i = 0; i < L.c * L.h; ++i) m.theta[L.w2 + i] *= s2;
  return m;
}

void Perceptron::probabilities(const double* x, double* p) const {
  const Layout L(*this);
  std::vector<double>& hid = scratch(L.h);
  forward(*this, L, x, hid.data(), p);
}

void Perceptron::add_log_likelihood_gradient(const double* x, int y, double* grad, double* p) const {
  const Layout L(*this);
  std::vector<double>& buf = scratch(2 * L.h);
  forward(*this, L, x, buf.data(), p);
  backward(*this, L, x, buf.data(), p, y, 1.0, grad, buf.data() + L.h);
}

int Perceptron::predict(const double* x) const {
  const Layout L(*this);
  std::vector<double>& buf = scratch(L.h + L.c);
  forward(*this, L, x, buf.data(), buf.data() + L.h);
  const double* p = buf.data() + L.h;
  return static_cast<int>(std::max_element(p, p + L.c) - p);
}

// ---- training, Fisher, coding ----

Perceptron train(const Perceptron& start, const CodedTasks& tasks, int task, int steps, int batch, double learning_rate,
                 std::uint64_t offset) {
  Perceptron m = start;
  const Layout L(m);
  std::vector<double> grad(L.size), x(L.d), hid(L.h), p(L.c), dh(L.h);
  const double scale = 1.0 / static_cast<double>(std::max(batch, 1));
  for (int s = 0; s < steps; ++s) {
    std::fill(grad.begin(), grad.end(), 0.0);
    for (int b = 0; b < batch; ++b) {
      const std::uint64_t index =
          offset + static_cast<std::uint64_t>(s) * static_cast<std::uint64_t>(batch) + static_cast<std::uint64_t>(b);
      const int y = tasks.sample(task, CodedStream::Train, index, x.data());
      forward(m, L, x.data(), hid.data(), p.data());
      backward(m, L, x.data(), hid.data(), p.data(), y, scale, grad.data(), dh.data());
    }
    for (std::size_t i = 0; i < L.size; ++i) m.theta[i] += learning_rate * grad[i];  // ascend log p = descend the NLL
  }
  return m;
}

std::vector<double> diagonal_fisher(const Perceptron& model, const CodedTasks& tasks, int task, int samples) {
  const Layout L(model);
  std::vector<double> F(L.size, 0.0), x(L.d), hid(L.h), p(L.c), wbar(L.h);
  if (samples <= 0) return F;
  const double* th = model.theta.data();
  const double inv = 1.0 / static_cast<double>(samples);
  for (int s = 0; s < samples; ++s) {
    tasks.sample(task, CodedStream::Fisher, static_cast<std::uint64_t>(s), x.data());
    forward(model, L, x.data(), hid.data(), p.data());
    // seed 001: diagonal Fisher F = E_x Σ_y p_y (∂ log p_y / ∂θ)², the sum over y in closed form:
    // output layer: Σ_y p_y (δ_cy − p_c)² = p_c (1 − p_c), times h_k² for W2[c][k];
    // hidden layer: ∂ log p_y / ∂a_k = (1 − h_k²)(W2[y][k] − w̄_k), w̄_k = Σ_c p_c W2[c][k], so
    // Σ_y p_y (·)² = (1 − h_k²)² Var_p(W2[·][k]), times x_j² for W1[k][j].
    std::fill(wbar.begin(), wbar.end(), 0.0);
    for (std::size_t c = 0; c < L.c; ++c) {
      const double v = inv * p[c] * (1.0 - p[c]);
      F[L.b2 + c] += v;
      const double* w = th + L.w2 + c * L.h;
      double* f = F.data() + L.w2 + c * L.h;
      for (std::size_t k = 0; k < L.h; ++k) {
        f[k] += v * hid[k] * hid[k];
        wbar[k] += p[c] * w[k];
      }
    }
    for (std::size_t k = 0; k < L.h; ++k) {
      double var = 0;
      for (std::size_t c = 0; c < L.c; ++c) {
        const double dev = th[L.w2 + c * L.h + k] - wbar[k];
        var += p[c] * dev * dev;
      }
      const double t = 1.0 - hid[k] * hid[k];
      const double v = inv * t * t * var;
      F[L.b1 + k] += v;
      double* f = F.data() + L.w1 + k * L.d;
      for (std::size_t j = 0; j < L.d; ++j) f[j] += v * x[j] * x[j];
    }
  }
  return F;
}

namespace {
/// Σ a_k b_k over n values, in four independent sums (so that the loop pipelines and vectorizes).
double dot(const double* a, const double* b, std::size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

}  // namespace

std::vector<FisherBlock> unit_blocks(const Perceptron& shape) {
  const Layout L(shape);
  std::vector<FisherBlock> blocks;
  for (std::size_t k = 0; k < L.h; ++k) {  // hidden unit k: its input weights W1[k][·] and bias b1[k]
    FisherBlock b;
    for (std::size_t j = 0; j < L.d; ++j) b.push_back(L.w1 + k * L.d + j);
    b.push_back(L.b1 + k);
    blocks.push_back(std::move(b));
  }
  for (std::size_t c = 0; c < L.c; ++c) {  // output unit c: W2[c][·] and b2[c]
    FisherBlock b;
    for (std::size_t k = 0; k < L.h; ++k) b.push_back(L.w2 + c * L.h + k);
    b.push_back(L.b2 + c);
    blocks.push_back(std::move(b));
  }
  return blocks;
}

std::vector<std::vector<double>> block_fisher(const Perceptron& model, const CodedTasks& tasks, int task, int samples,
                                              const std::vector<FisherBlock>& blocks) {
  const Layout L(model);
  const std::size_t n = L.size;
  std::vector<std::vector<double>> F;
  for (const FisherBlock& b : blocks) {
    for (const std::size_t i : b)
      if (i >= n) throw std::invalid_argument("block_fisher: a block names parameter " + std::to_string(i) + " of " + std::to_string(n));
    F.emplace_back(b.size() * b.size(), 0.0);
  }
  if (samples <= 0) return F;
  std::vector<double> x(L.d), hid(L.h), p(L.c), g(n), dh(L.h);
  const double inv = 1.0 / static_cast<double>(samples);
  // seed 001: F = E_x Σ_y p_y (∂ log p_y/∂θ)(∂ log p_y/∂θ)ᵀ, the expectation over y exact, kept within
  // each block. The scaled gradients √(p_y/P) g_y are gathered kChunk at a time as the columns of H
  // (n × kChunk, a row per parameter) and each block gets H_b H_bᵀ tile by tile: one pass over the
  // matrices per chunk instead of one per gradient, which made the sum memory-bound.
  constexpr std::size_t kChunk = 256, kTile = 32;
  std::vector<double> H(n * kChunk);
  std::size_t filled = 0;
  const auto flush = [&] {
    for (std::size_t bi = 0; bi < blocks.size(); ++bi) {
      const FisherBlock& idx = blocks[bi];
      const std::size_t m = idx.size();
      double* f = F[bi].data();
      for (std::size_t a0 = 0; a0 < m; a0 += kTile)
        for (std::size_t b0 = 0; b0 <= a0; b0 += kTile)
          for (std::size_t a = a0; a < std::min(a0 + kTile, m); ++a)
            for (std::size_t b = b0; b < std::min(b0 + kTile, a + 1); ++b)
              f[a * m + b] += dot(&H[idx[a] * kChunk], &H[idx[b] * kChunk], filled);
    }
    filled = 0;
  };
  for (int s = 0; s < samples; ++s) {
    tasks.sample(task, CodedStream::Fisher, static_cast<std::uint64_t>(s), x.data());
    forward(model, L, x.data(), hid.data(), p.data());
    for (std::size_t y = 0; y < L.c; ++y) {
      std::fill(g.begin(), g.end(), 0.0);
      backward(model, L, x.data(), hid.data(), p.data(), static_cast<int>(y), 1.0, g.data(), dh.data());
      const double root_w = std::sqrt(inv * p[y]);
      for (std::size_t a = 0; a < n; ++a) H[a * kChunk + filled] = root_w * g[a];
      if (++filled == kChunk) flush();
    }
  }
  if (filled > 0) flush();
  for (std::size_t bi = 0; bi < blocks.size(); ++bi) {  // the lower triangles, mirrored
    const std::size_t m = blocks[bi].size();
    for (std::size_t a = 0; a < m; ++a)
      for (std::size_t b = a + 1; b < m; ++b) F[bi][a * m + b] = F[bi][b * m + a];
  }
  return F;
}

std::vector<double> full_fisher(const Perceptron& model, const CodedTasks& tasks, int task, int samples) {
  FisherBlock all(model.parameters());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  return std::move(block_fisher(model, tasks, task, samples, {all}).front());
}

namespace {
/// Solves S z = r in place (r becomes z) for a symmetric positive definite S (n×n, row-major; its lower triangle is
/// overwritten by the Cholesky factor). Throws when S is not positive definite. Left-looking by panels of kPanel
/// columns: a panel first takes off what the columns before it contribute, reading its own rows from cache, then is
/// factored on its own columns; unblocked, every column streamed the whole matrix.
void cholesky_solve(std::vector<double>& S, std::vector<double>& r) {
  const std::size_t n = r.size();
  constexpr std::size_t kPanel = 64;
  for (std::size_t k0 = 0; k0 < n; k0 += kPanel) {
    const std::size_t k1 = std::min(k0 + kPanel, n);
    for (std::size_t i = k0; i < n; ++i) {  // L_ij = S_ij − Σ_{k < k0} L_ik L_jk, for the panel's columns j ≤ i
      double* ri = &S[i * n];
      for (std::size_t j = k0; j < std::min(k1, i + 1); ++j) ri[j] -= dot(ri, &S[j * n], k0);
    }
    for (std::size_t j = k0; j < k1; ++j) {  // then the panel's own columns k0 ≤ k < j
      double* rj = &S[j * n];
      const double d = rj[j] - dot(rj + k0, rj + k0, j - k0);
      if (!(d > 0)) throw std::runtime_error("coded model: the damped Fisher sum is not positive definite");
      const double ljj = std::sqrt(d);
      rj[j] = ljj;
      for (std::size_t i = j + 1; i < n; ++i) {
        double* ri = &S[i * n];
        ri[j] = (ri[j] - dot(ri + k0, rj + k0, j - k0)) / ljj;
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i) {  // L y = r
    const double* ri = &S[i * n];
    r[i] = (r[i] - dot(ri, r.data(), i)) / ri[i];
  }
  for (std::size_t i = n; i-- > 0;) {  // Lᵀ z = y
    double v = r[i];
    for (std::size_t k = i + 1; k < n; ++k) v -= S[k * n + i] * r[k];
    r[i] = v / S[i * n + i];
  }
}
}  // namespace

Perceptron full_fisher_average(const std::vector<Perceptron>& models, const CodedTasks& tasks, const std::vector<double>& beta,
                               int samples, double damping) {
  return full_fisher_averages(models, tasks, {beta}, samples, damping).front();
}

std::vector<Perceptron> full_fisher_averages(const std::vector<Perceptron>& models, const CodedTasks& tasks,
                                             const std::vector<std::vector<double>>& betas, int samples, double damping) {
  if (models.empty()) throw std::invalid_argument("coded model: no models to combine");
  FisherBlock all(models[0].parameters());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  return block_fisher_averages(models, tasks, betas, samples, damping, {all});
}

std::vector<Perceptron> block_fisher_averages(const std::vector<Perceptron>& models, const CodedTasks& tasks,
                                              const std::vector<std::vector<double>>& betas, int samples, double damping,
                                              const std::vector<FisherBlock>& blocks) {
  if (betas.empty()) throw std::invalid_argument("block_fisher_averages: no rows of weights");
  for (const std::vector<double>& beta : betas) check_same_shape(models, beta);
  if (!(damping > 0)) throw std::invalid_argument("full_fisher_average: damping must be > 0");
  const std::size_t n = models[0].theta.size(), rows = betas.size(), nb = blocks.size();
  std::vector<char> covered(n, 0);
  for (const FisherBlock& b : blocks)
    for (const std::size_t i : b) {
      if (i >= n || covered[i]) throw std::invalid_argument("block_fisher_averages: blocks must cover each parameter once");
      covered[i] = 1;
    }
  if (std::find(covered.begin(), covered.end(), 0) != covered.end())
    throw std::invalid_argument("block_fisher_averages: blocks must cover each parameter once");
  // Per row k and block b: S = Σ_i β_ki F_i,b and r = Σ_i β_ki F_i,b θ_i,b.
  std::vector<std::vector<std::vector<double>>> S(rows), r(rows);
  for (std::size_t k = 0; k < rows; ++k)
    for (const FisherBlock& b : blocks) {
      S[k].emplace_back(b.size() * b.size(), 0.0);
      r[k].emplace_back(b.size(), 0.0);
    }
  std::vector<double> th;
  for (std::size_t i = 0; i < models.size(); ++i) {  // one model's Fishers alive at a time, added to every row's sums
    const std::vector<std::vector<double>> F = block_fisher(models[i], tasks, static_cast<int>(i), samples, blocks);
    for (std::size_t bi = 0; bi < nb; ++bi) {
      const std::size_t m = blocks[bi].size();
      th.resize(m);
      for (std::size_t a = 0; a < m; ++a) th[a] = models[i].theta[blocks[bi][a]];
      for (std::size_t a = 0; a < m; ++a) {
        const double* fa = &F[bi][a * m];
        const double fth = dot(fa, th.data(), m);
        for (std::size_t k = 0; k < rows; ++k) {
          const double b = betas[k][i];
          double* sa = &S[k][bi][a * m];
          for (std::size_t c = 0; c < m; ++c) sa[c] += b * fa[c];
          r[k][bi][a] += b * fth;
        }
      }
    }
  }
  std::vector<Perceptron> out;
  for (std::size_t k = 0; k < rows; ++k) {
    const Perceptron avg = weight_average(models, betas[k]);
    double trace = 0;  // the Fisher sum's diagonal is whole in any blocking
    for (std::size_t bi = 0; bi < nb; ++bi)
      for (std::size_t a = 0; a < blocks[bi].size(); ++a) trace += S[k][bi][a * blocks[bi].size() + a];
    const double lambda = damping * std::max(trace / static_cast<double>(n), 1e-300);
    out.push_back(models[0]);
    for (std::size_t bi = 0; bi < nb; ++bi) {
      const FisherBlock& idx = blocks[bi];
      const std::size_t m = idx.size();
      for (std::size_t a = 0; a < m; ++a) {
        S[k][bi][a * m + a] += lambda;  // directions the Fishers do not see are pulled to the plain average
        r[k][bi][a] += lambda * avg.theta[idx[a]];
      }
      // seed 001, eq. 15 with full (or block-diagonal) F_i: θ_c = (Σ β_i F_i + λI)^{-1} (Σ β_i F_i θ_i + λ θ̄)
      cholesky_solve(S[k][bi], r[k][bi]);
      for (std::size_t a = 0; a < m; ++a) out.back().theta[idx[a]] = r[k][bi][a];
      std::vector<double>().swap(S[k][bi]);
    }
  }
  return out;
}

Perceptron fisher_average(const std::vector<Perceptron>& models, const std::vector<std::vector<double>>& fishers,
                          const std::vector<double>& beta, double damping) {
  check_same_shape(models, beta);
  if (fishers.size() != models.size()) throw std::invalid_argument("fisher_average: need one Fisher per model");
  const std::size_t n = models[0].theta.size();
  for (const auto& f : fishers)
    if (f.size() != n) throw std::invalid_argument("fisher_average: a Fisher's size differs from the parameters'");
  Perceptron out = models[0];
  std::vector<double> weight(n, 0.0);
  double largest = 0;
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t i = 0; i < models.size(); ++i) weight[k] += beta[i] * fishers[i][k];
    largest = std::max(largest, weight[k]);
  }
  double bsum = 0;
  for (double b : beta) bsum += b;
  for (std::size_t k = 0; k < n; ++k) {
    double num = 0, avg = 0;
    for (std::size_t i = 0; i < models.size(); ++i) {
      num += beta[i] * fishers[i][k] * models[i].theta[k];
      avg += beta[i] * models[i].theta[k];
    }
    if (weight[k] <= 0 || weight[k] < damping * largest)
      out.theta[k] = avg / bsum;  // no Fisher information on this parameter: the plain weighted average
    else
      out.theta[k] = num / weight[k];  // seed 001, eq. 15: θ_c = (Σ β_i F_i)^{-1} Σ β_i F_i θ_i
  }
  return out;
}

Perceptron weight_average(const std::vector<Perceptron>& models, const std::vector<double>& beta) {
  check_same_shape(models, beta);
  double bsum = 0;
  for (double b : beta) bsum += b;
  Perceptron out = models[0];
  for (std::size_t k = 0; k < out.theta.size(); ++k) {
    double s = 0;
    for (std::size_t i = 0; i < models.size(); ++i) s += beta[i] * models[i].theta[k];
    out.theta[k] = s / bsum;
  }
  return out;
}

void decode_output(const std::vector<const double*>& outputs, const double* coded, const std::vector<double>& beta, int j,
                   int classes, double* out) {
  const auto C = static_cast<std::size_t>(classes);
  const auto jj = static_cast<std::size_t>(j);
  for (std::size_t c = 0; c < C; ++c) {
    double v = coded[c];
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (i != jj) v -= beta[i] * outputs[i][c];
    out[c] = v / beta[jj];  // seed 001: decoding, p̂_j = (p_c − Σ_{i≠j} β_i p_i) / β_j
  }
}

namespace {
/// Solves the n × n system A x = b (row-major, n ≤ kMaxCodedParity) by Gaussian elimination with
/// partial pivoting, in place (b becomes x); false when a pivot falls below `tiny`.
bool solve_small(double* A, double* b, int n, double tiny) {
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::abs(A[r * n + c]) > std::abs(A[p * n + c])) p = r;
    if (!(std::abs(A[p * n + c]) > tiny)) return false;
    if (p != c) {
      for (int k = 0; k < n; ++k) std::swap(A[p * n + k], A[c * n + k]);
      std::swap(b[p], b[c]);
    }
    for (int r = c + 1; r < n; ++r) {
      const double f = A[r * n + c] / A[c * n + c];
      if (f == 0) continue;
      for (int k = c; k < n; ++k) A[r * n + k] -= f * A[c * n + k];
      b[r] -= f * b[c];
    }
  }
  for (int c = n - 1; c >= 0; --c) {
    double v = b[c];
    for (int k = c + 1; k < n; ++k) v -= A[c * n + k] * b[k];
    b[c] = v / A[c * n + c];
  }
  return true;
}
}  // namespace

void decode_outputs(const std::vector<const double*>& outputs, const std::vector<const double*>& coded,
                    const std::vector<std::vector<double>>& beta, int classes, const std::vector<double*>& decoded) {
  constexpr int kMax = kMaxCodedParity;
  int missing[kMax], arrived[kMax];
  int m = 0, k = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (!outputs[i]) {
      if (m == kMax) throw std::invalid_argument("decode_outputs: more than kMaxCodedParity outputs missing");
      missing[m++] = static_cast<int>(i);
    }
  if (m == 0) return;
  if (coded.size() > beta.size()) throw std::invalid_argument("decode_outputs: need one row of weights per coded model");
  for (std::size_t c = 0; c < coded.size() && k < kMax; ++c)
    if (coded[c]) arrived[k++] = static_cast<int>(c);
  if (k < m)
    throw std::invalid_argument("decode_outputs: " + std::to_string(m) + " outputs missing but only " + std::to_string(k) +
                                " coded outputs arrived");
  if (decoded.size() != outputs.size()) throw std::invalid_argument("decode_outputs: need one destination per model");
  // The system's matrix: G = B_{K,M} when square, else the normal equations' B_{K,M}ᵀ B_{K,M}.
  double G[kMax * kMax], largest = 0;
  auto b_at = [&](int row, int col) { return beta[static_cast<std::size_t>(arrived[row])][static_cast<std::size_t>(missing[col])]; };
  for (int a = 0; a < m; ++a)
    for (int c = 0; c < m; ++c) {
      double v = 0;
      if (k == m) v = b_at(a, c);
      else
        for (int row = 0; row < k; ++row) v += b_at(row, a) * b_at(row, c);
      G[a * m + c] = v;
      largest = std::max(largest, std::abs(v));
    }
  for (int c = 0; c < classes; ++c) {
    double rhs[kMax], x[kMax], A[kMax * kMax];
    for (int row = 0; row < k; ++row) {  // r_k = p_{c,k} − Σ_{i∉M} β_{k,i} p_i
      const std::vector<double>& w = beta[static_cast<std::size_t>(arrived[row])];
      double v = coded[static_cast<std::size_t>(arrived[row])][c];
      for (std::size_t i = 0; i < outputs.size(); ++i)
        if (outputs[i]) v -= w[i] * outputs[i][c];
      rhs[row] = v;
    }
    for (int a = 0; a < m; ++a) {
      if (k == m) x[a] = rhs[a];
      else {
        x[a] = 0;
        for (int row = 0; row < k; ++row) x[a] += b_at(row, a) * rhs[row];
      }
    }
    std::copy(G, G + m * m, A);
    // seed 001: decoding, p̂_j = (p_c − Σ_{i≠j} β_i p_i) / β_j, for several coded models a linear system
    if (!solve_small(A, x, m, 1e-12 * largest)) throw std::invalid_argument("decode_outputs: the coding weights' system is singular");
    for (int a = 0; a < m; ++a) decoded[static_cast<std::size_t>(missing[a])][c] = x[a];
  }
}

std::vector<std::vector<double>> default_coding_weights(int models, int parity) {
  std::vector<std::vector<double>> rows;
  for (int k = 0; k < parity; ++k) {
    std::vector<double> row(static_cast<std::size_t>(models));
    double sum = 0;
    for (int i = 0; i < models; ++i) sum += row[static_cast<std::size_t>(i)] = std::pow(static_cast<double>(i + 1), k);
    for (double& v : row) v /= sum;
    rows.push_back(std::move(row));
  }
  return rows;
}

SingularCoding find_singular_coding(const std::vector<std::vector<double>>& beta) {
  const int nc = static_cast<int>(beta.size());
  if (nc == 0) return {};
  const int n = static_cast<int>(beta[0].size());
  // Every square submatrix: choose m of the coded rows and m of the model columns.
  std::vector<int> rows, cols;
  SingularCoding bad;
  auto check = [&](int m) {
    double A[kMaxCodedParity * kMaxCodedParity], b[kMaxCodedParity] = {0, 0, 0, 0}, largest = 0;
    for (int a = 0; a < m; ++a)
      for (int c = 0; c < m; ++c) {
        A[a * m + c] = beta[static_cast<std::size_t>(rows[static_cast<std::size_t>(a)])][static_cast<std::size_t>(cols[static_cast<std::size_t>(c)])];
        largest = std::max(largest, std::abs(A[a * m + c]));
      }
    return !solve_small(A, b, m, 1e-9 * largest);
  };
  std::function<bool(int, int)> choose_cols = [&](int from, int m) {
    if (static_cast<int>(cols.size()) == m) return check(m);
    for (int c = from; c < n; ++c) {
      cols.push_back(c);
      if (choose_cols(c + 1, m)) return true;
      cols.pop_back();
    }
    return false;
  };
  std::function<bool(int, int)> choose_rows = [&](int from, int m) {
    if (static_cast<int>(rows.size()) == m) return choose_cols(0, m);
    for (int r = from; r < nc; ++r) {
      rows.push_back(r);
      if (choose_rows(r + 1, m)) return true;
      rows.pop_back();
    }
    return false;
  };
  for (int m = 1; m <= std::min(std::min(nc, n), static_cast<int>(kMaxCodedParity)); ++m) {
    rows.clear();
    cols.clear();
    if (choose_rows(0, m)) {
      bad.rows = rows;
      bad.columns = cols;
      return bad;
    }
  }
  return bad;
}

// ---- CodedEnsemble ----

CodedEnsemble::CodedEnsemble(const CodedSpec& spec, std::uint64_t seed) : tasks(spec, seed) {
  const int N = spec.models;
  if (spec.parity < 0 || spec.parity > std::min(N, kMaxCodedParity))
    throw std::invalid_argument("coded: parity must be in [0, min(models, " + std::to_string(kMaxCodedParity) + ")]");
  if (!spec.beta.empty()) {
    if (static_cast<int>(spec.beta.size()) != spec.parity) throw std::invalid_argument("coded: beta needs one row per coded model");
    for (const std::vector<double>& row : spec.beta) {
      if (static_cast<int>(row.size()) != N) throw std::invalid_argument("coded: beta needs one value per model in each row");
      for (double b : row)
        if (!(b > 0)) throw std::invalid_argument("coded: every beta must be > 0");
    }
    if (find_singular_coding(spec.beta).found()) throw std::invalid_argument("coded: beta has a singular square submatrix");
    beta = spec.beta;
  } else {
    beta = default_coding_weights(N, spec.parity);
  }
  if (spec.method != "coin" && spec.method != "coin_full" && spec.method != "coin_block" && spec.method != "average")
    throw std::invalid_argument("coded: unknown method '" + spec.method + "' (coin, coin_full, coin_block or average)");
  pretrained = Perceptron::random(spec.dim, spec.hidden, spec.classes, seed ^ kInitStream);
  pretrained = train(pretrained, tasks, N, spec.pretrain_steps, spec.batch, spec.learning_rate);
  models.reserve(static_cast<std::size_t>(N));
  for (int i = 0; i < N; ++i)
    models.push_back(train(pretrained, tasks, i, spec.finetune_steps, spec.batch, spec.learning_rate));
  if (spec.parity <= 0) return;
  if (spec.method == "coin") {  // the Fishers do not depend on β: one set for every coded model
    fishers.reserve(static_cast<std::size_t>(N));
    for (int i = 0; i < N; ++i)
      fishers.push_back(diagonal_fisher(models[static_cast<std::size_t>(i)], tasks, i, spec.fisher_samples));
  }
  if (spec.method == "coin_full") {  // the full Fishers once for every row
    coded = full_fisher_averages(models, tasks, beta, spec.fisher_samples, fisher_damping_of(spec));
    return;
  }
  if (spec.method == "coin_block") {
    coded = block_fisher_averages(models, tasks, beta, spec.fisher_samples, fisher_damping_of(spec), unit_blocks(models[0]));
    return;
  }
  for (const std::vector<double>& row : beta)
    coded.push_back(spec.method == "coin" ? fisher_average(models, fishers, row) : weight_average(models, row));
}

CodedAccuracy CodedEnsemble::evaluate(int samples) const {
  if (!has_coded()) throw std::logic_error("CodedEnsemble::evaluate needs a coded model (parity > 0)");
  const int N = tasks.tasks();
  const auto C = static_cast<std::size_t>(tasks.classes());
  const auto n = static_cast<std::size_t>(N);
  CodedAccuracy acc;
  acc.accuracy.assign(n, 0.0);
  acc.decoded_accuracy.assign(n, 0.0);
  acc.normalized.assign(n, 0.0);
  acc.decoded_agreement.assign(n, 0.0);
  const bool two = coded.size() >= 2;  // also decode t with model (t + 1) mod N missing too, from coded models 0 and 1
  if (two) acc.normalized_two_missing.assign(n, 0.0);
  std::vector<double> x(static_cast<std::size_t>(tasks.dim())), probs(n * C), pc(C), dec(C), pc2(2 * C), dec2(2 * C);
  std::vector<const double*> outputs(n), outputs2(n);
  std::vector<double*> dest2(n, nullptr);
  for (std::size_t i = 0; i < n; ++i) outputs[i] = &probs[i * C];
  if (samples <= 0) return acc;
  for (int t = 0; t < N; ++t) {
    const auto tt = static_cast<std::size_t>(t);
    const std::size_t partner = (tt + 1) % n;
    int correct = 0, decoded = 0, agree = 0, decoded_two = 0;
    for (int s = 0; s < samples; ++s) {
      const int y = tasks.sample(t, CodedStream::Test, static_cast<std::uint64_t>(s), x.data());
      for (std::size_t i = 0; i < n; ++i) models[i].probabilities(x.data(), &probs[i * C]);  // every model sees the input
      coded[0].probabilities(x.data(), pc.data());  // the seed's figure: coded model 0
      decode_output(outputs, pc.data(), beta[0], t, tasks.classes(), dec.data());
      const double* own = outputs[tt];
      const int own_arg = static_cast<int>(std::max_element(own, own + C) - own);
      const int dec_arg = static_cast<int>(std::max_element(dec.begin(), dec.end()) - dec.begin());
      correct += own_arg == y;
      decoded += dec_arg == y;
      agree += dec_arg == own_arg;
      if (two) {
        outputs2 = outputs;
        outputs2[tt] = outputs2[partner] = nullptr;
        dest2[tt] = dec2.data();
        dest2[partner] = dec2.data() + C;
        coded[0].probabilities(x.data(), pc2.data());
        coded[1].probabilities(x.data(), pc2.data() + C);
        decode_outputs(outputs2, {pc2.data(), pc2.data() + C}, beta, tasks.classes(), dest2);
        dest2[tt] = dest2[partner] = nullptr;
        decoded_two += static_cast<int>(std::max_element(dec2.begin(), dec2.begin() + static_cast<std::ptrdiff_t>(C)) - dec2.begin()) == y;
      }
    }
    const double m = static_cast<double>(samples);
    if (two && correct > 0) {
      acc.normalized_two_missing[tt] = (decoded_two / m) / (correct / m);
      acc.mean_normalized_two_missing += acc.normalized_two_missing[tt] / N;
    }
    acc.accuracy[tt] = correct / m;
    acc.decoded_accuracy[tt] = decoded / m;
    acc.decoded_agreement[tt] = agree / m;
    acc.normalized[tt] = acc.accuracy[tt] > 0 ? acc.decoded_accuracy[tt] / acc.accuracy[tt] : 0.0;
    acc.mean_normalized += acc.normalized[tt] / N;
  }
  return acc;
}

}  // namespace swarmsim::sim
