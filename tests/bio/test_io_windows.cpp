// make_windows (bio/io/windows.h). Expected coordinates are worked out by hand from the
// definition in windows.h: starts 0, s, 2s, ... until a window reaches the end of the sequence.
#include <gtest/gtest.h>

#include <vector>

#include "bio/io/windows.h"
#include "libseq/core/error.h"

namespace io = strand::bio::io;
using W = std::vector<io::Window>;

namespace {

W windows(int64_t length, int64_t window, int64_t stride, bool keep_last = true) {
  io::WindowOptions o;
  o.window = window;
  o.stride = stride;
  o.keep_last = keep_last;
  return io::make_windows(length, o);
}

}  // namespace

TEST(Windows, AdjacentWithShortLastWindow) {
  // 10 bases, window 4, stride 0 (= window): [0,4) [4,8) and the 2-base rest [8,10).
  EXPECT_EQ(windows(10, 4, 0), (W{{0, 4}, {4, 8}, {8, 10}}));
  EXPECT_EQ(windows(10, 4, 4), (W{{0, 4}, {4, 8}, {8, 10}}));
  EXPECT_EQ(windows(10, 4, 0, false), (W{{0, 4}, {4, 8}}));
}

TEST(Windows, ExactMultipleHasNoShortWindow) {
  EXPECT_EQ(windows(12, 4, 0), (W{{0, 4}, {4, 8}, {8, 12}}));
  EXPECT_EQ(windows(12, 4, 0, false), (W{{0, 4}, {4, 8}, {8, 12}}));
  EXPECT_EQ(windows(4, 4, 0), (W{{0, 4}}));
}

TEST(Windows, SequenceShorterThanWindow) {
  EXPECT_EQ(windows(3, 4, 0), (W{{0, 3}}));
  EXPECT_EQ(windows(3, 4, 0, false), W{});
  EXPECT_EQ(windows(1, 1000, 500), (W{{0, 1}}));
  EXPECT_EQ(windows(0, 4, 0), W{});
}

TEST(Windows, OverlappingStride) {
  // Stride 2: the window starting at 6 reaches the end, so no window starts at 8.
  EXPECT_EQ(windows(10, 4, 2), (W{{0, 4}, {2, 6}, {4, 8}, {6, 10}}));
  // Stride 3 on 10 bases ends exactly; on 11 bases base 10 needs a short window [9,11).
  EXPECT_EQ(windows(10, 4, 3), (W{{0, 4}, {3, 7}, {6, 10}}));
  EXPECT_EQ(windows(11, 4, 3), (W{{0, 4}, {3, 7}, {6, 10}, {9, 11}}));
  EXPECT_EQ(windows(11, 4, 3, false), (W{{0, 4}, {3, 7}, {6, 10}}));
  EXPECT_EQ(windows(5, 4, 1), (W{{0, 4}, {1, 5}}));
}

TEST(Windows, StrideLongerThanWindowLeavesGaps) {
  EXPECT_EQ(windows(11, 2, 5), (W{{0, 2}, {5, 7}, {10, 11}}));
  EXPECT_EQ(windows(11, 2, 5, false), (W{{0, 2}, {5, 7}}));
  EXPECT_EQ(windows(12, 2, 5), (W{{0, 2}, {5, 7}, {10, 12}}));
}

TEST(Windows, LongSequenceCoordinates) {
  // CHROMOSOME_I of ce.fa (1,009,800 bp) in 100 kb windows with 50 kb stride: starts 0..900000
  // (19 windows); the one at 900000 ends at 1,000,000 < 1,009,800, so [950000, 1009800) closes.
  const W w = windows(1009800, 100000, 50000);
  ASSERT_EQ(w.size(), 20u);
  EXPECT_EQ(w.front(), (io::Window{0, 100000}));
  EXPECT_EQ(w[18], (io::Window{900000, 1000000}));
  EXPECT_EQ(w.back(), (io::Window{950000, 1009800}));
}

TEST(Windows, InvalidOptions) {
  EXPECT_THROW(windows(10, 0, 0), strand::InputError);
  EXPECT_THROW(windows(10, -4, 0), strand::InputError);
  EXPECT_THROW(windows(10, 4, -1), strand::InputError);
}
