#pragma once
// A Kademlia routing table: 160 k-buckets, bucket i holding up to k contacts at XOR distance
// [2^i, 2^(i+1)) from the owner, least recently seen first.
//
// Eviction policy (Kademlia §2.2): a contact seen again moves to the tail. A new contact for a
// full bucket does not displace anyone: it waits in the bucket's replacement cache (at most
// `replacement_cache` entries, newest kept) and observe() names the bucket's least-recently-seen
// contact for the owner to PING. If that contact answers, the owner observes it again (it moves
// to the tail and stays); if it times out, the owner calls remove(), which promotes the newest
// cached replacement. Long-lived contacts are thereby kept, which is Kademlia's defence against
// churn and flooding. Contacts that time out in lookups are removed the same way.
//
// Cost: observe/remove O(k); closest() O(k log k) when the target's bucket is full, O(m log m)
// at worst for m contacts in the table (≈ k log2 n).
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "sim/dht/node_id.hpp"

namespace swarmsim::dht {

/// A node as others know it: its id and its transport address (the simulator's host/server name).
struct Contact {
  NodeId id;
  std::string address;
  friend bool operator==(const Contact&, const Contact&) = default;
};

/// Sorts `contacts` by XOR distance to `target`, nearest first.
void sort_by_distance(std::vector<Contact>& contacts, const NodeId& target);

class RoutingTable {
 public:
  /// One bucket entry.
  struct Entry {
    Contact contact;
    double last_seen_s = 0;  ///< simulated time of the last message from it (s)
  };
  /// What observe() did with a contact.
  enum class Observed {
    Inserted,   ///< appended to a bucket with room
    Refreshed,  ///< already there: moved to the tail (most recently seen)
    Cached,     ///< its bucket is full: kept as a replacement; ping `ping_candidate`
    Ignored,    ///< the owner's own id
  };
  struct Observation {
    Observed what = Observed::Ignored;
    std::optional<Contact> ping_candidate;  ///< least-recently-seen contact to PING when Cached
  };

  /// A table owned by node `self` with buckets of `k` contacts and replacement caches of
  /// `replacement_cache` contacts (k > 0, replacement_cache >= 0).
  explicit RoutingTable(NodeId self, int k = 20, int replacement_cache = 20);

  /// Records that `c` was heard from at `now_s` (a request from it or a response by it).
  Observation observe(const Contact& c, double now_s);
  /// Drops the contact with id `id` (it failed to answer) and promotes the newest replacement of
  /// its bucket; returns false when it was not in the table.
  bool remove(const NodeId& id);
  /// Up to `count` contacts nearest `target` by XOR, nearest first (the owner is never included).
  std::vector<Contact> closest(const NodeId& target, int count) const;
  /// True when a contact with id `id` is in a bucket (not the replacement cache).
  bool contains(const NodeId& id) const;

  /// Bucket `i` (0..159), least recently seen first.
  const std::vector<Entry>& bucket(int i) const { return buckets_[static_cast<std::size_t>(i)].entries; }
  /// Replacement cache of bucket `i`, least recently seen first.
  const std::vector<Entry>& replacements(int i) const { return buckets_[static_cast<std::size_t>(i)].replacements; }
  /// Contacts in all buckets.
  int size() const { return size_; }
  /// The lowest non-empty bucket index (the closest neighbour's), or -1 when the table is empty.
  int nearest_bucket() const;
  const NodeId& self() const { return self_; }
  int k() const { return k_; }

 private:
  struct Bucket {
    std::vector<Entry> entries;          // least recently seen first
    std::vector<Entry> replacements;  // least recently seen first
  };
  NodeId self_;
  int k_;
  int replacement_cache_;
  int size_ = 0;
  std::array<Bucket, kIdBits> buckets_;
};

}  // namespace swarmsim::dht
