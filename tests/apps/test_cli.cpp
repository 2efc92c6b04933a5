// The strand binary as users run it: exit codes, --help, error messages.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "kernels/common/device.h"
#include "libseq/core/config.h"
#include "libseq/core/system_info.h"
#include "libseq/io/safetensors.h"

namespace {

struct Result {
  int status;
  std::string output;  // stdout and stderr together
};

/// Runs the strand binary with `args`, with `env` (VAR=value ...) added to its environment.
Result run(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(STRAND_BIN) + " " + args + " 2>&1";
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
  for (const char* cmd : {"info", "tokenize", "pretrain", "embed", "embed merge", "convert", "tasks build", "tasks list", "finetune", "predict",
                          "denovo simulate", "denovo train", "denovo sequence", "denovo evaluate"}) {
    const auto r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find(std::string("Usage: strand ") + cmd), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
    if (std::string(cmd) == "pretrain") {  // every preset, with its parameter count
      for (const char* preset :
           {"tiny", "mamba-0.5m", "mamba-2m", "mamba-8m", "mamba2-2m", "caduceus-2m", "caduceus-8m"})
        EXPECT_NE(r.output.find(std::string(preset) + ": "), std::string::npos) << preset;
      EXPECT_NE(r.output.find("(0.47M parameters)"), std::string::npos) << r.output;
    }
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

TEST(Cli, RunsWithTheCpusBlasKernels) {
  // Where OpenBLAS picks kernels older than the CPU, strand re-runs itself with OPENBLAS_CORETYPE
  // set, so the process that answers reports no hint left; with STRAND_KEEP_BLAS_CORE it keeps
  // OpenBLAS's choice and the hint is the one openblas_coretype_hint gives for that choice (both
  // empty when LibTorch's BLAS is not OpenBLAS).
  const auto r = run("info --json --no-bench");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output)["blas"];
  EXPECT_EQ(j["coretype_hint"], "") << j.dump();
  const auto kept = run("info --json --no-bench", "STRAND_KEEP_BLAS_CORE=1");
  ASSERT_EQ(kept.status, 0) << kept.output;
  const auto k = nlohmann::json::parse(kept.output)["blas"];
  EXPECT_EQ(k["coretype_hint"], strand::openblas_coretype_hint(k["core"], strand::kernels::cpu_isa())) << k.dump();
  if (!k["coretype_hint"].get<std::string>().empty()) {
    EXPECT_EQ(j["core"], k["coretype_hint"]) << j.dump();
  }
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

TEST(Cli, ConvertChecksAndImportsModelDirectories) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("strand-cli-convert-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto at_dir = [&](const char* name) { return (dir / name).string(); };
  const auto p = run("pretrain -q --data " + kFasta + " --arch mamba-0.5m --steps 1 --batch 2 --seq-len 32 " +
                     "--val-every 1 --val-windows 2 --val-fraction 0.2 --threads 2 --out " + at_dir("model"));
  ASSERT_EQ(p.status, 0) << p.output;

  // Our own directory: reported, checked, copied with provenance.
  const auto own = run("convert " + at_dir("model") + " --out " + at_dir("copy"));
  ASSERT_EQ(own.status, 0) << own.output;
  EXPECT_NE(own.output.find("strand model directory"), std::string::npos) << own.output;
  EXPECT_NE(own.output.find("4 blocks (4 x M (mamba)), d_model 128"), std::string::npos) << own.output;
  EXPECT_NE(own.output.find("head: clm, tied"), std::string::npos) << own.output;
  EXPECT_NE(own.output.find("reproduced exactly"), std::string::npos) << own.output;
  const auto copy_config = strand::load_json(at_dir("copy/config.json"));
  EXPECT_EQ(copy_config["provenance"]["source_format"], "strand");
  EXPECT_EQ(copy_config["provenance"]["converted_from"], fs::absolute(dir / "model").lexically_normal().string());
  EXPECT_TRUE(fs::exists(dir / "copy" / "tokenizer.json"));
  EXPECT_FALSE(fs::exists(dir / "copy.partial"));

  // The same weights as a Hugging Face MambaForCausalLM directory (its key names and config).
  fs::create_directories(dir / "hf");
  std::map<std::string, at::Tensor> hf;
  static const std::regex block(R"(backbone\.blocks\.(\d+)\.(norm1|mixer)\.(.+))");
  for (const auto& [name, t] : strand::io::load_safetensors(at_dir("model/model.safetensors"))) {
    std::smatch m;
    if (name == "embed.weight") hf["backbone.embeddings.weight"] = t;
    else if (std::regex_match(name, m, block))
      hf["backbone.layers." + m[1].str() + (m[2].str() == "norm1" ? ".norm." : ".mixer.") + m[3].str()] = t;
    else hf[name] = t;
  }
  strand::io::save_safetensors(at_dir("hf/model.safetensors"), hf);
  strand::save_json(at_dir("hf/config.json"),
                    {{"architectures", {"MambaForCausalLM"}}, {"model_type", "mamba"}, {"hidden_size", 128},
                     {"intermediate_size", 256}, {"state_size", 16}, {"num_hidden_layers", 4}, {"conv_kernel", 4},
                     {"expand", 2}, {"time_step_rank", 8}, {"layer_norm_epsilon", 1e-5}, {"use_bias", false},
                     {"use_conv_bias", true}, {"vocab_size", 10}, {"pad_token_id", 0}, {"hidden_act", "silu"},
                     {"tie_word_embeddings", true}});
  const auto bare = run("convert " + at_dir("hf") + " --out " + at_dir("bare"));
  ASSERT_EQ(bare.status, 0) << bare.output;
  EXPECT_NE(bare.output.find("Hugging Face Mamba (model_type \"mamba\")"), std::string::npos) << bare.output;
  EXPECT_NE(bare.output.find("tokenizer: none written"), std::string::npos) << bare.output;
  EXPECT_FALSE(fs::exists(dir / "bare" / "tokenizer.json"));
  const auto no_tok = run("embed -q -m " + at_dir("bare") + " -i " + kFasta + " -o " + at_dir("e.h5"));
  EXPECT_EQ(no_tok.status, 1);
  EXPECT_NE(no_tok.output.find("--tokenizer SPEC"), std::string::npos) << no_tok.output;

  const auto with_tok = run("convert " + at_dir("hf") + " --out " + at_dir("imported") + " --tokenizer char");
  ASSERT_EQ(with_tok.status, 0) << with_tok.output;
  const auto a = strand::io::load_safetensors(at_dir("model/model.safetensors"));
  const auto b = strand::io::load_safetensors(at_dir("imported/model.safetensors"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(at::equal(t, b.at(name))) << name;
  const auto e = run("embed -q -m " + at_dir("imported") + " -i " + kFasta + " --window 300 -o " + at_dir("e.h5"));
  EXPECT_EQ(e.status, 0) << e.output;

  // Errors: a tokenizer that does not fit, an existing output, a missing or unsupported source.
  const auto wrong_tok = run("convert " + at_dir("hf") + " --out " + at_dir("x") + " --tokenizer ntv2-6mer");
  EXPECT_EQ(wrong_tok.status, 1);
  EXPECT_NE(wrong_tok.output.find("vocab_size is 10"), std::string::npos) << wrong_tok.output;
  EXPECT_EQ(run("convert " + at_dir("hf") + " --out " + at_dir("imported")).status, 1);
  const auto missing = run("convert " + at_dir("nothing") + " --out " + at_dir("x"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("nothing: no such model directory"), std::string::npos) << missing.output;
  strand::save_json(at_dir("hf/config.json"), {{"model_type", "bert"}, {"hidden_size", 128}});
  const auto bert = run("convert " + at_dir("hf") + " --out " + at_dir("x"));
  EXPECT_EQ(bert.status, 1);
  EXPECT_NE(bert.output.find("model_type 'bert' cannot be imported"), std::string::npos) << bert.output;
  EXPECT_FALSE(fs::exists(dir / "x"));
  fs::remove_all(dir);
}

namespace {

/// A plain task directory (train/valid/test.tsv) whose label is the base composition.
void write_composition_task(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  auto write = [&](const char* name, int n) {
    std::ofstream out(dir / name);
    out << "id\tsequence\tlabel\n";
    for (int i = 0; i < n; ++i) {
      const double gc = i % 2 == 0 ? 0.3 : 0.7;
      std::string seq;
      for (int j = 0; j < 40; ++j) {
        const bool strong = next() < gc;
        seq += strong ? (next() < 0.5 ? 'G' : 'C') : (next() < 0.5 ? 'A' : 'T');
      }
      out << name[0] << i << '\t' << seq << '\t' << (i % 2 == 0 ? "at" : "gc") << '\n';
    }
  };
  write("train.tsv", 45);
  write("valid.tsv", 10);
  write("test.tsv", 10);
}

}  // namespace

TEST(Cli, FinetuneOnTwoRanksMatchesOneProcess) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("strand-cli-ddp-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  write_composition_task(dir / "task");
  // 45 rows, batch 8: the last batch of each epoch has 5 rows (3 + 2 across the ranks).
  const std::string common = " finetune --arch tiny --task " + (dir / "task").string() +
                             " --epochs 2 --batch 8 --patience 0 --threads 1 -q --out ";
  const auto one = run(common + (dir / "one").string());
  ASSERT_EQ(one.status, 0) << one.output;

  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  std::string script;
  for (int rank = 0; rank < 2; ++rank) {
    script += "(RANK=" + std::to_string(rank) + " WORLD_SIZE=2 LOCAL_RANK=" + std::to_string(rank) +
              " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " + STRAND_BIN + common +
              (dir / "two").string() + " --dist-timeout 60 > " + (dir / ("rank" + std::to_string(rank) + ".log")).string() +
              " 2>&1; echo $? > " + (dir / ("rank" + std::to_string(rank) + ".rc")).string() + ") & ";
  }
  script += "wait";
  ASSERT_EQ(std::system(("sh -c '" + script + "'").c_str()), 0);
  for (int rank = 0; rank < 2; ++rank) {
    std::ifstream rc(dir / ("rank" + std::to_string(rank) + ".rc"));
    int code = -1;
    rc >> code;
    std::ifstream log(dir / ("rank" + std::to_string(rank) + ".log"));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    ASSERT_EQ(code, 0) << "rank " << rank << ":\n" << text;
  }
  const auto a = strand::io::load_safetensors((dir / "one/model/model.safetensors").string());
  const auto b = strand::io::load_safetensors((dir / "two/model/model.safetensors").string());
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(t.allclose(b.at(name), 1e-4, 1e-5)) << name << ": max difference "
                                                    << (t - b.at(name)).abs().max().item<double>();
  }
  const auto m1 = nlohmann::json::parse(std::ifstream(dir / "one/metrics.json"));
  const auto m2 = nlohmann::json::parse(std::ifstream(dir / "two/metrics.json"));
  EXPECT_EQ(m1.at("steps"), m2.at("steps"));
  EXPECT_NEAR(m1.at("test").at("accuracy").get<double>(), m2.at("test").at("accuracy").get<double>(), 1e-9);
  fs::remove_all(dir);
}

// De novo sequencing from the command line: simulate spectra of a protein's tryptic peptides,
// train a tiny model, sequence the held-out spectra to mzTab and evaluate it.
TEST(Cli, DenovoSimulateTrainSequenceEvaluate) {
  const std::string dir = std::filesystem::temp_directory_path() / ("strand-cli-denovo-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream fa(dir + "/p.fa");
    fa << ">BSA fragment\nDTHKSEIAHRFKDLGEEHFKGLVLIAFSQYLQQCPFDEHVKLVNELTEFAKTCVADESHAGCEKSLHTLFGDELCKVASLRETYGDMADCCEKQEPERNECFLSHKDDSPDLPKLKPDPNTLCDEFKADEKKFWGKYLYEIARRHPYFYAPELLYYANKYNGVFQECCQAEDKGACLLPKIETMREKVLASSARQRLRCASIQKFGERALKAWSVARLSQKFPKAEFVEVTKLVTDLTKVHKECCHGDLLECADDRADLAKYICDNQDTISSKLKECCDKPLLEKSHCIAEVEKDAIPENLPPLTADFAEDKDVCKNYQEAKDAFLGSFLYEYSRRHPEYAVSVLLRLAKEYEATLEECCAKDDPHACYSTVFDKLKHLVDEPQNLIKQNCDQFEKLGEYGFQNALIVRYTRKVPQVSTPTLVEVSRSLGKVGTRCCTKPESERMPCTEDYLSLILNRLCVLHEKTPVSEKVTKCCTESLVNRRPCFSALTPDETYVPKAFDEKLFTFHADICTLPDTEKQIKKQTALVELLKHKPKATEEQLKTVMENFVAFVDKCCAADDKEACFAVEGPKLVVSTQTALA\n";
  }
  const auto sim = run("denovo simulate --fasta " + dir + "/p.fa --out " + dir + "/sim --train-spectra 64 --test-spectra 16 -q");
  ASSERT_EQ(sim.status, 0) << sim.output;
  const auto train = run("denovo train --train " + dir + "/sim.train.mgf --steps 6 --batch 8 --out " + dir +
                         "/run --threads 1 -q");
  ASSERT_EQ(train.status, 0) << train.output;
  EXPECT_NE(train.output.find("on 64 spectra"), std::string::npos) << train.output;
  const auto seq = run("denovo sequence -m " + dir + "/run/model -o " + dir + "/pred.mztab " + dir +
                       "/sim.test.mgf --beams 2 --no-mass-constraint --threads 1 -q");
  ASSERT_EQ(seq.status, 0) << seq.output;
  EXPECT_NE(seq.output.find("of 16 MS2 spectra"), std::string::npos) << seq.output;
  const auto eval = run("denovo evaluate -p " + dir + "/pred.mztab -s " + dir + "/sim.test.mgf -o " + dir + "/eval -q");
  ASSERT_EQ(eval.status, 0) << eval.output;
  EXPECT_NE(eval.output.find("annotated 16"), std::string::npos) << eval.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/eval.curve.svg"));
  const auto bad = run("denovo sequence -m " + dir + "/run -o " + dir + "/x.mztab " + dir + "/sim.test.mgf");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("config.json"), std::string::npos) << bad.output;
  std::filesystem::remove_all(dir);
}
