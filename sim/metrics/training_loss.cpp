#include "sim/metrics/training_loss.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "sim/privacy/gaussian_mechanism.hpp"

namespace swarmsim::sim {
namespace {

constexpr std::uint64_t kHeldOutStream = 0xFFFFF;  ///< data no session trains on
constexpr int kHeldOutFactor = 4;                  ///< held-out sequences per training sequence
constexpr std::uint64_t kHeldOutNoise = ~std::uint64_t{0};  ///< the held-out release's noise (no session step has it)

double mean(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

TrainingLoss::TrainingLoss(const Scenario& sc, const ForwardLegs* legs) : sc_(sc), legs_(legs) {
  const FineTuningSpec& ft = *sc.workload.fine_tuning;
  const LossProxySpec& l = *ft.loss;
  gpu::ProxyConfig cfg;
  cfg.width = l.width;
  cfg.vocab = l.vocab;
  cfg.sequences = l.sequences;
  cfg.tokens = l.tokens;
  cfg.learning_rate = l.learning_rate;
  if (const PrivacySpec& p = sc.policy.privacy; p.noisy() && p.client_blocks > 0) {
    // Split learning's noise on what the client releases (seed 002, eq. 25), at the proxy's width:
    // the clip norm shrinks by sqrt(width / hidden) and sigma per element is kept, so the noise
    // stands to the clipped vector as in the served model.
    const double c = p.clip_for(sc.model.hidden);
    cfg.release_after = p.client_blocks;
    cfg.clip_norm = c * std::sqrt(static_cast<double>(l.width) / sc.model.hidden);
    cfg.noise_sigma = gaussian_mechanism_sigma(p.epsilon, p.delta, clipped_sensitivity(c));
  }
  // Seed 002, section 4: forward messages cross the wire quantized (backward ones never are).
  if (sc.policy.compression.hidden_states) cfg.wire_block = sc.policy.compression.block_size;
  proxy_ = std::make_unique<gpu::FineTuningProxy>(sc.model, ft.adapter, ft.optimizer, cfg, sc.seed);
  eval_tokens_ = proxy_->batch(kHeldOutStream, 0, kHeldOutFactor * l.sequences);
  eval_teacher_ = proxy_->teacher(eval_tokens_);
}

void TrainingLoss::connect(SimSignals& s) {
  signals_ = &s;
  s.on_adapters_updated.connect([this](const AdaptersUpdated& e) { updated(e); });
  s.on_adapters_moved.connect([this](const AdaptersMoved& e) { moved(e); });
  s.on_adapters_synced.connect([this](const AdaptersSynced& e) { synced(e); });
}

TrainingLoss::SessionValues& TrainingLoss::values(int session) {
  auto it = sessions_.find(session);
  if (it != sessions_.end()) return it->second;
  SessionValues v;
  v.actual = proxy_->initial();
  v.saved.resize(v.actual.blocks.size());
  if (diverged_) v.intact = v.actual;
  return sessions_.emplace(session, std::move(v)).first->second;
}

void TrainingLoss::diverge() {
  if (diverged_) return;
  diverged_ = true;
  for (auto& [k, v] : sessions_) {
    v.intact = v.actual;
    v.intact_losses = v.losses;
  }
}

void TrainingLoss::updated(const AdaptersUpdated& e) {
  SessionValues& v = values(e.session);
  // A session's step s trains on batch s of its own data; a step retried after a failure is the same batch.
  const std::vector<int> tokens = proxy_->batch(static_cast<std::uint64_t>(e.session), static_cast<std::uint64_t>(e.step));
  const std::vector<double> teacher = proxy_->teacher(tokens);
  // Under ZeRO the gradient waits in the adapters for the job's synchronization, which applies the mean.
  const std::uint64_t noise = (static_cast<std::uint64_t>(e.session) << 32) ^ static_cast<std::uint64_t>(e.step);  // split learning's noise
  // Dishonest servers' wrong forward outputs: the rest of the step runs on them (seed 002, section 6.1).
  const std::vector<gpu::ActivationPerturbation> wrong = legs_ ? legs_->wrong(e.session, e.step) : std::vector<gpu::ActivationPerturbation>{};
  // Compression: the step's hidden states entered each leg, and the loss, through the quantizer.
  const std::vector<int> wire = legs_ ? legs_->arrivals(e.session, e.step) : std::vector<int>{};
  const auto train = [&](Adapters& a) {
    return zero() ? proxy_->gradient(a, tokens, teacher, noise, wrong, wire) : proxy_->step(a, tokens, teacher, noise, wrong, wire);
  };
  v.losses.push_back(train(v.actual));
  if (signals_) signals_->on_training_loss(TrainingLossMeasured{e.t, e.session, e.step, v.losses.back()});
  if (v.intact) v.intact_losses.push_back(train(*v.intact));
  if (!zero()) follow_recovery(e.session);
}

void TrainingLoss::follow_recovery(int session) {
  SessionValues& v = sessions_.at(session);
  if (v.recovering < 0) return;  // after a restore: has the held-out loss come back?
  RestoreEffect& r = restores_[static_cast<std::size_t>(v.recovering)];
  if (held_out(session, false) <= r.before) {
    r.recovered_after = static_cast<int>(v.losses.size()) - r.updates_at;
    v.recovering = -1;
  }
}

void TrainingLoss::moved(const AdaptersMoved& e) {
  SessionValues& v = values(e.session);
  const auto blocks = [&](auto&& f) {
    for (int b = e.blocks.start; b < e.blocks.end; ++b) f(static_cast<std::size_t>(b));
  };
  if (!e.restored) {  // a checkpoint: the client now holds these blocks' adapters
    blocks([&](std::size_t b) { v.saved[b] = v.actual.blocks[b]; });
    return;
  }
  diverge();  // the run that lost nothing keeps its adapters
  RestoreEffect effect{e.session, e.step + 1, e.updates_lost, e.blocks, e.from_peer, false, held_out(e.session, false), 0.0};
  effect.from_checkpoint = !e.from_peer && v.saved[static_cast<std::size_t>(e.blocks.start)].has_value();
  effect.updates_at = static_cast<int>(v.losses.size());
  effect.t = e.t;
  const SessionValues* peer = e.from_peer ? &values(e.peer) : nullptr;
  const FineTuningSpec& ft = *sc_.workload.fine_tuning;
  blocks([&](std::size_t b) {
    if (peer)
      v.actual.blocks[b] = peer->actual.blocks[b];
    else
      v.actual.blocks[b] = v.saved[b] ? *v.saved[b] : proxy_->initial().blocks[b];
    for (auto& [value, grad] : v.actual.blocks[b].tensors()) std::fill(grad->begin(), grad->end(), 0.0);  // a peer's pending gradient stays its own
    if (!zero()) {
      proxy_->restart_moments(v.actual, static_cast<int>(b));  // a restored adapter's moments restart
      return;
    }
    // ZeRO: the failed server held the job's only copy of the session's shard of these blocks'
    // moments; every replica's updates of that shard restart from it, the other shards are kept.
    if (peer) v.actual.moments[b] = peer->actual.moments[b];
    for (auto& [k, m] : sessions_)
      if (ft.job_of(k) == ft.job_of(e.session))
        proxy_->restart_moment_shard(m.actual, static_cast<int>(b), e.session % ft.replicas, ft.replicas);
  });
  effect.after = held_out(e.session, false);
  if (effect.after <= effect.before)
    effect.recovered_after = 0;  // nothing to win back
  else  // an earlier restore not yet won back stays so: this one is followed from here
    v.recovering = static_cast<int>(restores_.size());
  restores_.push_back(effect);
}

void TrainingLoss::synced(const AdaptersSynced& e) {
  values(e.session);
  std::vector<int>& members = meetings_[{e.job, e.step}];
  members.push_back(e.session);
  if (static_cast<int>(members.size()) < e.with) return;
  if (zero()) {
    apply_mean_gradient(members, false);
    if (diverged_) apply_mean_gradient(members, true);
    for (int k : members) follow_recovery(k);
  } else {
    average(members, false);
    if (diverged_) average(members, true);
  }
  meetings_.erase({e.job, e.step});
}

void TrainingLoss::apply_mean_gradient(const std::vector<int>& members, bool intact) {
  set_to_mean(members, intact, true);
  for (int k : members) proxy_->apply(intact ? *sessions_.at(k).intact : sessions_.at(k).actual);
}

void TrainingLoss::average(const std::vector<int>& members, bool intact) { set_to_mean(members, intact, false); }

void TrainingLoss::set_to_mean(const std::vector<int>& members, bool intact, bool gradients) {
  const auto adapters = [&](int k) -> Adapters& {
    SessionValues& v = sessions_.at(k);
    return intact ? *v.intact : v.actual;
  };
  const auto part = [gradients](const std::pair<std::vector<double>*, std::vector<double>*>& t) -> std::vector<double>& {
    return gradients ? *t.second : *t.first;
  };
  const std::size_t n_blocks = adapters(members.front()).blocks.size();
  for (std::size_t b = 0; b < n_blocks; ++b) {
    std::vector<std::vector<std::pair<std::vector<double>*, std::vector<double>*>>> t;
    for (int k : members) t.push_back(adapters(k).blocks[b].tensors());
    for (std::size_t i = 0; i < t.front().size(); ++i)
      for (std::size_t j = 0; j < part(t.front()[i]).size(); ++j) {
        double s = 0.0;
        for (const auto& m : t) s += part(m[i])[j];
        const double mean = s / static_cast<double>(members.size());
        for (auto& m : t) part(m[i])[j] = mean;
      }
  }
}

const std::vector<double>& TrainingLoss::step_losses(int session) const {
  static const std::vector<double> none;
  const auto it = sessions_.find(session);
  return it == sessions_.end() ? none : it->second.losses;
}

double TrainingLoss::held_out(int session, bool intact) const {
  const SessionValues& v = sessions_.at(session);
  return proxy_->loss(intact && v.intact ? *v.intact : v.actual, eval_tokens_, eval_teacher_, kHeldOutNoise);
}

const gpu::FineTuningProxy::Adapters& TrainingLoss::adapters(int session, bool intact) const {
  const SessionValues& v = sessions_.at(session);
  return intact && v.intact ? *v.intact : v.actual;
}

double TrainingLoss::untrained() const { return proxy_->loss(proxy_->initial(), eval_tokens_, eval_teacher_, kHeldOutNoise); }

nlohmann::json TrainingLoss::to_json() const {
  const gpu::TransformerSpec& m = proxy_->model();
  const gpu::ProxyConfig& c = proxy_->config();
  nlohmann::json sessions = nlohmann::json::array();
  std::vector<double> finals, intacts, firsts, by_step_sum;
  std::vector<int> by_step_n;
  for (const auto& [k, v] : sessions_) {
    if (v.losses.empty()) continue;
    const double fin = held_out(k, false), intact = held_out(k, true);
    finals.push_back(fin);
    intacts.push_back(intact);
    firsts.push_back(v.losses.front());
    for (std::size_t i = 0; i < v.losses.size(); ++i) {
      if (by_step_sum.size() <= i) {
        by_step_sum.push_back(0.0);
        by_step_n.push_back(0);
      }
      by_step_sum[i] += v.losses[i];
      ++by_step_n[i];
    }
    sessions.push_back({{"session", k}, {"updates", v.losses.size()}, {"final", fin}, {"final_if_nothing_lost", intact}, {"step_losses", v.losses}});
  }
  // In time order, sessions restored at the same instant by number (engines may signal them in either order).
  std::vector<RestoreEffect> in_order = restores_;
  std::stable_sort(in_order.begin(), in_order.end(), [](const RestoreEffect& a, const RestoreEffect& b) {
    return a.t != b.t ? a.t < b.t : a.session < b.session;
  });
  nlohmann::json restores = nlohmann::json::array();
  for (const RestoreEffect& r : in_order)
    restores.push_back({{"session", r.session},
                        {"step", r.step},
                        {"blocks", {r.blocks.start, r.blocks.end}},
                        {"from", r.from_peer ? "peer" : r.from_checkpoint ? "checkpoint" : "scratch"},
                        {"updates_lost", r.updates_lost},
                        {"held_out_before", r.before},
                        {"held_out_after", r.after},
                        {"updates_to_recover", r.recovered_after >= 0 ? nlohmann::json(r.recovered_after) : nlohmann::json(nullptr)}});
  nlohmann::json by_step = nlohmann::json::array();
  for (std::size_t i = 0; i < by_step_sum.size(); ++i) by_step.push_back(by_step_sum[i] / by_step_n[i]);
  const double fin = mean(finals), intact = mean(intacts);
  nlohmann::json proxy = {{"hidden", m.hidden}, {"heads", m.n_heads}, {"kv_heads", m.n_kv_heads}, {"ffn", m.ffn}, {"blocks", m.n_layers},
                          {"vocab", m.vocab}, {"sequences", c.sequences}, {"tokens", c.tokens}, {"learning_rate", c.learning_rate}};
  std::string metric = proxy_->noisy() ? "KL(teacher || adapted proxy), nats per position, on held-out sequences released through "
                                         "the client's differential-privacy noise, as served"
                                       : "KL(teacher || adapted proxy), nats per position, on held-out sequences";
  if (c.wire_block > 0) {
    proxy["wire_block"] = c.wire_block;
    metric += "; the training steps' forward messages crossed the wire's 8-bit quantizer, the held-out sequences do not";
  }
  return {{"proxy", proxy},
          {"metric", metric},
          {"untrained", untrained()},
          {"first_step", mean(firsts)},
          {"final", fin},
          {"final_if_nothing_lost", intact},
          {"penalty", fin - intact},
          {"restores", restores},
          {"mean_by_step", by_step},
          {"sessions", sessions}};
}

}  // namespace swarmsim::sim
