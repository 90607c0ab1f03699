#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "sim/integrity/checksum.hpp"
#include "sim/rng.hpp"

using namespace swarmsim::sim;

namespace {
std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> b(s.size());
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());  // memcpy from an empty vector's null data() is UB
  return b;
}
}  // namespace

TEST(Checksum, Fnv1aKnownAnswers) {
  // Reference values of FNV-1a 64 (Noll's test vectors).
  EXPECT_EQ(fnv1a64(bytes_of("")), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64(bytes_of("a")), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64(bytes_of("foobar")), 0x85944171f73967e8ULL);
}

TEST(Checksum, EverySingleBitFlipOfAHiddenStateIsDetected) {
  Rng rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::byte> payload(64 + rng.below(4096));
    for (auto& b : payload) b = static_cast<std::byte>(rng.below(256));
    CheckedMessage m = CheckedMessage::seal(payload);
    ASSERT_TRUE(m.intact());
    const std::size_t at = rng.below(payload.size());
    m.payload[at] ^= static_cast<std::byte>(1u << rng.below(8));  // what the wire did
    EXPECT_FALSE(m.intact()) << "trial " << trial;
    m.payload = payload;  // the retransmission arrives intact
    EXPECT_TRUE(m.intact());
  }
}
