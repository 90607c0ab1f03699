#pragma once
// Kademlia identifiers (Maymounkov & Mazières 2002): 160-bit unsigned integers under the XOR
// metric d(a, b) = a ⊕ b. Node ids and record keys share this space; a key's id is the hash of
// its name, so the nodes closest to it by XOR are the ones that store it.
//
// Bucket index (of `other` in `self`'s table) = 159 − common prefix length = the position of the
// highest bit in which the two ids differ; bucket i holds ids at distance [2^i, 2^(i+1)).
#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sim/rng.hpp"

namespace swarmsim::dht {

inline constexpr int kIdBits = 160;  ///< bits in a NodeId (as in Kademlia and BitTorrent's DHT)

/// A 160-bit id stored as five 32-bit words, most significant first, so that the defaulted
/// comparison orders ids (and XOR distances) as unsigned integers.
class NodeId {
 public:
  static constexpr int kWords = 5;
  using Words = std::array<std::uint32_t, kWords>;

  /// The zero id.
  constexpr NodeId() = default;
  /// An id from its words, most significant first.
  constexpr explicit NodeId(const Words& words) : words_(words) {}

  /// The id of a name (node or key): FNV-1a-64 of the bytes, expanded to 160 bits by SplitMix64.
  /// Deterministic on every platform; not cryptographic (ids are not an attack surface here).
  static NodeId from_name(std::string_view name);
  /// Parses 1-40 hex digits (no prefix), right-aligned: "1" is the id 1. Throws std::invalid_argument.
  static NodeId from_hex(std::string_view hex);
  /// A uniformly random id drawn from `rng` (three draws).
  static NodeId random(sim::Rng& rng);
  /// A uniformly random id whose bucket index relative to `self` is `bucket` (0..159): the ids
  /// that share exactly 159 − bucket leading bits with `self`.
  static NodeId random_in_bucket(const NodeId& self, int bucket, sim::Rng& rng);

  /// The 40 hex digits, most significant first.
  std::string hex() const;
  /// Bit `i` counted from the most significant (i = 0) to the least (i = 159).
  bool bit_from_top(int i) const { return (words_[i / 32] >> (31 - i % 32)) & 1U; }
  /// Number of leading zero bits (160 for the zero id).
  int leading_zeros() const {
    for (int i = 0; i < kWords; ++i)
      if (words_[i] != 0) return 32 * i + std::countl_zero(words_[i]);
    return kIdBits;
  }
  bool is_zero() const { return leading_zeros() == kIdBits; }
  const Words& words() const { return words_; }

  /// Bitwise XOR: the Kademlia distance when applied to two ids.
  friend NodeId operator^(const NodeId& a, const NodeId& b) {
    NodeId r;
    for (int i = 0; i < kWords; ++i) r.words_[i] = a.words_[i] ^ b.words_[i];
    return r;
  }
  /// Orders ids as unsigned 160-bit integers.
  friend std::strong_ordering operator<=>(const NodeId& a, const NodeId& b) {
    for (int i = 0; i < kWords; ++i)
      if (a.words_[i] != b.words_[i]) return a.words_[i] < b.words_[i] ? std::strong_ordering::less : std::strong_ordering::greater;
    return std::strong_ordering::equal;
  }
  friend bool operator==(const NodeId& a, const NodeId& b) {
    bool same = true;
    for (int i = 0; i < kWords; ++i) same &= a.words_[i] == b.words_[i];  // branch-free: ids differ early anyway
    return same;
  }

 private:
  Words words_{};
};

/// XOR distance between two ids (itself an id-sized unsigned integer).
inline NodeId xor_distance(const NodeId& a, const NodeId& b) { return a ^ b; }
/// Number of leading bits `a` and `b` share (160 when equal).
inline int common_prefix_length(const NodeId& a, const NodeId& b) { return (a ^ b).leading_zeros(); }
/// The k-bucket of `other` in `self`'s routing table: 159 − common prefix length, i.e. ⌊log2 d⌋;
/// -1 when the ids are equal.
inline int bucket_index(const NodeId& self, const NodeId& other) {
  return kIdBits - 1 - common_prefix_length(self, other);
}
/// True when `a` is strictly closer to `target` than `b` under XOR.
inline bool closer_to(const NodeId& target, const NodeId& a, const NodeId& b) { return (a ^ target) < (b ^ target); }

/// FNV-1a, 64-bit (Fowler, Noll, Vo): the byte hash behind NodeId::from_name.
inline std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001B3ULL;
  }
  return h;
}

inline NodeId NodeId::random(sim::Rng& rng) {
  const std::uint64_t a = rng.next_u64(), b = rng.next_u64(), c = rng.next_u64();
  return NodeId(Words{static_cast<std::uint32_t>(a >> 32), static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b >> 32),
                      static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(c >> 32)});
}

inline NodeId NodeId::from_name(std::string_view name) {
  sim::Rng expand(fnv1a64(name));
  return random(expand);
}

inline NodeId NodeId::from_hex(std::string_view hex) {
  if (hex.empty() || hex.size() > 40) throw std::invalid_argument("NodeId: need 1 to 40 hex digits");
  Words w{};
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[hex.size() - 1 - i];  // i-th digit from the least significant
    std::uint32_t v = 0;
    if (c >= '0' && c <= '9') v = static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v = static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v = static_cast<std::uint32_t>(c - 'A' + 10);
    else throw std::invalid_argument("NodeId: not a hex digit in '" + std::string(hex) + "'");
    w[kWords - 1 - i / 8] |= v << (4 * (i % 8));
  }
  return NodeId(w);
}

inline std::string NodeId::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(40, '0');
  for (int i = 0; i < 40; ++i) s[static_cast<std::size_t>(i)] = kDigits[(words_[i / 8] >> (4 * (7 - i % 8))) & 0xF];
  return s;
}

inline NodeId NodeId::random_in_bucket(const NodeId& self, int bucket, sim::Rng& rng) {
  if (bucket < 0 || bucket >= kIdBits) throw std::invalid_argument("NodeId: bucket index outside 0..159");
  // Distance d with its highest set bit at position `bucket` (from the least significant) and
  // uniformly random bits below it.
  Words d = random(rng).words();
  const int top = kIdBits - 1 - bucket;  // that bit counted from the most significant
  for (int i = 0; i < kIdBits; ++i) {
    const std::uint32_t mask = 1U << (31 - i % 32);
    if (i < top) d[i / 32] &= ~mask;
    else if (i == top) d[i / 32] |= mask;
  }
  return self ^ NodeId(d);
}

/// Hash for unordered containers (the low words are already uniform for hashed ids).
struct NodeIdHash {
  std::size_t operator()(const NodeId& id) const {
    const auto& w = id.words();
    return static_cast<std::size_t>((static_cast<std::uint64_t>(w[3]) << 32 | w[4]) ^ (static_cast<std::uint64_t>(w[0]) * 0x9E3779B97F4A7C15ULL));
  }
};

}  // namespace swarmsim::dht
