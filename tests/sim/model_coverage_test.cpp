// Known answers for the time a run's swarm could not serve the whole model
// (sim/swarm/model_coverage.hpp), as metrics.json's resilience.model_unserved_s counts it.
#include <gtest/gtest.h>

#include <vector>

#include "sim/swarm/model_coverage.hpp"

using namespace swarmsim::sim;

TEST(ModelCoverage, CountsTheTimeSomeBlockHadNoServingServer) {
  // 4 blocks; a serves 0-1 and b 2-3 from 1 s; a is down from 5 s to 8 s; b moves at 9 s and
  // serves again at 10 s; counted from 0 s.
  ModelCoverage c({0, 4}, 2, 0.0);
  EXPECT_DOUBLE_EQ(c.unserved_s(0.5), 0.5);  // nothing loaded yet
  c.serve(1.0, 0, {0, 2});
  EXPECT_DOUBLE_EQ(c.unserved_s(3.0), 3.0);  // blocks 2-3 still without a server
  c.serve(1.0, 1, {2, 4});
  EXPECT_DOUBLE_EQ(c.unserved_s(3.0), 1.0);
  c.stop(5.0, 0);
  c.stop(6.0, 0);  // already down: nothing more
  c.serve(8.0, 0, {0, 2});
  c.stop(9.0, 1);
  c.serve(10.0, 1, {2, 4});
  EXPECT_DOUBLE_EQ(c.unserved_s(20.0), 1.0 + 3.0 + 1.0);
  // A server that serves again replaces its range: b moves to 0-1, and 2-3 has no server.
  c.serve(12.0, 1, {0, 2});
  EXPECT_DOUBLE_EQ(c.unserved_s(20.0), 5.0 + 8.0);
}

// Under split learning the client runs the first blocks itself: only the swarm's are counted.
TEST(ModelCoverage, CountsOnlyTheBlocksTheSwarmServes) {
  ModelCoverage c({2, 4}, 1, 0.0);
  c.serve(1.0, 0, {2, 4});
  EXPECT_DOUBLE_EQ(c.unserved_s(10.0), 1.0);
  c.serve(5.0, 0, {1, 3});  // block 3 unserved from 5 s; block 1 is the client's
  EXPECT_DOUBLE_EQ(c.unserved_s(10.0), 1.0 + 5.0);
}

TEST(ModelCoverage, CountsFromTheFirstSessionOnAndOverlappingServersCoverEachOther) {
  ModelCoverage c({0, 2}, 3, 10.0);
  c.serve(2.0, 0, {0, 2});
  c.serve(4.0, 1, {0, 1});
  c.stop(6.0, 0);  // block 1 unserved from 6 s, but counting starts at 10 s
  EXPECT_DOUBLE_EQ(c.unserved_s(12.0), 2.0);
  c.serve(13.0, 2, {1, 2});
  c.stop(14.0, 1);  // block 0 unserved from 14 s
  EXPECT_DOUBLE_EQ(c.unserved_s(15.0), 3.0 + 1.0);
  c.serve(16.0, 0, {0, 2});
  c.stop(17.0, 2);  // server 0 covers block 1 too
  EXPECT_DOUBLE_EQ(c.unserved_s(30.0), 3.0 + 2.0);
}

TEST(ModelCoverage, GroupsTheUnservedBlocksIntoRangesOfEqualTime) {
  // Per block: 0, 0, 5, 5, 3, 0, 3 seconds without a server.
  const std::vector<UnservedRange> r = unserved_ranges({0.0, 0.0, 5.0, 5.0, 3.0, 0.0, 3.0});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].blocks, (BlockRange{2, 4}));
  EXPECT_DOUBLE_EQ(r[0].unserved_s, 5.0);
  EXPECT_EQ(r[1].blocks, (BlockRange{4, 5}));
  EXPECT_EQ(r[2].blocks, (BlockRange{6, 7}));
  EXPECT_DOUBLE_EQ(r[2].unserved_s, 3.0);
  EXPECT_EQ(longest_unserved(r), &r[0]);
  EXPECT_TRUE(unserved_ranges({0.0, 0.0}).empty());
  EXPECT_EQ(longest_unserved({}), nullptr);
  // Equal times: the first range is the longest.
  const std::vector<UnservedRange> tie = unserved_ranges({2.0, 0.0, 2.0});
  ASSERT_EQ(tie.size(), 2u);
  EXPECT_EQ(longest_unserved(tie), &tie[0]);
}

TEST(ModelCoverage, SaysWhichBlocksWentUnservedAndForHowLong) {
  // Split learning: the client runs block 0, the swarm blocks 1-3. Server 0 serves 1-2 from 1 s,
  // server 1 block 3 from 4 s; server 0 is down from 6 s to 7 s.
  ModelCoverage c({1, 4}, 2, 0.0);
  c.serve(1.0, 0, {1, 3});
  c.serve(4.0, 1, {3, 4});
  c.stop(6.0, 0);
  c.serve(7.0, 0, {1, 3});
  const std::vector<UnservedRange> r = c.unserved_ranges(10.0);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].blocks, (BlockRange{1, 3}));  // block 0 is the client's: never unserved
  EXPECT_DOUBLE_EQ(r[0].unserved_s, 1.0 + 1.0);
  EXPECT_EQ(r[1].blocks, (BlockRange{3, 4}));
  EXPECT_DOUBLE_EQ(r[1].unserved_s, 4.0);
  EXPECT_DOUBLE_EQ(c.unserved_s(10.0), 4.0 + 1.0);  // the union of both
}
