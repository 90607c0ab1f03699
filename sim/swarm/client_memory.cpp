#include "sim/swarm/client_memory.hpp"

#include "gpu/dtype.hpp"
#include "sim/swarm/block_assignment.hpp"

namespace swarmsim::sim {

double client_head_bytes(const gpu::TransformerSpec& m) {
  const double bytes = m.weight_dtype == gpu::DType::Int8 ? 2.0 : gpu::dtype_bytes(m.weight_dtype);
  return (m.embedding_params() + (m.tied_embeddings ? 0.0 : m.lm_head_params())) * bytes;
}

double client_block_weight_bytes(const Scenario& sc) { return sc.first_served_block() * sc.model.block_weight_bytes(); }

double client_fixed_bytes(const Scenario& sc) { return client_head_bytes(sc.model) + client_block_weight_bytes(sc); }

double client_session_bytes(const Scenario& sc, const SessionShape& shape) {
  return sc.first_served_block() * shape.kv_per_block;
}

ClientMemoryLedger::ClientMemoryLedger(const Scenario& sc)
    : held_(sc.clients.size(), client_fixed_bytes(sc)), sessions_(sc.clients.size(), 0), peaks_(sc.clients.size()) {
  for (std::size_t c = 0; c < sc.clients.size(); ++c) peaks_[c].bytes = held_[c];
}

void ClientMemoryLedger::start(int client, double t, double bytes) {
  const auto c = static_cast<std::size_t>(client);
  held_[c] += bytes;
  ++sessions_[c];
  ClientPeak& p = peaks_[c];
  if (held_[c] > p.bytes) {
    p.bytes = held_[c];
    p.sessions = sessions_[c];
    p.at_s = t;
  }
  if (sessions_[c] > p.sessions_peak) p.sessions_peak = sessions_[c];
}

void ClientMemoryLedger::end(int client, double bytes) {
  const auto c = static_cast<std::size_t>(client);
  held_[c] -= bytes;
  --sessions_[c];
}

ClientMemoryGate::ClientMemoryGate(const Scenario& sc)
    : fixed_(client_fixed_bytes(sc)), held_(sc.clients.size(), fixed_), sessions_(sc.clients.size(), 0), lines_(sc.clients.size()) {
  for (const ClientSpec& c : sc.clients) usable_.push_back(usable_memory_bytes(*c.device, sc.overheads));
}

bool ClientMemoryGate::admit(int client, int session, double bytes) {
  const auto c = static_cast<std::size_t>(client);
  if (!lines_[c].empty() || !fits(c, bytes)) {
    lines_[c].push_back({session, bytes});
    changed(c);
    return false;
  }
  held_[c] += bytes;
  ++sessions_[c];
  if (bytes != 0.0) changed(c);
  return true;
}

void ClientMemoryGate::release(int client, double bytes, std::vector<int>& admitted) {
  const auto c = static_cast<std::size_t>(client);
  held_[c] -= bytes;
  --sessions_[c];
  std::size_t n = 0;  // the line's front ones that fit now, in order
  for (; n < lines_[c].size() && fits(c, lines_[c][n].bytes); ++n) {
    held_[c] += lines_[c][n].bytes;
    ++sessions_[c];
    admitted.push_back(lines_[c][n].session);
  }
  lines_[c].erase(lines_[c].begin(), lines_[c].begin() + static_cast<long>(n));
  if (bytes != 0.0 || n > 0) changed(c);
}

}  // namespace swarmsim::sim
