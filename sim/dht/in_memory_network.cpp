#include "sim/dht/in_memory_network.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

namespace swarmsim::dht {

InMemoryDht::InMemoryDht(InMemoryDhtParams params) : params_(std::move(params)), rng_(params_.seed) {
  if (!(params_.rpc_timeout_s > 0)) throw std::invalid_argument("InMemoryDht: rpc timeout must be positive");
}

InMemoryDht::~InMemoryDht() = default;

int InMemoryDht::add_node(const std::string& name) { return add_node(name, NodeId::from_name(name)); }

int InMemoryDht::add_node(const std::string& name, const NodeId& id) {
  if (index_.count(name)) throw std::invalid_argument("InMemoryDht: duplicate node name '" + name + "'");
  const int index = size();
  const std::uint64_t seed = sim::Rng(params_.seed ^ fnv1a64(name)).next_u64();
  nodes_.push_back(std::make_unique<KademliaNode>(Contact{id, name}, static_cast<Transport&>(*this), params_.node, seed));
  failed_.push_back(false);
  index_.emplace(name, index);
  if (alive_ > 0) {
    // The bootstrap contact: the i-th live node among the others, i uniform.
    std::uint64_t pick = rng_.below(static_cast<std::uint64_t>(alive_));
    int known = 0;
    for (; known < index; ++known)
      if (!failed_[static_cast<std::size_t>(known)] && pick-- == 0) break;
    nodes_.back()->join(nodes_[static_cast<std::size_t>(known)]->contact(), now_s_);
    run_until_idle();
  }
  ++alive_;
  return index;
}

void InMemoryDht::fail(int i) {
  if (failed_.at(static_cast<std::size_t>(i))) return;
  failed_[static_cast<std::size_t>(i)] = true;
  --alive_;
}

int InMemoryDht::index_of(const std::string& address) const {
  auto it = index_.find(address);
  return it == index_.end() ? -1 : it->second;
}

void InMemoryDht::schedule(Event e) {
  std::size_t slot = slots_.size();
  if (free_slots_.empty()) {
    slots_.push_back(std::move(e));
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[slot] = std::move(e);
  }
  queue_.push_back(Scheduled{slots_[slot].time_s, next_seq_++, slot});
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

void InMemoryDht::send(const Contact& to, Request request) {
  ++traffic_.requests;
  Event e;
  e.from = index_of(request.sender.address);
  e.to = index_of(to.address);
  e.sent_s = now_s_;
  e.rpc_id = request.rpc_id;
  if (e.to < 0) {  // an address nobody has: the request is lost
    e.kind = EventKind::Timeout;
    std::swap(e.to, e.from);
    e.time_s = now_s_ + params_.rpc_timeout_s;
  } else {
    e.kind = EventKind::Request;
    e.time_s = now_s_ + (params_.delay_s ? params_.delay_s(e.from, e.to) : 0.0);
    e.request = std::move(request);
  }
  schedule(std::move(e));
}

void InMemoryDht::run_until_idle() {
  while (!queue_.empty()) {
    std::pop_heap(queue_.begin(), queue_.end(), Later{});
    const std::size_t slot = queue_.back().slot;
    queue_.pop_back();
    Event e = std::move(slots_[slot]);
    free_slots_.push_back(slot);
    now_s_ = std::max(now_s_, e.time_s);
    if (failed_[static_cast<std::size_t>(e.to)]) {
      if (e.kind != EventKind::Request) continue;  // a failed sender hears nothing
      // A failed recipient stays silent: the sender times out.
      Event t;
      t.kind = EventKind::Timeout;
      t.to = e.from;
      t.from = e.to;
      t.rpc_id = e.rpc_id;
      t.time_s = std::max(now_s_, e.sent_s + params_.rpc_timeout_s);
      schedule(std::move(t));
      continue;
    }
    KademliaNode& n = *nodes_[static_cast<std::size_t>(e.to)];
    switch (e.kind) {
      case EventKind::Request: {
        Event r;
        r.response = n.handle(e.request, now_s_);
        r.to = e.from;
        r.from = e.to;
        r.rpc_id = e.rpc_id;
        r.sent_s = e.sent_s;
        const double arrival = now_s_ + (params_.delay_s ? params_.delay_s(e.to, e.from) : 0.0);
        if (arrival - e.sent_s > params_.rpc_timeout_s) {  // too slow: the sender gives up first
          r.kind = EventKind::Timeout;
          r.time_s = e.sent_s + params_.rpc_timeout_s;
          r.response = {};
        } else {
          r.kind = EventKind::Response;
          r.time_s = arrival;
        }
        schedule(std::move(r));
        break;
      }
      case EventKind::Response:
        ++traffic_.responses;
        n.on_response(e.response, now_s_);
        break;
      case EventKind::Timeout:
        ++traffic_.timeouts;
        n.on_timeout(e.rpc_id, now_s_);
        break;
    }
  }
}

KademliaNode& InMemoryDht::live_node(int i, const char* what) {
  if (i < 0 || i >= size()) throw std::out_of_range(std::string("InMemoryDht: ") + what + " from a node that does not exist");
  if (failed_[static_cast<std::size_t>(i)]) throw std::invalid_argument(std::string("InMemoryDht: ") + what + " from a failed node");
  return *nodes_[static_cast<std::size_t>(i)];
}

LookupResult InMemoryDht::wait_for(const char* what, const std::function<void(KademliaNode::LookupDone)>& start) {
  LookupResult out;
  bool finished = false;
  start([&](const LookupResult& r) {
    out = r;
    finished = true;
  });
  run_until_idle();
  if (!finished) throw std::logic_error(std::string("InMemoryDht: ") + what + " did not finish");
  return out;
}

LookupResult InMemoryDht::find_node(int from, const NodeId& target) {
  KademliaNode& n = live_node(from, "FIND_NODE");
  return wait_for("FIND_NODE", [&](KademliaNode::LookupDone done) { n.find_node(target, now_s_, std::move(done)); });
}

LookupResult InMemoryDht::find_value(int from, const std::string& key) {
  KademliaNode& n = live_node(from, "FIND_VALUE");
  return wait_for("FIND_VALUE", [&](KademliaNode::LookupDone done) { n.find_value(key, now_s_, std::move(done)); });
}

LookupResult InMemoryDht::store(int from, const std::string& key, std::vector<Record> records) {
  KademliaNode& n = live_node(from, "STORE");
  return wait_for("STORE", [&](KademliaNode::LookupDone done) { n.store(key, std::move(records), now_s_, std::move(done)); });
}

LookupResult InMemoryDht::publish(int from, const std::string& key, std::string payload, double ttl_s) {
  KademliaNode& n = live_node(from, "publish");
  return wait_for("publish",
                  [&](KademliaNode::LookupDone done) { n.publish(key, std::move(payload), ttl_s, now_s_, std::move(done)); });
}

void InMemoryDht::advance_to(double t_s) {
  while (true) {
    double next = std::numeric_limits<double>::infinity();
    for (int i = 0; i < size(); ++i)
      if (!failed_[static_cast<std::size_t>(i)]) next = std::min(next, nodes_[static_cast<std::size_t>(i)]->next_republish_s());
    if (next > t_s) break;
    now_s_ = std::max(now_s_, next);
    for (int i = 0; i < size(); ++i)
      if (!failed_[static_cast<std::size_t>(i)]) nodes_[static_cast<std::size_t>(i)]->republish_due(now_s_);
    run_until_idle();
  }
  now_s_ = std::max(now_s_, t_s);
}

std::vector<int> InMemoryDht::closest_alive(const NodeId& target, int count, int exclude) const {
  std::vector<int> ids;
  for (int i = 0; i < size(); ++i)
    if (!failed_[static_cast<std::size_t>(i)] && i != exclude) ids.push_back(i);
  const auto n = static_cast<std::ptrdiff_t>(std::min<std::size_t>(ids.size(), static_cast<std::size_t>(std::max(count, 0))));
  std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int a, int b) {
    return closer_to(target, nodes_[static_cast<std::size_t>(a)]->id(), nodes_[static_cast<std::size_t>(b)]->id());
  });
  ids.resize(static_cast<std::size_t>(n));
  return ids;
}

}  // namespace swarmsim::dht
