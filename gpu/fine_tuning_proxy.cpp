#include "gpu/fine_tuning_proxy.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/transformer_block.hpp"

namespace swarmsim::gpu {
namespace {

constexpr std::uint64_t kEmbeddingStream = 0xE1, kHeadStream = 0xE2, kTeacherStream = 0xE3, kDataStream = 0xE4;
/// The teacher's adapters differ from the base model by about this fraction of a layer's output.
constexpr double kTeacherScale = 0.1;
/// The head's weights are this many times PyTorch's default bound: peaked next-token distributions.
constexpr double kHeadGain = 4.0;

std::vector<double> uniform(std::uint64_t seed, std::uint64_t stream, std::size_t n, double bound) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = hashed_uniform(seed, stream, i, static_cast<float>(-bound), static_cast<float>(bound));
  return v;
}

/// SplitMix64's finalizer: a well-mixed 64-bit hash.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// A standard normal draw for element `i` of noise stream (seed, stream), by Box-Muller.
double hashed_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const std::uint64_t base = mix(seed ^ mix(stream ^ 0x4E015EULL));
  const double u1 = (static_cast<double>(mix(base ^ (2 * i)) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(mix(base ^ (2 * i + 1)) >> 11) * 0x1.0p-53;       // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// Log-softmax of each row of `z` [rows x n] in place.
void log_softmax(std::vector<double>& z, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    double* zr = &z[static_cast<std::size_t>(r) * n];
    const double top = *std::max_element(zr, zr + n);
    double sum = 0.0;
    for (int i = 0; i < n; ++i) sum += std::exp(zr[i] - top);
    const double lse = top + std::log(sum);
    for (int i = 0; i < n; ++i) zr[i] -= lse;
  }
}

}  // namespace

TransformerSpec proxy_model(const TransformerSpec& served, int width, int vocab) {
  if (served.n_experts != 1 || served.mlp != MlpKind::GatedSilu || served.layer_norm || served.n_kv_heads < 1)
    throw std::invalid_argument(served.name + ": the fine-tuning loss proxy is a Llama-style dense model (RMSNorm, RoPE, SiLU-gated MLP)");
  if (width < 8 || width % 8 != 0) throw std::invalid_argument("the proxy's width must be a positive multiple of 8, not " + std::to_string(width));
  if (vocab < 2) throw std::invalid_argument("the proxy's vocabulary needs at least 2 tokens");
  TransformerSpec p = served;
  p.name = served.name + " proxy/" + std::to_string(width);
  p.n_heads = 4;
  p.n_kv_heads = 4 / std::min(4, std::max(1, served.n_heads / served.n_kv_heads));
  p.head_dim = width / 4;
  p.hidden = width;
  p.ffn = std::max(1, static_cast<int>(std::lround(static_cast<double>(width) * served.ffn / served.hidden)));
  p.vocab = vocab;
  p.linear_bias = false;
  p.tied_embeddings = false;
  return p;
}

FineTuningProxy::FineTuningProxy(const TransformerSpec& served, const AdapterSpec& adapter, Optimizer optimizer, const ProxyConfig& cfg,
                                 std::uint64_t seed)
    : m_(proxy_model(served, cfg.width, cfg.vocab)), adapter_(adapter), optimizer_(optimizer), cfg_(cfg), seed_(seed) {
  if (adapter.rank < 1 || adapter.rank > m_.hidden)
    throw std::invalid_argument("the adapter's rank " + std::to_string(adapter.rank) + " is above the proxy's width " + std::to_string(m_.hidden));
  if (cfg.sequences < 1 || cfg.tokens < 1) throw std::invalid_argument("the proxy needs at least one sequence of one token per step");
  if (cfg.wire_block < 0) throw std::invalid_argument("the wire's quantization block must not be negative, not " + std::to_string(cfg.wire_block));
  const auto W = static_cast<std::size_t>(m_.hidden), V = static_cast<std::size_t>(m_.vocab);
  embedding_ = uniform(seed, kEmbeddingStream, V * W, 1.0);
  head_ = uniform(seed, kHeadStream, V * W, kHeadGain / std::sqrt(static_cast<double>(W)));
  const double alpha = adapter.rank;  // s = alpha / r = 1
  for (int l = 0; l < m_.n_layers; ++l) {
    blocks_.emplace_back(m_, generate_block_weights(m_, seed, l));
    initial_.blocks.push_back(BlockAdapters::make(m_, adapter, alpha, seed + 0x100u + static_cast<std::uint64_t>(l)));
    // The teacher: the same adapters with their zero factor drawn too, so the student can match it.
    BlockAdapters t = BlockAdapters::make(m_, adapter, alpha, seed + 0x200u + static_cast<std::uint64_t>(l));
    const std::uint64_t ts = seed ^ (kTeacherStream << 32) ^ static_cast<std::uint64_t>(l);
    for (std::optional<LoraFactors>* f : {&t.qkv, &t.o, &t.gate_up, &t.down})
      if (*f) (*f)->b = uniform(ts, static_cast<std::uint64_t>(f - &t.qkv), (*f)->b.size(), kTeacherScale * std::sqrt(3.0 / adapter.rank));
    if (t.bottleneck) t.bottleneck->w2 = uniform(ts, 7, t.bottleneck->w2.size(), kTeacherScale * std::sqrt(3.0 / adapter.rank));
    teacher_.push_back(std::move(t));
  }
  initial_.moments.resize(initial_.blocks.size());
  for (std::size_t b = 0; b < initial_.blocks.size(); ++b) initial_.moments[b].resize(initial_.blocks[b].tensors().size());
}

std::vector<int> FineTuningProxy::batch(std::uint64_t stream, std::uint64_t index, int sequences) const {
  std::vector<int> t(static_cast<std::size_t>(sequences > 0 ? sequences : cfg_.sequences) * cfg_.tokens);
  const std::uint64_t s = seed_ ^ (kDataStream << 40) ^ (stream << 20);
  for (std::size_t i = 0; i < t.size(); ++i)
    t[i] = std::min(m_.vocab - 1, static_cast<int>(hashed_uniform(s, index, i, 0.0f, static_cast<float>(m_.vocab))));
  return t;
}

int FineTuningProxy::sequences_of(const std::vector<int>& tokens) const {
  if (tokens.empty() || tokens.size() % static_cast<std::size_t>(cfg_.tokens) != 0)
    throw std::invalid_argument("FineTuningProxy: a batch is whole sequences of " + std::to_string(cfg_.tokens) + " tokens");
  return static_cast<int>(tokens.size() / static_cast<std::size_t>(cfg_.tokens));
}

std::vector<double> FineTuningProxy::embed(const std::vector<int>& tokens) const {
  const auto W = static_cast<std::size_t>(m_.hidden);
  std::vector<double> x(tokens.size() * W);
  for (std::size_t r = 0; r < tokens.size(); ++r)
    std::copy_n(&embedding_[static_cast<std::size_t>(tokens[r]) * W], W, &x[r * W]);
  return x;
}

std::vector<double> FineTuningProxy::head(const std::vector<double>& h, std::vector<double>& normed, std::vector<double>& inv) const {
  const int W = m_.hidden, V = m_.vocab;
  const int rows = static_cast<int>(h.size() / static_cast<std::size_t>(W));
  normed.resize(h.size());
  inv.resize(static_cast<std::size_t>(rows));
  std::vector<double> logits(static_cast<std::size_t>(rows) * V);
  for (int r = 0; r < rows; ++r) {
    const double* hr = &h[static_cast<std::size_t>(r) * W];
    double ss = 0.0;
    for (int i = 0; i < W; ++i) ss += hr[i] * hr[i];
    const double v = 1.0 / std::sqrt(ss / W + m_.norm_eps);
    inv[static_cast<std::size_t>(r)] = v;
    double* nr = &normed[static_cast<std::size_t>(r) * W];
    for (int i = 0; i < W; ++i) nr[i] = hr[i] * v;
    for (int o = 0; o < V; ++o) {
      const double* wo = &head_[static_cast<std::size_t>(o) * W];
      double s = 0.0;
      for (int i = 0; i < W; ++i) s += nr[i] * wo[i];
      logits[static_cast<std::size_t>(r) * V + o] = s;
    }
  }
  return logits;
}

std::vector<double> FineTuningProxy::teacher(const std::vector<int>& tokens) const {
  std::vector<double> h = embed(tokens), normed, inv;
  for (std::size_t l = 0; l < blocks_.size(); ++l) h = blocks_[l].forward(h, sequences_of(tokens), cfg_.tokens, &teacher_[l]);
  std::vector<double> p = head(h, normed, inv);
  log_softmax(p, static_cast<int>(tokens.size()), m_.vocab);
  for (double& v : p) v = std::exp(v);
  return p;
}

double FineTuningProxy::loss(const Adapters& ad, const std::vector<int>& tokens, const std::vector<double>& pt,
                             std::optional<std::uint64_t> noise_stream, std::span<const ActivationPerturbation> wrong,
                             std::span<const int> quantized_at) const {
  std::vector<double> h = embed(tokens), normed, inv;
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    if (l > 0) perturb_before(h, l, wrong);
    if (noise_stream && noisy() && l == static_cast<std::size_t>(cfg_.release_after)) release(h, *noise_stream);
    wire_before(h, l, quantized_at);
    h = blocks_[l].forward(h, sequences_of(tokens), cfg_.tokens, &ad.blocks[l]);
  }
  perturb_before(h, blocks_.size(), wrong);
  wire_before(h, blocks_.size(), quantized_at);
  std::vector<double> lp = head(h, normed, inv);
  const int rows = static_cast<int>(tokens.size());
  log_softmax(lp, rows, m_.vocab);
  double kl = 0.0;
  for (std::size_t i = 0; i < lp.size(); ++i)
    if (pt[i] > 0) kl += pt[i] * (std::log(pt[i]) - lp[i]);
  return kl / rows;
}

