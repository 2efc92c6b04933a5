#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "libseq/core/progress.h"

using strand::Progress;

TEST(Progress, LineShowsCountPercentRateAndEta) {
  const auto line = Progress::format_line("tokenize", 1'500'000, 6'000'000, "bp", 1.0);
  EXPECT_EQ(line, "tokenize: 1.5M/6.0M bp (25.0%) 1.5M bp/s ETA 0:00:03");
}

TEST(Progress, UnknownTotalShowsElapsed) {
  const auto line = Progress::format_line("read", 999, 0, "records", 2.0);
  EXPECT_EQ(line, "read: 999 records 500 records/s elapsed 0:00:02");
}

TEST(Progress, CountsFromManyThreadsAndQuietPrintsNothing) {
  Progress::set_quiet(true);
  testing::internal::CaptureStderr();
  {
    Progress p("work", 400, "items");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 100; ++i) p.add(1);
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(p.done(), 400);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  Progress::set_quiet(false);
}

TEST(Progress, NonTerminalOutputEndsWithSummaryLine) {
  Progress::set_quiet(false);
  testing::internal::CaptureStderr();
  {
    Progress p("scan", 10, "bp");
    p.add(10);
  }
  const auto out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("scan: 10/10 bp (100.0%)"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
}
