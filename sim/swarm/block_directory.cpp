#include "sim/swarm/block_directory.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace swarmsim::sim {

namespace {
std::string block_key(int b) { return "block:" + std::to_string(b); }
}  // namespace

void mask_by_directory(std::vector<ServerView>& servers, const std::vector<DhtServerRecord>& known) {
  std::vector<char> found(servers.size(), 0);
  for (const DhtServerRecord& r : known) {
    found[static_cast<std::size_t>(r.server)] = 1;
    servers[static_cast<std::size_t>(r.server)].blocks = r.blocks;
  }
  for (std::size_t i = 0; i < servers.size(); ++i)
    if (!found[i]) servers[i].alive = false;
}

/// Per host: its node (recreated when the host restarts) and its client-side cache.
struct BlockDirectory::Host {
  int index = 0;
  std::string name;
  int generation = 0;
  std::unique_ptr<HostTransport> transport;
  std::unique_ptr<dht::KademliaNode> node;
  std::map<std::uint64_t, bool> pending;  ///< rpc ids of this generation awaiting an answer
  std::vector<DhtServerRecord> cache;
  double cache_until = -1;
  std::set<int> published;  ///< blocks this server announces
  std::string payload;
};

/// A node's transport: sizes the request, posts it, and arms its timeout.
class BlockDirectory::HostTransport final : public dht::Transport {
 public:
  HostTransport(BlockDirectory& dir, int host) : dir_(dir), host_(host) {}
  void send(const dht::Contact& to, dht::Request request) override {
    Host& h = *dir_.hosts_[static_cast<std::size_t>(host_)];
    const std::uint64_t id = request.rpc_id;
    h.pending[id] = true;
    double bytes = dir_.sc_.policy.dht.message_bytes + 32.0 * static_cast<double>(request.records.size());
    for (const auto& r : request.records) bytes += static_cast<double>(r.payload.size() + r.publisher.size());
    auto env = std::make_unique<DhtEnvelope>();
    env->is_request = true;
    env->from = host_;
    env->generation = h.generation;
    env->request = std::move(request);
    dir_.post(host_, to, std::move(env), bytes);
    // The timeout: the RPC failed unless its answer came first.
    BlockDirectory* dir = &dir_;
    const int host = host_, generation = h.generation;
    dir_.after_(dir_.sc_.policy.dht.rpc_timeout_s, [dir, host, generation, id](double now) {
      Host& hh = *dir->hosts_[static_cast<std::size_t>(host)];
      if (hh.generation != generation || !hh.node) return;
      const auto it = hh.pending.find(id);
      if (it == hh.pending.end()) return;
      hh.pending.erase(it);
      ++dir->timeouts_;
      hh.node->on_timeout(id, now);
    });
  }

 private:
  BlockDirectory& dir_;
  int host_;
};

BlockDirectory::BlockDirectory(const Scenario& sc, Post post, After after, IsOn is_on)
    : sc_(sc), post_(std::move(post)), after_(std::move(after)), is_on_(std::move(is_on)), servers_(static_cast<int>(sc.nodes.size())) {
  const int C = static_cast<int>(sc.clients.size());
  for (int h = 0; h < servers_ + C; ++h) {
    auto host = std::make_unique<Host>();
    host->index = h;
    host->name = h < servers_ ? sc.nodes[static_cast<std::size_t>(h)].name : sc.clients[static_cast<std::size_t>(h - servers_)].name;
    index_.emplace(host->name, h);
    hosts_.push_back(std::move(host));
  }
}

BlockDirectory::~BlockDirectory() = default;

int BlockDirectory::host_of(const std::string& address) const {
  const auto it = index_.find(address);
  return it == index_.end() ? -1 : it->second;
}

void BlockDirectory::post(int from, const dht::Contact& to, std::unique_ptr<DhtEnvelope> env, double bytes) {
  const int dest = host_of(to.address);
  if (dest < 0 || !is_on_(from) || !is_on_(dest)) return;  // lost: the sender's timeout reports it
  ++messages_;
  bytes_ += bytes;
  post_(from, dest, std::move(env), bytes);
}

void BlockDirectory::start_node(int h, double now) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  ++host.generation;
  host.pending.clear();
  host.cache_until = -1;
  host.transport = std::make_unique<HostTransport>(*this, h);
  dht::KademliaParams params;
  params.k = sc_.policy.dht.k;
  params.alpha = sc_.policy.dht.alpha;
  host.node = std::make_unique<dht::KademliaNode>(dht::Contact{dht::NodeId::from_name(host.name), host.name}, *host.transport,
                                                  params, sc_.seed * 7919 + static_cast<std::uint64_t>(h));
  join(h, now);
  for (int b : host.published)  // a restarted server announces its blocks again
    host.node->publish(block_key(b), host.payload, sc_.policy.dht.record_ttl_s, now);
}

void BlockDirectory::join(int h, double now) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  for (const auto& other : hosts_)
    if (other->index != h && other->node && is_on_(other->index)) {
      host.node->join(other->node->contact(), now, [this](const dht::LookupResult& r) { count(r); });
      return;
    }
}

void BlockDirectory::rejoin_if_isolated(int h, double now) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  if (!host.node || host.node->routing_table().size() > 0) return;
  ++rejoins_;
  join(h, now);
}