double FineTuningProxy::step(Adapters& ad, const std::vector<int>& tokens, const std::vector<double>& pt, std::uint64_t noise_stream,
                             std::span<const ActivationPerturbation> wrong, std::span<const int> quantized_at) {
  const double loss = gradient(ad, tokens, pt, noise_stream, wrong, quantized_at);
  apply(ad);
  return loss;
}

bool FineTuningProxy::noisy() const {
  return cfg_.noise_sigma > 0 && cfg_.release_after > 0 && cfg_.release_after < static_cast<int>(blocks_.size());
}

void FineTuningProxy::release(std::vector<double>& h, std::uint64_t noise_stream) const {
  const auto W = static_cast<std::size_t>(m_.hidden);
  for (std::size_t r = 0; r * W < h.size(); ++r) {
    double* row = &h[r * W];
    double ss = 0.0;
    for (std::size_t i = 0; i < W; ++i) ss += row[i] * row[i];
    const double norm = std::sqrt(ss);
    const double scale = norm > cfg_.clip_norm ? cfg_.clip_norm / norm : 1.0;  // seed 002, eq. 25: clip to C, then noise
    for (std::size_t i = 0; i < W; ++i) row[i] = row[i] * scale + cfg_.noise_sigma * hashed_normal(seed_, noise_stream, r * W + i);
  }
}

