#include "sim/real_execution.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <unistd.h>

#include "gpu/op_profiler.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim {

using gpu::DeviceTensor;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double physical_memory_bytes() {
  return static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
}

/// Rows holding the last position of each sequence, gathered into [batch x hidden].
std::vector<float> last_positions(gpu::Backend& be, const DeviceTensor& x, int batch, int tokens, int hidden) {
  std::vector<float> all(x.size());
  be.download(x, all);
  std::vector<float> out(static_cast<std::size_t>(batch) * hidden);
  for (int b = 0; b < batch; ++b)
    std::copy_n(all.begin() + (static_cast<std::size_t>(b) * tokens + tokens - 1) * hidden, hidden,
                out.begin() + static_cast<std::size_t>(b) * hidden);
  return out;
}

std::vector<double> log_softmax(const float* z, int n) {
  double mx = -1e300, sum = 0.0;
  for (int i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(z[i]));
  for (int i = 0; i < n; ++i) sum += std::exp(z[i] - mx);
  std::vector<double> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = z[i] - mx - std::log(sum);
  return out;
}

}  // namespace

gpu::DeviceSpec local_device_of(const gpu::Backend& backend) {
  if (backend.name() == "cpu") {
    const gpu::ProfiledDevice p = gpu::measure_cpu_peaks();
    return gpu::DeviceSpec{backend.device_name(), gpu::DeviceKind::Cpu, p.peak_flops, p.memory_bandwidth,
                           physical_memory_bytes(), 2e-6, p.peaks_source, 0.0, 0.0, "not measured (pricing only)"};
  }
  for (const gpu::DeviceSpec& d : gpu::device_catalog())
    if (d.kind == gpu::DeviceKind::Gpu && backend.device_name().find(d.name.substr(0, d.name.find('-'))) != std::string::npos)
      return d;
  throw std::runtime_error("--execute real: GPU \"" + backend.device_name() + "\" matches no catalog device");
}

RealModel::RealModel(const Scenario& sc, gpu::Backend& be, std::shared_ptr<const gpu::ShardCostModel> pricing,
                     gpu::DeviceSpec local)
    : sc_(sc), be_(be), pricing_(std::move(pricing)), local_(std::move(local)) {
  const gpu::TransformerSpec& m = sc.model;
  if (m.n_experts != 1 || m.mlp != gpu::MlpKind::GatedSilu || m.layer_norm)
    throw std::runtime_error("--execute real supports Llama-style dense blocks (RMSNorm, RoPE, SiLU-gated MLP); " + m.name +
                             (m.n_experts != 1 ? " is a mixture of experts" : " uses LayerNorm and a GELU MLP") +
                             ": run it priced (without --execute real)");
  if (sc.workload.fine_tuning)
    throw std::runtime_error("--execute real runs the forward kernels of inference; fine-tuning sessions (workload.fine_tuning) "
                             "are priced: run them without --execute real");
  const CompressionSpec& comp = sc.policy.compression;
  const PrivacySpec& privacy = sc.policy.privacy;
  compares_ = comp.hidden_states || comp.llm_int8_weights || privacy.noisy();
  if (privacy.noisy())  // seed 002, eq. 25: (ε, δ)-DP per released vector, by the analytic Gaussian mechanism
    sigma_ = gaussian_mechanism_sigma(privacy.epsilon, privacy.delta, clipped_sensitivity(privacy.clip_for(m.hidden)));
  executed_ = m;
  executed_.weight_dtype = be.storage();
  executed_.activation_dtype = be.storage();
  executed_.int8_outlier_fraction = 0.0;

  // Every block is held once (servers holding the same layer hold the same weights), twice when a
  // reference run is kept. Refuse runs that cannot fit instead of thrashing.
  const double per_copy = m.n_layers * m.block_params() * gpu::dtype_bytes(be.storage()) +
                          2.0 * m.vocab * static_cast<double>(m.hidden) * gpu::dtype_bytes(be.storage());
  const double need = per_copy * (compares_ ? 2 : 1);
  const double have = physical_memory_bytes();
  if (be.name() == "cpu" && need > 0.8 * have)
    throw std::runtime_error("--execute real needs " + format_bytes(need) + " for the weights of " +
                             std::to_string(m.n_layers) + " blocks of " + m.name + " in " +
                             std::string(gpu::dtype_name(be.storage())) + (compares_ ? " (and their uncompressed reference)" : "") +
                             ", more than 80% of this machine's " + format_bytes(have) +
                             "; reduce the model's widths with \"model\": {\"reduce_width\": 16}");

  // LLM.int8: the outlier columns are those whose activations exceed the threshold on a seeded
  // calibration prompt run through the exact weights.
  std::vector<gpu::InputAbsmax> seen(static_cast<std::size_t>(m.n_layers));
  if (comp.llm_int8_weights) {
    gpu::ModelHead calib_head(be, m, sc.seed);
    const int tokens = std::min(64, std::max(8, sc.workload.prompt_tokens));
    std::vector<int> ids(static_cast<std::size_t>(tokens));
    for (int i = 0; i < tokens; ++i)
      ids[static_cast<std::size_t>(i)] = static_cast<int>(gpu::hashed_uniform(sc.seed, 0xCA11B, static_cast<std::uint64_t>(i), 0, 1) * m.vocab) % m.vocab;
    DeviceTensor x = be.alloc(static_cast<std::size_t>(tokens) * m.hidden);
    calib_head.embed(x, ids);
    for (int l = 0; l < m.n_layers; ++l) {
      gpu::TransformerBlock exact(be, m, gpu::generate_block_weights(m, sc.seed, l));
      gpu::KvCache cache(be, 1, tokens, m.kv_dim());
      exact.forward(x, cache, 1, tokens, &seen[static_cast<std::size_t>(l)]);
    }
  }
  for (int l = 0; l < m.n_layers; ++l) {
    gpu::BlockWeightsHost w = gpu::generate_block_weights(m, sc.seed, l);
    if (compares_) reference_.emplace_back(be, m, w);
    if (comp.llm_int8_weights)
      int8_block_bytes_ = gpu::apply_llm_int8(w, m, seen[static_cast<std::size_t>(l)], static_cast<float>(comp.outlier_threshold));
    blocks_.emplace_back(be, m, w);
  }
  head_ = std::make_unique<gpu::ModelHead>(be, m, sc.seed);
}

