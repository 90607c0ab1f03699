#include "sim/dht/routing_table.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace swarmsim::dht {

void sort_by_distance(std::vector<Contact>& contacts, const NodeId& target) {
  std::sort(contacts.begin(), contacts.end(),
            [&](const Contact& a, const Contact& b) { return closer_to(target, a.id, b.id); });
}

RoutingTable::RoutingTable(NodeId self, int k, int replacement_cache)
    : self_(self), k_(k), replacement_cache_(replacement_cache) {
  if (k <= 0) throw std::invalid_argument("RoutingTable: k must be positive");
  if (replacement_cache < 0) throw std::invalid_argument("RoutingTable: replacement cache size must be >= 0");
}

RoutingTable::Observation RoutingTable::observe(const Contact& c, double now_s) {
  const int index = bucket_index(self_, c.id);
  if (index < 0) return {};
  Bucket& b = buckets_[static_cast<std::size_t>(index)];
  auto it = std::find_if(b.entries.begin(), b.entries.end(), [&](const Entry& e) { return e.contact.id == c.id; });
  if (it != b.entries.end()) {  // move to the tail, keeping the newest address
    Entry e{c, now_s};
    b.entries.erase(it);
    b.entries.push_back(std::move(e));
    return {Observed::Refreshed, std::nullopt};
  }
  if (static_cast<int>(b.entries.size()) < k_) {
    b.entries.push_back(Entry{c, now_s});
    ++size_;
    return {Observed::Inserted, std::nullopt};
  }
  // Full: cache the newcomer (newest last, oldest dropped) and ask for a ping of the LRS contact.
  auto r = std::find_if(b.replacements.begin(), b.replacements.end(), [&](const Entry& x) { return x.contact.id == c.id; });
  if (r != b.replacements.end()) b.replacements.erase(r);
  if (replacement_cache_ > 0) {
    if (static_cast<int>(b.replacements.size()) >= replacement_cache_) b.replacements.erase(b.replacements.begin());
    b.replacements.push_back(Entry{c, now_s});
  }
  return {Observed::Cached, b.entries.front().contact};
}

bool RoutingTable::remove(const NodeId& id) {
  const int index = bucket_index(self_, id);
  if (index < 0) return false;
  Bucket& b = buckets_[static_cast<std::size_t>(index)];
  auto r = std::find_if(b.replacements.begin(), b.replacements.end(), [&](const Entry& x) { return x.contact.id == id; });
  if (r != b.replacements.end()) b.replacements.erase(r);  // a failed node is no replacement either
  auto it = std::find_if(b.entries.begin(), b.entries.end(), [&](const Entry& e) { return e.contact.id == id; });
  if (it == b.entries.end()) return false;
  b.entries.erase(it);
  --size_;
  if (!b.replacements.empty()) {  // promote the most recently seen replacement, in last-seen order
    Entry promoted = std::move(b.replacements.back());
    b.replacements.pop_back();
    auto at = std::upper_bound(b.entries.begin(), b.entries.end(), promoted.last_seen_s,
                               [](double t, const Entry& e) { return t < e.last_seen_s; });
    b.entries.insert(at, std::move(promoted));
    ++size_;
  }
  return true;
}

std::vector<Contact> RoutingTable::closest(const NodeId& target, int count) const {
  // Buckets in order of distance to the target, b = bucket_index(self, target) (-1 if target = self):
  //   bucket b          distances < 2^b             (shares self's and target's prefix, bit b included)
  //   buckets 0 .. b-1  distances in [2^b, 2^(b+1))  (one group: sorted together)
  //   bucket i > b      distances in [2^i, 2^(i+1))  (ascending i)
  // so only the groups up to the count-th contact are collected and sorted.
  const auto want = static_cast<std::size_t>(std::max(count, 0));
  std::vector<std::pair<NodeId, const Contact*>> picked;
  picked.reserve(want + static_cast<std::size_t>(k_));
  auto take = [&](int lo, int hi) {
    const std::size_t start = picked.size();
    for (int i = lo; i <= hi; ++i)
      for (const Entry& e : buckets_[static_cast<std::size_t>(i)].entries) picked.emplace_back(e.contact.id ^ target, &e.contact);
    std::sort(picked.begin() + static_cast<std::ptrdiff_t>(start), picked.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
  };
  const int b = bucket_index(self_, target);
  if (b >= 0) {
    take(b, b);
    if (picked.size() < want && b > 0) take(0, b - 1);
  }
  for (int i = b + 1; i < kIdBits && picked.size() < want; ++i) take(i, i);
  const std::size_t n = std::min(picked.size(), want);
  std::vector<Contact> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(*picked[i].second);
  return out;
}

bool RoutingTable::contains(const NodeId& id) const {
  const int index = bucket_index(self_, id);
  if (index < 0) return false;
  const Bucket& b = buckets_[static_cast<std::size_t>(index)];
  return std::any_of(b.entries.begin(), b.entries.end(), [&](const Entry& e) { return e.contact.id == id; });
}

int RoutingTable::nearest_bucket() const {
  for (int i = 0; i < kIdBits; ++i)
    if (!buckets_[static_cast<std::size_t>(i)].entries.empty()) return i;
  return -1;
}

}  // namespace swarmsim::dht