void FineTuningProxy::wire_before(std::vector<double>& h, std::size_t l, std::span<const int> quantized_at) const {
  if (cfg_.wire_block <= 0 || !std::binary_search(quantized_at.begin(), quantized_at.end(), static_cast<int>(l))) return;
  // Seed 002, section 4: the served model's quantizer itself, on the hidden states as sent (FP32 here).
  std::vector<float> x(h.begin(), h.end()), scales((h.size() + cfg_.wire_block - 1) / cfg_.wire_block);
  std::vector<std::int8_t> q(h.size());
  cpu::quantize_blockwise(q.data(), scales.data(), x.data(), x.size(), cfg_.wire_block);
  cpu::dequantize_blockwise(x.data(), q.data(), scales.data(), x.size(), cfg_.wire_block);
  std::copy(x.begin(), x.end(), h.begin());
}

void FineTuningProxy::perturb_before(std::vector<double>& h, std::size_t l, std::span<const ActivationPerturbation> wrong) const {
  for (const ActivationPerturbation& p : wrong)
    if (static_cast<std::size_t>(p.after_block) == l) perturb(h, p);
}

void FineTuningProxy::perturb(std::vector<double>& h, const ActivationPerturbation& p) const {
  const auto W = static_cast<std::size_t>(m_.hidden);
  for (std::size_t r = 0; r * W < h.size(); ++r) {
    double* row = &h[r * W];
    std::vector<double> u(W);
    double hh = 0.0, uu = 0.0;
    for (std::size_t i = 0; i < W; ++i) {
      u[i] = hashed_normal(seed_ ^ 0xBAD0BAD0ULL, p.stream, r * W + i);  // a Gaussian vector points anywhere alike
      hh += row[i] * row[i];
      uu += u[i] * u[i];
    }
    const double scale = uu > 0 ? p.magnitude * std::sqrt(hh / uu) : 0.0;
    for (std::size_t i = 0; i < W; ++i) row[i] += scale * u[i];
  }
}

std::vector<double> FineTuningProxy::release_backward(const std::vector<double>& before, const std::vector<double>& dz) const {
  const auto W = static_cast<std::size_t>(m_.hidden);
  std::vector<double> du = dz;  // the noise is added: its gradient passes unchanged
  for (std::size_t r = 0; r * W < before.size(); ++r) {
    const double* u = &before[r * W];
    const double* g = &dz[r * W];
    double ss = 0.0, dot = 0.0;
    for (std::size_t i = 0; i < W; ++i) {
      ss += u[i] * u[i];
      dot += u[i] * g[i];
    }
    const double norm = std::sqrt(ss);
    if (norm <= cfg_.clip_norm) continue;
    // z = C u / |u|: dz/du = (C / |u|) (I - u u^T / |u|^2).
    const double s = cfg_.clip_norm / norm;
    for (std::size_t i = 0; i < W; ++i) du[r * W + i] = s * (g[i] - u[i] * dot / ss);
  }
  return du;
}

