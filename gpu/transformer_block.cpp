#include "gpu/transformer_block.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gpu/llm_int8.hpp"

namespace swarmsim::gpu {
namespace {

std::uint64_t mix(std::uint64_t z) {  // SplitMix64 finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Streams of one block: one per matrix, so that every matrix is generated independently.
enum Stream : std::uint64_t { kAttnNorm = 1, kMlpNorm, kQkv, kO, kGateUp, kDown, kEmbedding, kFinalNorm, kLmHead, kOutliers };

std::vector<float> uniform_matrix(std::uint64_t seed, std::uint64_t stream, std::size_t n, float bound) {
  std::vector<float> m(n);
  // Small matrices (the fine-tuning loss proxy's) stay on this thread: no OpenMP team is started,
  // so a process that forks afterwards (run_isolated) leaves its child no thread pool to hang on.
#pragma omp parallel for schedule(static) if (n >= (std::size_t{1} << 16))
  for (std::size_t i = 0; i < n; ++i) m[i] = hashed_uniform(seed, stream, i, -bound, bound);
  return m;
}

std::vector<float> norm_gains(const TransformerSpec& model, std::uint64_t seed, std::uint64_t stream) {
  std::vector<float> g(static_cast<std::size_t>(model.hidden));
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = hashed_uniform(seed, stream, i, 0.9f, 1.1f);
  for (int d : planted_outlier_dims(model, seed)) g[static_cast<std::size_t>(d)] *= 12.0f;
  return g;
}

}  // namespace

float hashed_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t index, float lo, float hi) {
  const std::uint64_t h = mix(mix(seed * 0x9E3779B97F4A7C15ULL + stream) + index);
  return lo + (hi - lo) * static_cast<float>(static_cast<double>(h >> 11) * 0x1.0p-53);
}

std::vector<int> planted_outlier_dims(const TransformerSpec& model, std::uint64_t seed) {
  const int count = std::max(1, model.hidden / 500);  // 0.2% of the dimensions
  std::vector<int> dims;
  for (std::uint64_t k = 0; static_cast<int>(dims.size()) < count; ++k) {
    const int d = static_cast<int>(mix(seed ^ (kOutliers << 40) ^ k) % static_cast<std::uint64_t>(model.hidden));
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) dims.push_back(d);
  }
  std::sort(dims.begin(), dims.end());
  return dims;
}

double BlockWeightsHost::params() const {
  return static_cast<double>(attn_norm.size() + mlp_norm.size() + w_qkv.size() + w_o.size() + w_gate_up.size() +
                             w_down.size());
}

BlockWeightsHost generate_block_weights(const TransformerSpec& m, std::uint64_t seed, int layer) {
  if (m.n_experts != 1 || m.mlp != MlpKind::GatedSilu || m.layer_norm)
    throw std::invalid_argument(m.name + ": real execution supports Llama-style dense blocks (RMSNorm, RoPE, SiLU-gated MLP)");
  const std::uint64_t s = mix(seed + 0x1000u * static_cast<std::uint64_t>(layer + 1));
  const std::size_t h = static_cast<std::size_t>(m.hidden), q = static_cast<std::size_t>(m.q_dim()),
                    kv = static_cast<std::size_t>(m.kv_dim()), f = static_cast<std::size_t>(m.ffn);
  BlockWeightsHost w;
  w.attn_norm = norm_gains(m, seed, kAttnNorm);
  w.mlp_norm = norm_gains(m, seed, kMlpNorm);
  w.w_qkv = uniform_matrix(s, kQkv, (q + 2 * kv) * h, 1.0f / std::sqrt(static_cast<float>(h)));
  w.w_o = uniform_matrix(s, kO, h * q, 1.0f / std::sqrt(static_cast<float>(q)));
  w.w_gate_up = uniform_matrix(s, kGateUp, 2 * f * h, 1.0f / std::sqrt(static_cast<float>(h)));
  w.w_down = uniform_matrix(s, kDown, h * f, 1.0f / std::sqrt(static_cast<float>(f)));
  return w;
}

KvCache::KvCache(Backend& be, int b, int max, int dim)
    : k(be.alloc(static_cast<std::size_t>(b) * max * dim)),
      v(be.alloc(static_cast<std::size_t>(b) * max * dim)),
      batch(b),
      max_len(max),
      kv_dim(dim) {}

namespace {
DeviceTensor upload(Backend& be, const std::vector<float>& host) {
  DeviceTensor t = be.alloc(host.size());
  be.upload(t, host);
  return t;
}
}  // namespace

TransformerBlock::TransformerBlock(Backend& backend, const TransformerSpec& model, const BlockWeightsHost& w)
    : be_(backend),
      model_(model),
      attn_norm_(upload(backend, w.attn_norm)),
      mlp_norm_(upload(backend, w.mlp_norm)),
      w_qkv_(upload(backend, w.w_qkv)),
      w_o_(upload(backend, w.w_o)),
      w_gate_up_(upload(backend, w.w_gate_up)),
      w_down_(upload(backend, w.w_down)) {}

void TransformerBlock::reserve(int rows) {
  if (rows <= capacity_rows_) return;
  const std::size_t r = static_cast<std::size_t>(rows);
  h_ = be_.alloc(r * model_.hidden);
  qkv_ = be_.alloc(r * (model_.q_dim() + 2 * model_.kv_dim()));
  attn_ = be_.alloc(r * model_.q_dim());
  o_ = be_.alloc(r * model_.hidden);
  gu_ = be_.alloc(r * 2 * model_.ffn);
  act_ = be_.alloc(r * model_.ffn);
  capacity_rows_ = rows;
}

