// The strand binary as users run it: exit codes, --help, error messages.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace {

struct Result {
  int status;
  std::string output;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string cmd = std::string(STRAND_BIN) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int rc = pclose(pipe);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

const std::string kFasta = std::string(STRAND_TEST_DATA) + "/pipelines/ce_3x600.fa";

}  // namespace

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd : {"info", "tokenize"}) {
    const auto r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find(std::string("Usage: strand ") + cmd), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
  }
  const auto top = run("--help");
  EXPECT_EQ(top.status, 0);
  EXPECT_NE(top.output.find("tokenize"), std::string::npos);
}

TEST(Cli, UnknownCommandAndOptionFail) {
  EXPECT_EQ(run("frobnicate").status, 2);
  const auto r = run("tokenize --no-such-option");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no-such-option"), std::string::npos) << r.output;
}

TEST(Cli, InfoJsonReportsLibrariesAndThreads) {
  const auto r = run("info --json --no-bench --threads 2");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_FALSE(j["libtorch"].get<std::string>().empty());
  EXPECT_FALSE(j["blas"]["vendor"].get<std::string>().empty());
  EXPECT_FALSE(j["htslib"].get<std::string>().empty());
}

TEST(Cli, TokenizeWritesJsonlToStdout) {
  const auto r = run("tokenize -q -i " + kFasta + " -k ntv2-6mer --window 60");
  ASSERT_EQ(r.status, 0) << r.output;
  size_t lines = 0;
  for (char c : r.output) lines += c == '\n';
  EXPECT_EQ(lines, 30u);  // 3 records x 600 bp / 60
  EXPECT_NE(r.output.find("\"name\":\"CHROMOSOME_I\""), std::string::npos);
}

TEST(Cli, MissingInputNamesTheFile) {
  const auto r = run("tokenize -q -i /nonexistent/reads.fq");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("/nonexistent/reads.fq"), std::string::npos) << r.output;
}