double FineTuningProxy::gradient(Adapters& ad, const std::vector<int>& tokens, const std::vector<double>& pt, std::uint64_t noise_stream,
                                 std::span<const ActivationPerturbation> wrong, std::span<const int> quantized_at) {
  const int W = m_.hidden, V = m_.vocab, rows = static_cast<int>(tokens.size());
  const bool noisy = this->noisy();
  const auto released = static_cast<std::size_t>(cfg_.release_after);
  std::vector<std::vector<double>> inputs(blocks_.size());  // each block's input, kept for its backward pass
  std::vector<double> h = embed(tokens), normed, inv, before_release;
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    if (l > 0) perturb_before(h, l, wrong);
    if (noisy && l == released) {  // the client's blocks end here: it releases their output
      before_release = h;
      release(h, noise_stream);
    }
    wire_before(h, l, quantized_at);  // the gradient passes the rounding unchanged
    inputs[l] = h;
    h = blocks_[l].forward(h, sequences_of(tokens), cfg_.tokens, &ad.blocks[l]);
  }
  perturb_before(h, blocks_.size(), wrong);
  wire_before(h, blocks_.size(), quantized_at);
  std::vector<double> lp = head(h, normed, inv);
  log_softmax(lp, rows, V);
  double kl = 0.0;
  std::vector<double> dlogits(lp.size());
  for (std::size_t i = 0; i < lp.size(); ++i) {
    if (pt[i] > 0) kl += pt[i] * (std::log(pt[i]) - lp[i]);
    dlogits[i] = (std::exp(lp[i]) - pt[i]) / rows;  // d KL / d logits, averaged over positions
  }
  // Back through the head (frozen) and the final RMSNorm.
  std::vector<double> dh(h.size(), 0.0);
  for (int r = 0; r < rows; ++r) {
    std::vector<double> dn(static_cast<std::size_t>(W), 0.0);
    for (int o = 0; o < V; ++o) {
      const double g = dlogits[static_cast<std::size_t>(r) * V + o];
      const double* wo = &head_[static_cast<std::size_t>(o) * W];
      for (int i = 0; i < W; ++i) dn[static_cast<std::size_t>(i)] += g * wo[i];
    }
    const double v = inv[static_cast<std::size_t>(r)];
    const double* hr = &h[static_cast<std::size_t>(r) * W];
    double dot = 0.0;
    for (int i = 0; i < W; ++i) dot += dn[static_cast<std::size_t>(i)] * hr[i];
    for (int i = 0; i < W; ++i) dh[static_cast<std::size_t>(r) * W + i] = v * dn[static_cast<std::size_t>(i)] - hr[i] * v * v * v * dot / W;
  }
  for (std::size_t l = blocks_.size(); l-- > 0;) {
    dh = blocks_[l].backward(inputs[l], dh, sequences_of(tokens), cfg_.tokens, &ad.blocks[l]);
    if (noisy && l == released) dh = release_backward(before_release, dh);  // seed 002, eq. 24 across the split
  }
  return kl / rows;
}

void FineTuningProxy::apply(Adapters& ad) const {
  // Seed 002, eq. 7 on every block's adapters.
  for (std::size_t b = 0; b < ad.blocks.size(); ++b) {
    auto tensors = ad.blocks[b].tensors();
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      auto& [theta, grad] = tensors[t];
      if (optimizer_ == Optimizer::Sgd)
        sgd_step(*theta, *grad, cfg_.learning_rate);
      else
        adam_step(*theta, *grad, ad.moments[b][t], cfg_.learning_rate);
    }
  }
}

void FineTuningProxy::restart_moments(Adapters& ad, int b) const {
  for (AdamState& s : ad.moments[static_cast<std::size_t>(b)]) s = AdamState{};
}

void FineTuningProxy::restart_moment_shard(Adapters& ad, int b, int shard, int shards) const {
  for (AdamState& s : ad.moments[static_cast<std::size_t>(b)]) {
    const std::size_t n = s.m.size(), lo = n * static_cast<std::size_t>(shard) / static_cast<std::size_t>(shards),
                      hi = n * static_cast<std::size_t>(shard + 1) / static_cast<std::size_t>(shards);
    if (lo < hi && s.restarted_at.empty()) s.restarted_at.assign(n, 0);
    for (std::size_t i = lo; i < hi; ++i) {
      s.m[i] = s.v[i] = 0.0;
      s.restarted_at[i] = s.step;
    }
  }
}

}  // namespace swarmsim::gpu
