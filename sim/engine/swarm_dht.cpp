#include "sim/engine/swarm_dht.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Mailbox.hpp>
#include <simgrid/s4u/Semaphore.hpp>

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {

namespace {
double now() { return sg4::Engine::get_clock(); }
std::string block_key(int b) { return "block:" + std::to_string(b); }
}  // namespace

/// A request or a response in flight between two hosts' DHT actors.
struct SwarmDht::Envelope {
  bool is_request = true;
  int from = 0;
  int generation = 0;  ///< the sender node's generation, for requests (responses go to that node only)
  dht::Request request;
  dht::Response response;
};

/// Per host: its node (recreated when the host restarts) and its client-side cache.
struct SwarmDht::Host {
  int index = 0;
  std::string name;
  int generation = 0;
  std::unique_ptr<HostTransport> transport;
  std::unique_ptr<dht::KademliaNode> node;
  std::map<std::uint64_t, bool> pending;  ///< rpc ids awaiting an answer (true) of this generation
  std::vector<DhtServerRecord> cache;
  double cache_until = -1;
  std::set<int> published;                ///< blocks this server announces
  std::string payload;
};

class SwarmDht::HostTransport final : public dht::Transport {
 public:
  HostTransport(SwarmDht& dht, int host) : dht_(dht), host_(host) {}
  void send(const dht::Contact& to, dht::Request request) override {
    Host& h = *dht_.hosts_[static_cast<std::size_t>(host_)];
    const std::uint64_t id = request.rpc_id;
    h.pending[id] = true;
    double bytes = dht_.sc_.policy.dht.message_bytes + 32.0 * request.records.size();
    for (const auto& r : request.records) bytes += r.payload.size() + r.publisher.size();
    auto env = std::make_unique<Envelope>();
    env->is_request = true;
    env->from = host_;
    env->generation = h.generation;
    env->request = std::move(request);
    dht_.post(host_, to, std::move(env), bytes);
    // The timeout: a tiny actor that reports the RPC failed unless its answer came first.
    const int generation = h.generation;
    SwarmDht* dht = &dht_;
    const int host = host_;
    sg4::Actor::create("dht-timeout", dht_.platform_.control_host(), [dht, host, generation, id] {
      sg4::this_actor::sleep_for(dht->sc_.policy.dht.rpc_timeout_s);
      Host& hh = *dht->hosts_[static_cast<std::size_t>(host)];
      if (hh.generation != generation || !hh.node) return;
      auto it = hh.pending.find(id);
      if (it == hh.pending.end()) return;
      hh.pending.erase(it);
      ++dht->timeouts_;
      hh.node->on_timeout(id, now());
    })->daemonize();
  }

 private:
  SwarmDht& dht_;
  int host_;
};

SwarmDht::SwarmDht(const Scenario& sc, const SwarmPlatform& platform) : sc_(sc), platform_(platform) {
  const int S = static_cast<int>(sc.nodes.size()), C = static_cast<int>(sc.clients.size());
  for (int h = 0; h < S + C; ++h) {
    auto host = std::make_unique<Host>();
    host->index = h;
    host->name = h < S ? sc.nodes[static_cast<std::size_t>(h)].name : sc.clients[static_cast<std::size_t>(h - S)].name;
    hosts_.push_back(std::move(host));
  }
}

SwarmDht::~SwarmDht() = default;

int SwarmDht::host_of(const std::string& address) const {
  for (const auto& h : hosts_)
    if (h->name == address) return h->index;
  return -1;
}

void SwarmDht::post(int from, const dht::Contact& to, std::unique_ptr<Envelope> env, double bytes) {
  const int dest = host_of(to.address);
  if (dest < 0 || !platform_.host(from)->is_on() || !platform_.host(dest)->is_on()) return;  // lost: the timeout reports it
  ++messages_;
  bytes_ += bytes;
  sg4::Mailbox* mb = sg4::Mailbox::by_name("dht-" + hosts_[static_cast<std::size_t>(dest)]->name);
  sg4::CommPtr c = sg4::Comm::sendto_async(platform_.host(from), platform_.host(dest), static_cast<std::uint64_t>(bytes));
  // Carry the payload by mailbox once the bytes have crossed the simulated network.
  Envelope* raw = env.release();
  sg4::Actor::create("dht-msg", platform_.control_host(), [c, mb, raw] {
    try {
      c->wait();
    } catch (const std::exception&) {
      delete raw;  // a host went down on the way
      return;
    }
    mb->put_init(raw, 0)->detach();
  })->daemonize();
}

void SwarmDht::dht_actor(int h) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  // A (re)start: a fresh node; it joins through the first other host that is up.
  ++host.generation;
  host.pending.clear();
  host.cache_until = -1;
  host.transport = std::make_unique<HostTransport>(*this, h);
  dht::KademliaParams params;
  params.k = sc_.policy.dht.k;
  params.alpha = sc_.policy.dht.alpha;
  host.node = std::make_unique<dht::KademliaNode>(dht::Contact{dht::NodeId::from_name(host.name), host.name}, *host.transport,
                                                  params, sc_.seed * 7919 + static_cast<std::uint64_t>(h));
  sg4::Mailbox* mb = sg4::Mailbox::by_name("dht-" + host.name);
  mb->set_receiver(sg4::Actor::self());
  for (const auto& other : hosts_)
    if (other->index != h && other->node && platform_.host(other->index)->is_on()) {
      host.node->join(other->node->contact(), now(), [this](const dht::LookupResult& r) { count(r); });
      break;
    }
  if (!host.published.empty()) {  // a restarted server announces its blocks again
    for (int b : host.published) host.node->publish(block_key(b), host.payload, sc_.policy.dht.record_ttl_s, now());
  }
  while (true) {
    Envelope* raw = mb->get<Envelope>();
    std::unique_ptr<Envelope> env(raw);
    if (env->is_request) {
      auto reply = std::make_unique<Envelope>();
      reply->is_request = false;
      reply->from = h;
      reply->generation = env->generation;
      reply->response = host.node->handle(env->request, now());
      double bytes = sc_.policy.dht.message_bytes + 40.0 * reply->response.contacts.size();
      for (const auto& r : reply->response.records) bytes += 32.0 + r.payload.size() + r.publisher.size();
      post(h, env->request.sender, std::move(reply), bytes);
    } else {
      if (env->generation != host.generation) continue;  // an answer to the node before a restart
      auto it = host.pending.find(env->response.rpc_id);
      if (it == host.pending.end()) continue;  // already timed out
      host.pending.erase(it);
      ++rpcs_;
      host.node->on_response(env->response, now());
    }
  }
}

