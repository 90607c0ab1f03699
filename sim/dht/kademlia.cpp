#include "sim/dht/kademlia.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>

namespace swarmsim::dht {

const char* to_string(RpcKind kind) {
  switch (kind) {
    case RpcKind::Ping: return "PING";
    case RpcKind::Store: return "STORE";
    case RpcKind::FindNode: return "FIND_NODE";
    case RpcKind::FindValue: return "FIND_VALUE";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// IterativeLookup

IterativeLookup::IterativeLookup(NodeId self, NodeId target, Goal goal, int alpha, int k)
    : self_(self), target_(target), goal_(goal), alpha_(alpha), k_(k) {
  if (alpha <= 0 || k <= 0) throw std::invalid_argument("IterativeLookup: alpha and k must be positive");
  result_.target = target;
}

void IterativeLookup::add_candidate(const Contact& c, int depth) {
  if (c.id == self_) return;
  auto [it, inserted] = shortlist_.try_emplace(c.id ^ target_, Candidate{c, State::Fresh, depth});
  if (!inserted && it->second.state == State::Fresh) it->second.depth = std::min(it->second.depth, depth);
}

std::vector<LookupRpc> IterativeLookup::start(const std::vector<Contact>& seeds) {
  if (started_) throw std::logic_error("IterativeLookup: started twice");
  started_ = true;
  for (const Contact& c : seeds) add_candidate(c, 1);
  return next_rpcs();
}

std::vector<LookupRpc> IterativeLookup::next_rpcs() {
  std::vector<LookupRpc> out;
  if (done_) return out;
  bool fresh_left = false;
  int window = 0;  // candidates among the k nearest that have not failed
  for (auto& [distance, c] : shortlist_) {
    if (window >= k_) break;
    if (c.state == State::Failed) continue;
    ++window;
    if (c.state != State::Fresh) continue;
    if (in_flight_ >= alpha_) {
      fresh_left = true;
      break;
    }
    c.state = State::InFlight;
    ++in_flight_;
    ++result_.rpcs;
    result_.hops = std::max(result_.hops, c.depth);
    out.push_back(LookupRpc{c.contact, c.depth});
  }
  if (in_flight_ == 0 && !fresh_left) finish();
  return out;
}

std::vector<LookupRpc> IterativeLookup::on_response(const NodeId& from, const std::vector<Contact>& contacts,
                                                    const std::vector<Record>& records) {
  if (done_) return {};
  auto it = shortlist_.find(from ^ target_);
  if (it == shortlist_.end() || it->second.state != State::InFlight) return {};
  it->second.state = State::Answered;
  --in_flight_;
  ++result_.responses;
  if (goal_ == Goal::FindValue && !records.empty()) {
    result_.records = records;
    result_.found_value = true;
    finish();
    return {};
  }
  const int depth = it->second.depth + 1;
  for (const Contact& c : contacts) add_candidate(c, depth);
  return next_rpcs();
}

std::vector<LookupRpc> IterativeLookup::on_timeout(const NodeId& to) {
  if (done_) return {};
  auto it = shortlist_.find(to ^ target_);
  if (it == shortlist_.end() || it->second.state != State::InFlight) return {};
  it->second.state = State::Failed;
  --in_flight_;
  ++result_.timeouts;
  return next_rpcs();
}

void IterativeLookup::finish() {
  done_ = true;
  result_.closest.clear();
  for (const auto& [distance, c] : shortlist_) {
    if (static_cast<int>(result_.closest.size()) >= k_) break;
    if (c.state == State::Answered) result_.closest.push_back(c.contact);
  }
}

// ---------------------------------------------------------------------------------------------
// KademliaNode

KademliaNode::KademliaNode(Contact self, Transport& transport, KademliaParams params, std::uint64_t seed)
    : self_(std::move(self)),
      transport_(transport),
      params_(params),
      rng_(seed),
      table_(self_.id, params.k, params.replacement_cache) {
  if (params.alpha <= 0) throw std::invalid_argument("KademliaNode: alpha must be positive");
}

std::uint64_t KademliaNode::send(const Contact& to, Request r, PendingRpc pending) {
  r.rpc_id = next_rpc_id_++;
  r.sender = self_;
  pending.to = to;
  pending_.emplace(r.rpc_id, std::move(pending));
  const std::uint64_t id = r.rpc_id;
  transport_.send(to, std::move(r));
  return id;
}

void KademliaNode::observe(const Contact& c, double now_s) {
  const RoutingTable::Observation o = table_.observe(c, now_s);
  if (o.what != RoutingTable::Observed::Cached || !o.ping_candidate) return;
  // Kademlia §2.2: a full bucket pings its least-recently-seen contact before admitting anyone.
  if (!pinging_.insert(o.ping_candidate->id).second) return;  // a ping to it is already out
  Request ping;
  ping.kind = RpcKind::Ping;
  send(*o.ping_candidate, std::move(ping), PendingRpc{Purpose::Ping, 0, {}});
}

Response KademliaNode::handle(const Request& request, double now_s) {
  advance(now_s);
  Response r;
  r.kind = request.kind;
  r.rpc_id = request.rpc_id;
  r.sender = self_;
  switch (request.kind) {
    case RpcKind::Ping: break;
    case RpcKind::Store: merge_records(request.key, request.records, now_s); break;
    case RpcKind::FindValue:
      r.records = records(request.key, now_s);
      if (!r.records.empty()) break;
      [[fallthrough]];
    case RpcKind::FindNode: r.contacts = table_.closest(request.target, params_.k); break;
  }
  // Observe after answering, so that a node never returns the requester to itself.
  if (request.sender.id != self_.id) observe(request.sender, now_s);
  return r;
}

std::uint64_t KademliaNode::start_lookup(const NodeId& target, IterativeLookup::Goal goal, std::string key,
                                         LookupDone done) {
  const std::uint64_t id = next_lookup_id_++;
  auto [it, inserted] = lookups_.emplace(id, ActiveLookup{IterativeLookup(self_.id, target, goal, params_.alpha, params_.k),
                                                          std::move(key), std::move(done), now_s_});
  const std::vector<LookupRpc> first = it->second.lookup.start(table_.closest(target, params_.k));
  send_lookup_rpcs(id, first);
  return id;
}

void KademliaNode::send_lookup_rpcs(std::uint64_t lookup_id, const std::vector<LookupRpc>& rpcs) {
  auto it = lookups_.find(lookup_id);
  if (it == lookups_.end()) return;
  const bool value = it->second.lookup.goal() == IterativeLookup::Goal::FindValue;
  for (const LookupRpc& rpc : rpcs) {
    Request r;
    r.kind = value ? RpcKind::FindValue : RpcKind::FindNode;
    r.target = it->second.lookup.target();
    if (value) r.key = it->second.key;
    send(rpc.to, std::move(r), PendingRpc{Purpose::Lookup, lookup_id, {}});
  }
  finish_if_done(lookup_id);
}

void KademliaNode::finish_if_done(std::uint64_t lookup_id) {
  auto it = lookups_.find(lookup_id);
  if (it == lookups_.end() || !it->second.lookup.done()) return;
  ActiveLookup finished = std::move(it->second);  // the callback may start lookups of its own
  lookups_.erase(it);
  LookupResult r = finished.lookup.result();
  r.started_s = finished.started_s;
  r.finished_s = now_s_;
  if (finished.done) finished.done(r);
}

void KademliaNode::join(const Contact& known, double now_s, LookupDone done) {
  advance(now_s);
  if (known.id != self_.id) table_.observe(known, now_s);
  find_node(self_.id, now_s, [this, done = std::move(done)](const LookupResult& self_lookup) {
    const int nearest = table_.nearest_bucket();
    if (!params_.refresh_on_join || nearest < 0 || nearest + 1 >= kIdBits) {
      if (done) done(self_lookup);
      return;
    }
    // Refresh every bucket farther than the nearest neighbour; report once the last one ends.
    auto left = std::make_shared<int>(kIdBits - 1 - nearest);
    auto finished = [left, done, self_lookup](const LookupResult&) {
      if (--*left == 0 && done) done(self_lookup);
    };
    for (int b = nearest + 1; b < kIdBits; ++b) find_node(NodeId::random_in_bucket(self_.id, b, rng_), now_s_, finished);
  });
}

void KademliaNode::find_node(const NodeId& target, double now_s, LookupDone done) {
  advance(now_s);
  start_lookup(target, IterativeLookup::Goal::FindNode, {}, std::move(done));
}

void KademliaNode::find_value(const std::string& key, double now_s, LookupDone done) {
  advance(now_s);
  std::vector<Record> local = records(key, now_s);
  if (!local.empty()) {
    LookupResult r;
    r.target = key_id(key);
    r.records = std::move(local);
    r.found_value = true;
    r.started_s = r.finished_s = now_s_;
    if (done) done(r);
    return;
  }
  start_lookup(key_id(key), IterativeLookup::Goal::FindValue, key, std::move(done));
}

void KademliaNode::store(const std::string& key, std::vector<Record> records, double now_s, LookupDone done) {
  const NodeId target = key_id(key);
  find_node(target, now_s,
            [this, key, target, records = std::move(records), done = std::move(done)](const LookupResult& found) {
              LookupResult r = found;
              for (const Contact& c : found.closest) {
                Request s;
                s.kind = RpcKind::Store;
                s.key = key;
                s.records = records;
                send(c, std::move(s), PendingRpc{Purpose::Store, 0, {}});
                ++r.stores;
              }
              // This node is a replica too when it is nearer than the farthest node found.
              const bool room = static_cast<int>(found.closest.size()) < params_.k;
              if (room || closer_to(target, self_.id, found.closest.back().id)) merge_records(key, records, now_s_);
              if (done) done(r);
            });
}

void KademliaNode::publish(const std::string& key, std::string payload, double ttl_s, double now_s, LookupDone done) {
  if (!(ttl_s > 0)) throw std::invalid_argument("KademliaNode::publish: ttl must be positive");
  advance(now_s);
  published_[key] = Publication{payload, ttl_s, now_s + ttl_s / 2};
  store(key, {Record{self_.address, std::move(payload), now_s + ttl_s}}, now_s, std::move(done));
}

void KademliaNode::stop_publishing(const std::string& key) { published_.erase(key); }

void KademliaNode::republish_due(double now_s) {
  advance(now_s);
  std::vector<std::pair<std::string, Record>> due;
  for (auto& [key, p] : published_) {
    if (p.next_s > now_s) continue;
    due.emplace_back(key, Record{self_.address, p.payload, now_s + p.ttl_s});
    p.next_s = now_s + p.ttl_s / 2;
  }
  for (auto& [key, record] : due) store(key, {std::move(record)}, now_s);
}

double KademliaNode::next_republish_s() const {
  double t = std::numeric_limits<double>::infinity();
  for (const auto& [key, p] : published_) t = std::min(t, p.next_s);
  return t;
}

void KademliaNode::on_response(const Response& response, double now_s) {
  auto it = pending_.find(response.rpc_id);
  if (it == pending_.end()) return;  // late or unknown: its timeout was already reported
  advance(now_s);
  const PendingRpc p = std::move(it->second);
  pending_.erase(it);
  if (p.purpose == Purpose::Ping) pinging_.erase(p.to.id);
  observe(response.sender, now_s);
  if (p.purpose != Purpose::Lookup) return;
  auto l = lookups_.find(p.lookup);
  if (l == lookups_.end()) return;  // the lookup already ended (a FIND_VALUE found its value)
  // Matched by the id asked, not the id the answer claims, so an odd answer cannot stall the lookup.
  const std::vector<LookupRpc> next = l->second.lookup.on_response(p.to.id, response.contacts, response.records);
  send_lookup_rpcs(p.lookup, next);
}

void KademliaNode::on_timeout(std::uint64_t rpc_id, double now_s) {
  auto it = pending_.find(rpc_id);
  if (it == pending_.end()) return;
  advance(now_s);
  const PendingRpc p = std::move(it->second);
  pending_.erase(it);
  if (p.purpose == Purpose::Ping) pinging_.erase(p.to.id);
  table_.remove(p.to.id);
  if (p.purpose != Purpose::Lookup) return;
  auto l = lookups_.find(p.lookup);
  if (l == lookups_.end()) return;
  const std::vector<LookupRpc> next = l->second.lookup.on_timeout(p.to.id);
  send_lookup_rpcs(p.lookup, next);
}

std::vector<Record> KademliaNode::records(const std::string& key, double now_s) {
  auto it = store_.find(key);
  if (it == store_.end()) return {};
  std::erase_if(it->second, [&](const Record& r) { return r.expires_at <= now_s; });
  if (it->second.empty()) {
    store_.erase(it);
    return {};
  }
  return it->second;
}

void KademliaNode::merge_records(const std::string& key, const std::vector<Record>& records, double now_s) {
  std::vector<Record>* held = nullptr;
  for (const Record& r : records) {
    if (r.expires_at <= now_s) continue;
    if (!held) held = &store_[key];
    auto same = std::find_if(held->begin(), held->end(), [&](const Record& x) { return x.publisher == r.publisher; });
    if (same == held->end()) held->push_back(r);
    else if (r.expires_at >= same->expires_at) *same = r;  // a stale copy never overwrites a fresher one
  }
}

void KademliaNode::expire(double now_s) {
  for (auto it = store_.begin(); it != store_.end();) {
    std::erase_if(it->second, [&](const Record& r) { return r.expires_at <= now_s; });
    it = it->second.empty() ? store_.erase(it) : std::next(it);
  }
}

}  // namespace swarmsim::dht
