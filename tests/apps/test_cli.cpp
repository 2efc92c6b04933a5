// The strand binary as users run it: exit codes, --help, error messages.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

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
  for (const char* cmd : {"info", "tokenize", "pretrain", "embed"}) {
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

TEST(Cli, PretrainThenEmbedEndToEnd) {
  const auto dir = std::filesystem::temp_directory_path() / ("strand-cli-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string model = (dir / "model").string();
  const auto r = run("pretrain -q --data " + kFasta + " --arch tiny --steps 2 --batch 2 --seq-len 64 --val-every 2 " +
                     "--val-windows 2 --val-fraction 0.2 --threads 2 --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("bits per base"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "model" / "config.json"));
  const std::string h5 = (dir / "e.h5").string();
  const auto e = run("embed -q -m " + model + " -i " + kFasta + " --window 200 -o " + h5);
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("embedded 9 rows"), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("tokens/s"), std::string::npos) << e.output;
  EXPECT_TRUE(std::filesystem::exists(h5));
  // Missing required options and bad values are clear errors.
  const auto missing = run("embed -i " + kFasta + " -o " + h5);
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("model"), std::string::npos) << missing.output;
  const auto shard = run("embed -m " + model + " -i " + kFasta + " -o " + h5 + " --shard 3/2");
  EXPECT_EQ(shard.status, 1);
  EXPECT_NE(shard.output.find("--shard 3/2"), std::string::npos) << shard.output;
  std::filesystem::remove_all(dir);
}