RealModel::~RealModel() = default;

std::unique_ptr<RealModel::Session> RealModel::open(int session) {
  const gpu::TransformerSpec& m = sc_.model;
  auto s = std::make_unique<Session>();
  s->id = session;
  s->batch = sc_.workload.batch_size;
  s->prompt = sc_.workload.prompt_tokens;
  s->max_len = sc_.workload.prompt_tokens + sc_.workload.new_tokens;
  s->noise_rng = Rng(sc_.seed).split(0x9015E000ULL + static_cast<std::uint64_t>(session));
  for (int l = 0; l < m.n_layers; ++l) {
    s->kv.emplace_back(be_, s->batch, s->max_len, m.kv_dim());
    if (compares_) s->kv_ref.emplace_back(be_, s->batch, s->max_len, m.kv_dim());
  }
  return s;
}

double RealModel::embed(Session& s, int step) {
  const gpu::TransformerSpec& m = sc_.model;
  const int tokens = step == 0 ? s.prompt : 1;
  std::vector<int> ids(static_cast<std::size_t>(s.batch) * tokens);
  for (int b = 0; b < s.batch; ++b)
    for (int t = 0; t < tokens; ++t) {
      // Prompts are drawn from the seed, per session and sequence; later steps feed back the sampled tokens.
      ids[static_cast<std::size_t>(b) * tokens + t] =
          step == 0 ? static_cast<int>(gpu::hashed_uniform(sc_.seed, 0x70C + static_cast<std::uint64_t>(s.id),
                                                           static_cast<std::uint64_t>(b) * tokens + t, 0, 1) * m.vocab) % m.vocab
                    : s.next_tokens[static_cast<std::size_t>(b)];
    }
  s.rows = s.batch * tokens;
  const auto t0 = Clock::now();
  if (s.x.size() < ids.size() * m.hidden) s.x = be_.alloc(ids.size() * m.hidden);
  head_->embed(s.x, ids);
  be_.synchronize();
  const double measured = seconds_since(t0);
  if (compares_) {
    if (s.x_ref.size() < ids.size() * m.hidden) s.x_ref = be_.alloc(ids.size() * m.hidden);
    head_->embed(s.x_ref, ids);
  }
  return measured;
}

double RealModel::run_blocks(Session& s, BlockRange range, int step) {
  const int tokens = step == 0 ? s.prompt : 1;
  const auto t0 = Clock::now();
  for (int l = range.start; l < range.end; ++l)
    blocks_[static_cast<std::size_t>(l)].forward(s.x, s.kv[static_cast<std::size_t>(l)], s.batch, tokens);
  be_.synchronize();
  const double measured = seconds_since(t0);
  if (compares_)
    for (int l = range.start; l < range.end; ++l)
      reference_[static_cast<std::size_t>(l)].forward(s.x_ref, s.kv_ref[static_cast<std::size_t>(l)], s.batch, tokens);
  return measured;
}