void SwarmDht::republish_actor(int h) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  while (true) {
    double next = host.node ? host.node->next_republish_s() : std::numeric_limits<double>::infinity();
    if (!std::isfinite(next)) next = now() + sc_.policy.dht.record_ttl_s / 2;
    if (next > now()) sg4::this_actor::sleep_until(next);
    if (host.node && platform_.host(h)->is_on()) host.node->republish_due(now());
  }
}

void SwarmDht::start() {
  for (const auto& h : hosts_) {
    const int i = h->index;
    sg4::ActorPtr a = sg4::Actor::create("dht-" + h->name, platform_.host(i), [this, i] { dht_actor(i); });
    a->daemonize();
    a->set_auto_restart(true);
    sg4::ActorPtr r = sg4::Actor::create("dht-republish-" + h->name, platform_.host(i), [this, i] { republish_actor(i); });
    r->daemonize();
    r->set_auto_restart(true);
  }
}

void SwarmDht::announce(int server, BlockRange blocks, double throughput) {
  Host& host = *hosts_[static_cast<std::size_t>(server)];
  std::ostringstream payload;
  payload.precision(17);
  payload << blocks.start << ' ' << blocks.end << ' ' << throughput;
  host.payload = payload.str();
  for (int b = blocks.start; b < blocks.end; ++b) {
    host.published.insert(b);
    if (host.node) host.node->publish(block_key(b), host.payload, sc_.policy.dht.record_ttl_s, now(), [this](const dht::LookupResult& r) {
      stores_ += static_cast<std::uint64_t>(r.stores);
    });
  }
}

void SwarmDht::withdraw(int server, BlockRange blocks) {
  Host& host = *hosts_[static_cast<std::size_t>(server)];
  for (int b = blocks.start; b < blocks.end; ++b) {
    host.published.erase(b);
    if (host.node) host.node->stop_publishing(block_key(b));
  }
}

void SwarmDht::count(const dht::LookupResult& r) {
  ++lookups_;
  hops_sum_ += r.hops;
  hops_max_ = std::max(hops_max_, r.hops);
  lookup_delay_.record(std::max(0.0, r.finished_s - r.started_s));
}

std::vector<DhtServerRecord> SwarmDht::servers_for(int h, int n_blocks, bool refresh) {
  Host& host = *hosts_[static_cast<std::size_t>(h)];
  if (!refresh && now() < host.cache_until) return host.cache;
  if (!host.node) return {};
  // One FIND_VALUE per block, all in flight at once (as Petals' get_remote_module_infos).
  auto remaining = std::make_shared<int>(n_blocks);
  auto done = sg4::Semaphore::create(0);
  auto found = std::make_shared<std::map<std::string, std::string>>();  // publisher -> payload
  const int generation = host.generation;
  for (int b = 0; b < n_blocks; ++b)
    host.node->find_value(block_key(b), now(), [this, remaining, done, found](const dht::LookupResult& r) {
      count(r);
      for (const auto& rec : r.records) (*found)[rec.publisher] = rec.payload;
      if (--*remaining == 0) done->release();
    });
  while (*remaining > 0) {
    done->acquire_timeout(sc_.policy.dht.rpc_timeout_s);
    if (host.generation != generation || !platform_.host(h)->is_on()) return {};
  }
  std::vector<DhtServerRecord> servers;
  for (const auto& [publisher, payload] : *found) {
    DhtServerRecord rec;
    rec.server = host_of(publisher);
    std::istringstream in(payload);
    in >> rec.blocks.start >> rec.blocks.end >> rec.throughput;
    if (rec.server >= 0 && rec.server < static_cast<int>(sc_.nodes.size())) servers.push_back(rec);
  }
  host.cache = servers;
  host.cache_until = now() + sc_.policy.dht.client_refresh_s;
  return servers;
}

nlohmann::json SwarmDht::metrics() const {
  return {{"lookups", lookups_},
          {"mean_hops", lookups_ ? hops_sum_ / static_cast<double>(lookups_) : 0.0},
          {"max_hops", hops_max_},
          {"lookup_delay_s", {{"mean", lookup_delay_.mean()}, {"p50", lookup_delay_.percentile(50)},
                              {"p99", lookup_delay_.percentile(99)}, {"max", lookup_delay_.max()}}},
          {"rpcs_answered", rpcs_},
          {"rpc_timeouts", timeouts_},
          {"stores", stores_},
          {"messages", messages_},
          {"bytes", bytes_}};
}

}  // namespace swarmsim::sim
