#include "sim/swarm/client_memory.hpp"

#include "gpu/dtype.hpp"

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

}  // namespace swarmsim::sim
