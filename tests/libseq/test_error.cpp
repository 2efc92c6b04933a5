#include <gtest/gtest.h>

#include "libseq/core/error.h"
#include "libseq/core/log.h"

using namespace strand;

TEST(Error, InputErrorNamesFileLineAndRecord) {
  const ParseError e(Location{"reads.fq", 12, "read 'r7'"}, "quality length 9 differs from sequence length 10");
  EXPECT_STREQ(e.what(), "reads.fq:12: read 'r7': quality length 9 differs from sequence length 10");
  EXPECT_EQ(e.where().file, "reads.fq");
  EXPECT_EQ(e.where().line, 12);
  EXPECT_EQ(e.detail(), "quality length 9 differs from sequence length 10");
}

TEST(Error, LocationPartsAreOptional) {
  EXPECT_EQ(format_location(Location{"a.fa", -1, ""}, "m"), "a.fa: m");
  EXPECT_EQ(format_location(Location{"", 3, ""}, "m"), "line 3: m");
  EXPECT_EQ(format_location(Location{"", -1, "record 4"}, "m"), "record 4: m");
}

TEST(Error, CheckThrowsInputErrorWithConcatenatedMessage) {
  try {
    STRAND_CHECK(1 + 1 == 3, "expected ", 3, " found ", 2);
    FAIL() << "STRAND_CHECK did not throw";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "expected 3 found 2");
  }
  EXPECT_NO_THROW(STRAND_CHECK(true, "never"));
}

TEST(Error, AssertIsAnInternalErrorNotAnInputError) {
  try {
    STRAND_ASSERT(false, "state ", 7);
    FAIL() << "STRAND_ASSERT did not throw";
  } catch (const InputError&) {
    FAIL() << "a broken invariant must not look like bad input";
  } catch (const InternalError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bug in strand"), std::string::npos);
    EXPECT_NE(what.find("test_error.cpp"), std::string::npos);
    EXPECT_NE(what.find("state 7"), std::string::npos);
  }
}

TEST(Error, CheckAtThrowsTheChosenType) {
  EXPECT_THROW(STRAND_CHECK_AT(ConfigError, (Location{"c.json", -1, ""}), false, "bad"), ConfigError);
}

TEST(Log, ParsesLevelsAndRejectsUnknown) {
  EXPECT_EQ(log::parse_level("DEBUG"), log::Level::Debug);
  EXPECT_EQ(log::parse_level("warning"), log::Level::Warn);
  EXPECT_THROW(log::parse_level("verbose"), InputError);
  const auto old = log::level();
  log::set_level(log::Level::Error);
  EXPECT_FALSE(log::enabled(log::Level::Info));
  EXPECT_TRUE(log::enabled(log::Level::Error));
  log::set_level(old);
}