void RealModel::wire(Session& s) {
  const CompressionSpec& c = sc_.policy.compression;
  if (!c.hidden_states) return;
  // Seed 002, section 4: dynamic blockwise 8-bit quantization of the hidden states on the wire.
  const std::size_t n = static_cast<std::size_t>(s.rows) * sc_.model.hidden;
  DeviceTensor q = be_.alloc(n, gpu::DType::Int8);
  DeviceTensor scales = be_.alloc((n + c.block_size - 1) / c.block_size, gpu::DType::F32);
  be_.quantize_blockwise(q, scales, s.x, n, c.block_size);
  be_.dequantize_blockwise(s.x, q, scales, n, c.block_size);
}

double RealModel::release(Session& s) {
  if (sigma_ <= 0) return 0.0;
  const int hidden = sc_.model.hidden;
  const auto t0 = Clock::now();
  std::vector<float> z(s.x.size());  // the buffer may be larger than this step's rows
  be_.download(s.x, z);
  const std::span<float> rows(z.data(), static_cast<std::size_t>(s.rows) * hidden);
  const NoiseStats st = clip_and_noise(rows, hidden, sc_.policy.privacy.clip_for(hidden), sigma_, s.noise_rng);
  be_.upload(s.x, z);
  be_.synchronize();
  s.last.noise.vectors += st.vectors;
  s.last.noise.clipped += st.clipped;
  s.last.noise.norm_sum += st.norm_sum;
  return seconds_since(t0);
}

double RealModel::head(Session& s) {
  const gpu::TransformerSpec& m = sc_.model;
  const int tokens = s.rows / s.batch;
  const auto t0 = Clock::now();
  const std::vector<float> last = last_positions(be_, s.x, s.batch, tokens, m.hidden);
  DeviceTensor h = be_.alloc(last.size()), logits = be_.alloc(static_cast<std::size_t>(s.batch) * m.vocab);
  be_.upload(h, last);
  head_->logits(logits, h, s.batch);
  std::vector<float> z(logits.size());
  be_.download(logits, z);
  s.next_tokens.assign(static_cast<std::size_t>(s.batch), 0);
  for (int b = 0; b < s.batch; ++b) {  // greedy sampling
    const float* row = z.data() + static_cast<std::size_t>(b) * m.vocab;
    s.next_tokens[static_cast<std::size_t>(b)] = static_cast<int>(std::max_element(row, row + m.vocab) - row);
  }
  const double measured = seconds_since(t0);
  if (compares_) {
    const std::vector<float> last_ref = last_positions(be_, s.x_ref, s.batch, tokens, m.hidden);
    be_.upload(h, last_ref);
    head_->logits(logits, h, s.batch);
    std::vector<float> z_ref(logits.size());
    be_.download(logits, z_ref);
    double diff = 0.0, norm = 0.0, kl = 0.0;
    for (std::size_t i = 0; i < last.size(); ++i) {
      diff += (static_cast<double>(last[i]) - last_ref[i]) * (static_cast<double>(last[i]) - last_ref[i]);
      norm += static_cast<double>(last_ref[i]) * last_ref[i];
    }
    for (int b = 0; b < s.batch; ++b) {
      const auto lp = log_softmax(z_ref.data() + static_cast<std::size_t>(b) * m.vocab, m.vocab);
      const auto lq = log_softmax(z.data() + static_cast<std::size_t>(b) * m.vocab, m.vocab);
      for (int v = 0; v < m.vocab; ++v) kl += std::exp(lp[static_cast<std::size_t>(v)]) * (lp[static_cast<std::size_t>(v)] - lq[static_cast<std::size_t>(v)]);
    }
    for (int b = 0; b < s.batch; ++b) {
      const float* row = z_ref.data() + static_cast<std::size_t>(b) * m.vocab;
      ++s.last.tokens;
      if (std::max_element(row, row + m.vocab) - row == s.next_tokens[static_cast<std::size_t>(b)]) ++s.last.tokens_agreeing;
    }
    s.last.hidden_relative_error = norm > 0 ? std::sqrt(diff / norm) : 0.0;
    s.last.logits_kl = kl / s.batch;
  }
  return measured;
}

ValueEffect RealModel::effect(const Session& s) const { return s.last; }

double RealModel::scale_blocks(double measured, const gpu::DeviceSpec& target, const gpu::BlockWork& work, int n) const {
  const double here = pricing_->blocks_seconds(local_, executed_, work, n);
  return here > 0 ? measured * pricing_->blocks_seconds(target, sc_.model, work, n) / here : measured;
}

double RealModel::scale_embed(double measured, const gpu::DeviceSpec& target, int batch, int tokens) const {
  const double here = pricing_->embed_seconds(local_, executed_, batch, tokens);
  return here > 0 ? measured * pricing_->embed_seconds(target, sc_.model, batch, tokens) / here : measured;
}

double RealModel::scale_head(double measured, const gpu::DeviceSpec& target, int batch) const {
  const double here = pricing_->head_seconds(local_, executed_, batch);
  return here > 0 ? measured * pricing_->head_seconds(target, sc_.model, batch) / here : measured;
}

}  // namespace swarmsim::sim
