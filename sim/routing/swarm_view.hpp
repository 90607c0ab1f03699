#pragma once
// What a router knows when it builds a chain: the servers' live state and the network as it is
// now. Plain data filled by the engine (or by a test), so routers never touch SimGrid.
#include <cstdint>
#include <span>
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_range.hpp"
#include "sim/swarm/server_load.hpp"

namespace swarmsim::sim {

/// One server as a router sees it. 64 bytes: a router reads the whole swarm's views per chain.
struct ServerView {
  int host = 0;                ///< host index (servers are 0..S-1, clients S..S+C-1)
  int active_sessions = 0;     ///< sessions whose chain goes through it now
  BlockRange blocks;           ///< blocks it serves now
  const gpu::DeviceSpec* device = nullptr;  ///< borrowed from the catalog
  double free_kv_bytes = 0.0;  ///< device memory free for new KV caches (bytes)
  double busy_rate = 0.0;      ///< its device's decayed busy seconds per second (ServerLoad::rate) ...
  double busy_at_s = 0.0;      ///< ... as of this time (s)
  double uptime = 1.0;         ///< fraction of time it has been up, [0, 1]
  bool alive = true;           ///< up and done loading its blocks
  /// Busy fraction of its device over the recent window at `now` (s), [0, 1]. Computed when asked
  /// (an exp): a router asks only for the candidates it prices exactly.
  double utilization(double now) const { return ServerLoad::decayed(busy_rate, now - busy_at_s); }
};
static_assert(sizeof(ServerView) <= 64, "one cache line per server: routers stream the whole view");

/// Network estimates between hosts, as the replayed network has them at the time of the query.
class NetworkEstimate {
 public:
  virtual ~NetworkEstimate() = default;
  /// One-way latency from `from` to `to` (s).
  virtual double latency_s(int from, int to) const = 0;
  /// Bottleneck bandwidth from `from` to `to`: min(uplink of from, downlink of to) (bytes/s).
  virtual double bandwidth_Bps(int from, int to) const = 0;
  /// Whether latency_floor_s is much cheaper than latency_s, so that a router gains by bounding
  /// candidates with it before pricing them exactly.
  virtual bool has_cheap_latency_floor() const { return false; }
  /// A lower bound of latency_s(from, to) (s); 0 unless the estimate knows better.
  virtual double latency_floor_s(int /*from*/, int /*to*/) const { return 0.0; }
  /// Regions: groups of hosts whose latencies from any one host latency_floor_to_region_s bounds
  /// at once, so that a router can rule out a whole region without asking for its latencies.
  /// 0 when the estimate has none (then the two below are not called).
  virtual int regions() const { return 0; }
  /// Each host's region, in [0, regions()), indexed by host (routers read it for every server).
  virtual std::span<const int> host_regions() const { return {}; }
  /// A lower bound of latency_s(from, to) for every host `to` of `region` (s).
  virtual double latency_floor_to_region_s(int /*from*/, int /*region*/) const { return 0.0; }
};

/// Everything a router reads. All pointers are borrowed for the duration of one route() call.
struct SwarmView {
  std::span<const ServerView> servers;
  const NetworkEstimate* network = nullptr;
  const gpu::TransformerSpec* model = nullptr;
  const gpu::ShardCostModel* cost = nullptr;
  const OverheadSpec* overheads = nullptr;
  const CompressionSpec* compression = nullptr;  ///< nullptr: messages are not compressed
  /// Nonzero: every view with this value has the same servers on the same hosts serving the same
  /// blocks (the rest may differ), so a router may keep what it built from those; 0: unknown.
  std::uint64_t layout = 0;
  double now_s = 0.0;  ///< when the view is taken (s): the servers' busy rates decay to it
};

/// The session a chain is wanted for: the whole model from the client back to it, or (when a
/// server failed mid-session) only a span of blocks between two hosts of the existing chain.
struct RouteRequest {
  int client_host = 0;
  int batch = 1;
  int prompt_tokens = 1;
  int new_tokens = 1;
  int first_block = 0;        ///< the span starts at this block
  int end_block = -1;         ///< and ends before this one (-1: the model's last block + 1)
  int entry_host = -1;        ///< host that sends the span its input (-1: the client)
  int exit_host = -1;         ///< host that receives its output (-1: the client)
  std::vector<int> avoid{};   ///< servers (indices into SwarmView::servers) the client saw fail
  int end(const gpu::TransformerSpec& m) const { return end_block < 0 ? m.n_layers : end_block; }
  int entry() const { return entry_host < 0 ? client_host : entry_host; }
  int exit() const { return exit_host < 0 ? client_host : exit_host; }
  bool avoids(int server) const {
    for (int a : avoid)
      if (a == server) return true;
    return false;
  }
  /// Bytes of one decode-step hidden-state message (batch x hidden values, compressed or not, plus header).
  double decode_message_bytes(const gpu::TransformerSpec& m, const OverheadSpec& o, const CompressionSpec* c) const {
    const double elements = static_cast<double>(batch) * m.hidden;
    const double a = gpu::dtype_bytes(m.activation_dtype);
    return (c ? c->message_bytes(elements, a) : elements * a) + o.header_bytes;
  }
  /// Bytes a fine-tuning session holds on each block it uses (adapters, optimizer state, saved
  /// inputs); -1 for an inference session, which holds its KV cache.
  double training_bytes_per_block = -1.0;
  /// Bytes the session needs on each block it uses: its training state, or its KV cache,
  /// eq. 4 x batch x (prompt + new tokens).
  double kv_bytes_per_block(const gpu::TransformerSpec& m) const {
    if (training_bytes_per_block >= 0) return training_bytes_per_block;
    return m.kv_bytes_per_token_per_block() * batch * (prompt_tokens + new_tokens);  // seed 002, eq. 4
  }
};

/// One server of a chain and the blocks it runs for this session.
struct ChainHop {
  int server = 0;  ///< index into SwarmView::servers
  BlockRange blocks;
  bool operator==(const ChainHop&) const = default;
};

/// A sequence of servers covering blocks 0..n-1 in order (seed 002, eq. 1).
struct Chain {
  std::vector<ChainHop> hops;
  double cost = 0.0;  ///< the router's own objective for this chain (router-specific units)
};

/// Estimated seconds to move `bytes` from `from` to `to`: latency + bytes/bandwidth + per-message
/// overhead + (de)serialization at both ends.
double estimated_transfer_s(const SwarmView& view, int from, int to, double bytes);

/// Whether `chain` covers blocks [0, n_blocks) exactly once and in order with contiguous hops.
bool chain_covers_model(const Chain& chain, int n_blocks);
/// Whether `chain` covers blocks [first, end) exactly once and in order with contiguous hops.
bool chain_covers_span(const Chain& chain, int first, int end);

}  // namespace swarmsim::sim