namespace {
/// Folds the column-wise |max| of a rows x cols device matrix into `absmax`.
void observe(Backend& be, const DeviceTensor& t, int rows, int cols, std::vector<float>& absmax) {
  std::vector<float> host(t.size());
  be.download(t, host);
  absmax.resize(static_cast<std::size_t>(cols), 0.0f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      absmax[static_cast<std::size_t>(c)] =
          std::max(absmax[static_cast<std::size_t>(c)], std::fabs(host[static_cast<std::size_t>(r) * cols + c]));
}
}  // namespace

void TransformerBlock::forward(DeviceTensor& x, KvCache& cache, int batch, int new_tokens, InputAbsmax* seen) {
  const TransformerSpec& m = model_;
  if (batch != cache.batch) throw std::invalid_argument("forward: batch differs from the KV cache's");
  if (cache.len + new_tokens > cache.max_len) throw std::length_error("forward: the KV cache is full");
  const int rows = batch * new_tokens;
  reserve(rows);
  const std::size_t qkv_w = static_cast<std::size_t>(m.q_dim() + 2 * m.kv_dim());
  const AttentionShape shape{batch, new_tokens, cache.len, cache.max_len, m.n_heads, m.n_kv_heads, m.head_dim};
  const Columns q_cols{0, qkv_w}, k_cols{static_cast<std::size_t>(m.q_dim()), qkv_w},
      v_cols{static_cast<std::size_t>(m.q_dim() + m.kv_dim()), qkv_w};
  const std::size_t n = static_cast<std::size_t>(rows) * m.hidden;

  be_.rmsnorm(h_, x, attn_norm_, rows, m.hidden, m.norm_eps);
  if (seen) observe(be_, h_, rows, m.hidden, seen->qkv_in);
  be_.matmul(qkv_, h_, w_qkv_, rows, m.hidden, static_cast<int>(qkv_w));
  be_.rope(qkv_, q_cols, m.n_heads, shape, static_cast<float>(m.rope_theta));
  be_.rope(qkv_, k_cols, m.n_kv_heads, shape, static_cast<float>(m.rope_theta));
  be_.kv_append(cache.k, qkv_, k_cols, shape);
  be_.kv_append(cache.v, qkv_, v_cols, shape);
  be_.attention(attn_, qkv_, q_cols, cache.k, cache.v, shape);
  if (seen) observe(be_, attn_, rows, m.q_dim(), seen->o_in);
  be_.matmul(o_, attn_, w_o_, rows, m.q_dim(), m.hidden);
  be_.add(x, x, o_, n);
  be_.rmsnorm(h_, x, mlp_norm_, rows, m.hidden, m.norm_eps);
  if (seen) observe(be_, h_, rows, m.hidden, seen->gate_up_in);
  be_.matmul(gu_, h_, w_gate_up_, rows, m.hidden, 2 * m.ffn);
  be_.silu_mul(act_, gu_, rows, m.ffn);
  if (seen) observe(be_, act_, rows, m.ffn, seen->down_in);
  be_.matmul(o_, act_, w_down_, rows, m.ffn, m.hidden);
  be_.add(x, x, o_, n);
  cache.len += new_tokens;
}

double apply_llm_int8(BlockWeightsHost& w, const TransformerSpec& m, const InputAbsmax& seen, float threshold) {
  double bytes = 0.0;
  const auto convert = [&](std::vector<float>& matrix, int n_out, int n_in, const std::vector<float>& absmax) {
    const MixedInt8Weight d = decompose_llm_int8(matrix, n_out, n_in, outlier_columns(absmax, threshold));
    matrix = d.effective_weights();
    bytes += d.bytes();
  };
  convert(w.w_qkv, m.q_dim() + 2 * m.kv_dim(), m.hidden, seen.qkv_in);
  convert(w.w_o, m.hidden, m.q_dim(), seen.o_in);
  convert(w.w_gate_up, 2 * m.ffn, m.hidden, seen.gate_up_in);
  convert(w.w_down, m.hidden, m.ffn, seen.down_in);
  return bytes;
}

ModelHead::ModelHead(Backend& backend, const TransformerSpec& model, std::uint64_t seed)
    : be_(backend), model_(model) {
  const std::size_t h = static_cast<std::size_t>(model.hidden), v = static_cast<std::size_t>(model.vocab);
  table_ = upload(backend, uniform_matrix(seed, kEmbedding, v * h, 1.0f));
  norm_ = upload(backend, norm_gains(model, seed, kFinalNorm));
  lm_head_ = upload(backend, uniform_matrix(seed, kLmHead, v * h, 1.0f / std::sqrt(static_cast<float>(h))));
}

void ModelHead::embed(DeviceTensor& out, std::span<const int> ids) { be_.embedding(out, table_, ids, model_.hidden); }

void ModelHead::logits(DeviceTensor& out, const DeviceTensor& x, int rows) {
  if (scratch_.size() < static_cast<std::size_t>(rows) * model_.hidden)
    scratch_ = be_.alloc(static_cast<std::size_t>(rows) * model_.hidden);
  be_.rmsnorm(scratch_, x, norm_, rows, model_.hidden, model_.norm_eps);
  be_.matmul(out, scratch_, lm_head_, rows, model_.hidden, model_.vocab);
}

}  // namespace swarmsim::gpu