void BlockDirectory::receive(int h, std::unique_ptr<DhtEnvelope> env, double now) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  if (!host.node) return;
  if (env->is_request) {
    auto reply = std::make_unique<DhtEnvelope>();
    reply->is_request = false;
    reply->from = h;
    reply->generation = env->generation;
    reply->response = host.node->handle(env->request, now);
    double bytes = sc_.policy.dht.message_bytes + 40.0 * static_cast<double>(reply->response.contacts.size());
    for (const auto& r : reply->response.records) bytes += 32.0 + static_cast<double>(r.payload.size() + r.publisher.size());
    post(h, env->request.sender, std::move(reply), bytes);
    return;
  }
  if (env->generation != host.generation) return;  // an answer to the node before a restart
  const auto it = host.pending.find(env->response.rpc_id);
  if (it == host.pending.end()) return;  // already timed out
  host.pending.erase(it);
  ++rpcs_;
  host.node->on_response(env->response, now);
}

double BlockDirectory::next_republish_s(int h, double now) const {
  const Host& host = *hosts_[static_cast<std::size_t>(h)];
  const double next = host.node ? host.node->next_republish_s() : std::numeric_limits<double>::infinity();
  return std::isfinite(next) ? next : now + sc_.policy.dht.record_ttl_s / 2;
}

void BlockDirectory::republish_due(int h, double now) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  if (!host.node || !is_on_(h)) return;
  rejoin_if_isolated(h, now);
  host.node->republish_due(now);
}

void BlockDirectory::announce(int server, BlockRange blocks, double throughput, double now) {
  Host& host = *hosts_[static_cast<std::size_t>(server)];
  std::ostringstream payload;
  payload.precision(17);
  payload << blocks.start << ' ' << blocks.end << ' ' << throughput;
  host.payload = payload.str();
  for (int b = blocks.start; b < blocks.end; ++b) {
    host.published.insert(b);
    if (host.node)
      host.node->publish(block_key(b), host.payload, sc_.policy.dht.record_ttl_s, now,
                         [this](const dht::LookupResult& r) { stores_ += static_cast<std::uint64_t>(r.stores); });
  }
}

void BlockDirectory::withdraw(int server, BlockRange blocks) {
  Host& host = *hosts_[static_cast<std::size_t>(server)];
  for (int b = blocks.start; b < blocks.end; ++b) {
    host.published.erase(b);
    if (host.node) host.node->stop_publishing(block_key(b));
  }
}

void BlockDirectory::count(const dht::LookupResult& r) {
  ++lookups_;
  hops_sum_ += r.hops;
  hops_max_ = std::max(hops_max_, r.hops);
  lookup_delay_.record(std::max(0.0, r.finished_s - r.started_s));
}

const std::vector<DhtServerRecord>* BlockDirectory::cached(int h, bool refresh, double now) const {
  const Host& host = *hosts_[static_cast<std::size_t>(h)];
  return !refresh && now < host.cache_until ? &host.cache : nullptr;
}

std::shared_ptr<BlockLookup> BlockDirectory::find_servers(int h, BlockRange blocks, double now, std::function<void()> all_done) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  if (!host.node) return nullptr;
  rejoin_if_isolated(h, now);
  auto lookup = std::make_shared<BlockLookup>();
  lookup->remaining = blocks.size();
  lookup->generation = host.generation;
  // One FIND_VALUE per block, all in flight at once (as Petals' get_remote_module_infos).
  for (int b = blocks.start; b < blocks.end; ++b) {
    host.node->find_value(block_key(b), now, [this, lookup, all_done](const dht::LookupResult& r) {
      count(r);
      for (const auto& rec : r.records) lookup->found[rec.publisher] = rec.payload;
      if (--lookup->remaining == 0 && all_done) all_done();
    });
  }
  return lookup;
}

bool BlockDirectory::still_current(int h, const BlockLookup& lookup) const {
  return hosts_[static_cast<std::size_t>(h)]->generation == lookup.generation && is_on_(h);
}

std::vector<DhtServerRecord> BlockDirectory::finish_lookup(int h, const BlockLookup& lookup, double now) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  std::vector<DhtServerRecord> servers;
  for (const auto& [publisher, payload] : lookup.found) {
    DhtServerRecord rec;
    rec.server = host_of(publisher);
    std::istringstream in(payload);
    in >> rec.blocks.start >> rec.blocks.end >> rec.throughput;
    if (rec.server >= 0 && rec.server < servers_) servers.push_back(rec);
  }
  host.cache = servers;
  host.cache_until = now + sc_.policy.dht.client_refresh_s;
  return servers;
}

nlohmann::json BlockDirectory::metrics() const {
  return {{"lookups", lookups_},
          {"mean_hops", lookups_ ? hops_sum_ / static_cast<double>(lookups_) : 0.0},
          {"max_hops", hops_max_},
          {"lookup_delay_s", {{"mean", lookup_delay_.mean()}, {"p50", lookup_delay_.percentile(50)},
                              {"p99", lookup_delay_.percentile(99)}, {"max", lookup_delay_.max()}}},
          {"rpcs_answered", rpcs_},
          {"rejoins", rejoins_},
          {"rpc_timeouts", timeouts_},
          {"stores", stores_},
          {"messages", messages_},
          {"bytes", bytes_}};
}

}  // namespace swarmsim::sim
