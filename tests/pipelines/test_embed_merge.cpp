// `strand embed merge` as a library job: a tiny model trained on C. elegans contigs embeds a small
// FASTA once unsharded and once as 3 shards; the merged shards must equal the unsharded file
// dataset by dataset, bit for bit, and attribute by attribute except the merge's own provenance.
// Then every way a shard set can be wrong. Files are read back with the HDF5 C++ API, independent
// of the C API code under test.
#include <ATen/ATen.h>
#include <H5Cpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "libseq/core/error.h"
#include "pipelines/embed.h"
#include "pipelines/embed_merge.h"
#include "pipelines/embed_writer.h"
#include "pipelines/pretrain.h"
#include "tests/message_of.h"

using namespace strand;
using namespace strand::pipelines;
namespace fs = std::filesystem;

namespace {

const std::string kGenome = std::string(STRAND_TEST_DATA) + "/io/ce_small.fa";
const std::string kSmall = std::string(STRAND_TEST_DATA) + "/pipelines/ce_3x600.fa";

// A directory with a tiny trained model and a 7-record FASTA, shared by the tests below.
class EmbedMerge : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("strand-embed-merge-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    PretrainOptions p;
    p.data = {kGenome};
    p.out = (dir_ / "model").string();
    p.tokenizer = "char";
    p.arch = "tiny";
    p.steps = 3;
    p.batch = 4;
    p.seq_len = 64;
    p.val_every = 3;
    p.val_windows = 8;
    p.checkpoint_every = 3;
    p.log_every = 1;
    p.val_fraction = 0.1;
    p.command_line = "strand pretrain (test)";
    run_pretrain(p);
    // 7 records cut from the 3 x 600 bases of ce_3x600.fa, of lengths that give 1 to 4 windows of
    // 100 (the last one shorter), so shards hold different row counts and records of several
    // rows. Two records share a name: the merge must go by record index, not by name.
    std::ifstream in(kSmall);
    std::string line, bases;
    while (std::getline(in, line))
      if (!line.empty() && line[0] != '>') bases += line;
    const std::vector<std::pair<std::string, size_t>> records = {
        {"r0", 250}, {"dup", 120}, {"r2", 60}, {"r3", 310}, {"dup", 90}, {"r5", 200}, {"r6", 150}};
    std::ofstream fa(dir_ / "seqs.fa");
    size_t at = 0;
    for (const auto& [name, length] : records) {
      fa << ">" << name << "\n" << bases.substr(at, length) << "\n";
      at += length;
    }
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  // Settings shared by the unsharded run and the shards. batch_size 1: each row's forward pass has
  // the same shape in every run (no padding to another row's length), so the values are bitwise
  // reproducible and the comparison can be exact.
  static EmbedOptions embed_options(const std::string& out) {
    EmbedOptions o;
    o.model = path("model");
    o.inputs = {path("seqs.fa")};
    o.output = out;
    o.window = 100;
    o.stride = 100;
    o.batch_size = 1;
    o.store_tokens = true;
    o.command_line = "strand embed (test) -o " + out;
    return o;
  }

  // Writes shards i/n of `base` as prefix_i.h5; returns their paths.
  static std::vector<std::string> write_shards(const EmbedOptions& base, const std::string& prefix, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      EmbedOptions o = base;
      o.output = path(prefix + "_" + std::to_string(i) + ".h5");
      o.command_line = "strand embed (test) --shard " + std::to_string(i) + "/" + std::to_string(n);
      o.shard = i;
      o.num_shards = n;
      run_embed(o);
      out.push_back(o.output);
    }
    return out;
  }

  static EmbedMergeSummary merge(const std::vector<std::string>& shards, const std::string& out,
                                 int64_t buffer_bytes = int64_t{256} << 20) {
    EmbedMergeOptions m;
    m.shards = shards;
    m.output = out;
    m.buffer_bytes = buffer_bytes;
    m.command_line = "strand embed merge (test) --out " + out;
    return run_embed_merge(m);
  }

  static fs::path dir_;
};

fs::path EmbedMerge::dir_;

// A dataset's raw bytes in its own file type (no conversion), with its shape, type and chunking.
struct RawDataset {
  std::vector<hsize_t> dims;
  std::vector<uint8_t> bytes;  // fixed-size types
  std::vector<std::string> strings;  // variable-length strings
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t type_size = 0;
  std::vector<hsize_t> chunk;
  std::vector<H5Z_filter_t> filters;
};

RawDataset read_raw(const H5::H5File& f, const std::string& name) {
  RawDataset r;
  H5::DataSet ds = f.openDataSet(name);
  H5::DataSpace space = ds.getSpace();
  r.dims.resize(static_cast<size_t>(space.getSimpleExtentNdims()));
  space.getSimpleExtentDims(r.dims.data());
  hsize_t n = 1;
  for (const hsize_t d : r.dims) n *= d;
  H5::DataType type = ds.getDataType();
  r.type_class = type.getClass();
  r.type_size = type.getSize();
  H5::DSetCreatPropList plist = ds.getCreatePlist();
  r.chunk.resize(r.dims.size());
  plist.getChunk(static_cast<int>(r.dims.size()), r.chunk.data());
  for (int i = 0; i < plist.getNfilters(); ++i) {
    unsigned flags = 0, values[8] = {};
    size_t nelmts = 8;
    char filter_name[64];
    unsigned config = 0;
    r.filters.push_back(plist.getFilter(i, flags, nelmts, values, sizeof filter_name, filter_name, config));
  }
  if (r.type_class == H5T_STRING) {
    H5::StrType st(H5::PredType::C_S1, H5T_VARIABLE);
    st.setCset(H5T_CSET_UTF8);
    std::vector<char*> raw(n, nullptr);
    if (n > 0) ds.read(raw.data(), st);
    for (char* s : raw) r.strings.emplace_back(s != nullptr ? s : "");
    if (n > 0) H5::DataSet::vlenReclaim(raw.data(), st, space);
  } else {
    r.bytes.resize(n * r.type_size);
    if (n > 0) ds.read(r.bytes.data(), type);  // memory type = file type: the stored bits
  }
  return r;
}

std::vector<std::string> dataset_names(const H5::H5File& f) {
  std::vector<std::string> names;
  for (hsize_t i = 0; i < f.getNumObjs(); ++i) names.push_back(f.getObjnameByIdx(i));
  return names;
}

// Root attributes: strings as text, integers (scalar or array) as their values joined by ','.
std::map<std::string, std::string> attributes(const H5::H5File& f) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < f.getNumAttrs(); ++i) {
    H5::Attribute a = f.openAttribute(static_cast<unsigned>(i));
    if (a.getTypeClass() == H5T_STRING) {
      std::string value;
      a.read(a.getStrType(), value);
      out[a.getName()] = value;
    } else {
      std::vector<int64_t> values(static_cast<size_t>(a.getSpace().getSimpleExtentNpoints()));
      a.read(H5::PredType::NATIVE_INT64, values.data());
      std::string text;
      for (const int64_t v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
      out[a.getName()] = text;
    }
  }
  return out;
}

std::vector<int64_t> read_ints(const H5::H5File& f, const char* name) {
  const RawDataset r = read_raw(f, name);
  std::vector<int64_t> v(r.bytes.size() / 8);
  std::memcpy(v.data(), r.bytes.data(), r.bytes.size());
  return v;
}

// The merged file must be the unsharded file: the same datasets with the same shape, type,
// chunking, filters and bits, and the same attributes except the merge's provenance.
void expect_same_as_unsharded(const std::string& unsharded, const std::string& merged) {
  H5::H5File a(unsharded, H5F_ACC_RDONLY), b(merged, H5F_ACC_RDONLY);
  const auto names = dataset_names(a);
  ASSERT_EQ(names, dataset_names(b));
  for (const auto& name : names) {
    SCOPED_TRACE("dataset " + name);
    const RawDataset x = read_raw(a, name), y = read_raw(b, name);
    EXPECT_EQ(x.dims, y.dims);
    EXPECT_EQ(x.type_class, y.type_class);
    EXPECT_EQ(x.type_size, y.type_size);
    EXPECT_EQ(x.chunk, y.chunk);
    EXPECT_EQ(x.filters, y.filters);
    EXPECT_TRUE(x.bytes == y.bytes) << "the stored bits differ";
    EXPECT_EQ(x.strings, y.strings);
  }
  auto attrs_a = attributes(a), attrs_b = attributes(b);
  EXPECT_EQ(attrs_b.at("shard"), "0/1");
  EXPECT_EQ(attrs_a.at("shard"), "0/1");
  EXPECT_NE(attrs_b.at("command_line").find("strand embed merge"), std::string::npos);
  EXPECT_FALSE(attrs_b.at("merged_from").empty());
  for (auto* m : {&attrs_a, &attrs_b}) {
    m->erase("command_line");
    m->erase("merged_from");
  }
  EXPECT_EQ(attrs_a, attrs_b);
}

using strand_tests::message_of;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_F(EmbedMerge, ThreeShardsMergeToTheUnshardedFile) {
  const auto s = run_embed(embed_options(path("all.h5")));
  EXPECT_EQ(s.records, 7);
  EXPECT_EQ(s.rows, 3 + 2 + 1 + 4 + 1 + 2 + 2);
  const auto shards = write_shards(embed_options(""), "s", 3);
  {
    // Shard 1 of 3 holds records 1 and 4 (both named "dup"): 2 + 1 rows.
    H5::H5File f(shards[1], H5F_ACC_RDONLY);
    EXPECT_EQ(read_ints(f, "record_index"), (std::vector<int64_t>{1, 1, 4}));
    EXPECT_EQ(attributes(f).at("shard"), "1/3");
    EXPECT_EQ(attributes(f).at("records"), "7");
  }
  // Shards given out of order.
  const auto m = merge({shards[2], shards[0], shards[1]}, path("merged.h5"));
  EXPECT_EQ(m.num_shards, 3);
  EXPECT_EQ(m.records, 7);
  EXPECT_EQ(m.rows, 15);
  EXPECT_GT(m.tokens, 15);
  EXPECT_FALSE(fs::exists(partial_path(path("merged.h5"))));
  expect_same_as_unsharded(path("all.h5"), path("merged.h5"));
  {
    H5::H5File f(path("merged.h5"), H5F_ACC_RDONLY);
    EXPECT_EQ(read_ints(f, "record_index"), (std::vector<int64_t>{0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 5, 5, 6, 6}));
    const auto from = attributes(f).at("merged_from");
    EXPECT_LT(from.find("s_0.h5"), from.find("s_1.h5"));  // in shard order
    EXPECT_LT(from.find("s_1.h5"), from.find("s_2.h5"));
  }
  // The smallest buffers: every block holds one row (and one record's token rows), so every row
  // crosses a block boundary of its shard and of the output.
  merge(shards, path("merged_small.h5"), 1);
  expect_same_as_unsharded(path("all.h5"), path("merged_small.h5"));
  // A merge output may be replaced by another merge.
  merge(shards, path("merged_small.h5"), 1);
  expect_same_as_unsharded(path("all.h5"), path("merged_small.h5"));
}

TEST_F(EmbedMerge, Float16WholeSequencesWithoutTokens) {
  EmbedOptions o = embed_options(path("h_all.h5"));
  o.window = 0;
  o.stride = 0;
  o.store_tokens = false;
  o.dtype = EmbeddingDtype::Float16;
  o.pooling = models::Pooling::Max;
  o.layer = 1;
  o.gzip_level = 0;
  run_embed(o);
  // With 8 shards for 7 records, shard 7 holds no row at all.
  for (const int n : {2, 8}) {
    SCOPED_TRACE(std::to_string(n) + " shards");
    const auto shards = write_shards(o, "h" + std::to_string(n), n);
    const std::string out = path("h_merged" + std::to_string(n) + ".h5");
    const auto m = merge(shards, out);
    EXPECT_EQ(m.rows, 7);
    EXPECT_EQ(m.tokens, 0);
    expect_same_as_unsharded(path("h_all.h5"), out);
  }
}

TEST_F(EmbedMerge, RefusesIncompleteOrMixedShardSets) {
  const auto shards = write_shards(embed_options(""), "b", 3);
  const std::string out = path("bad_out.h5");
  const auto expect_no_output = [&] {
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(partial_path(out)));
  };

  // A missing shard: named by index.
  std::string msg = message_of<InputError>([&] { merge({shards[0], shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "missing") && contains(msg, "shard index 1")) << msg;
  expect_no_output();

  // A shard given twice (also under another name): both files named.
  fs::copy_file(shards[1], path("b_1_copy.h5"));
  msg = message_of<InputError>([&] { merge({shards[0], shards[1], path("b_1_copy.h5"), shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "given twice") && contains(msg, "b_1.h5") && contains(msg, "b_1_copy.h5")) << msg;
  expect_no_output();

  // A shard of another run settings: pooling differs; the offending file is named.
  {
    EmbedOptions other = embed_options(path("b_max_2.h5"));
    other.pooling = models::Pooling::Max;
    other.shard = 2;
    other.num_shards = 3;
    run_embed(other);
  }
  msg = message_of<InputError>([&] { merge({shards[0], shards[1], path("b_max_2.h5")}, out); });
  EXPECT_TRUE(contains(msg, "b_max_2.h5") && contains(msg, "pooling") && contains(msg, "'max'")) << msg;
  expect_no_output();

  // ... the dtype differs.
  {
    EmbedOptions other = embed_options(path("b_half_1.h5"));
    other.dtype = EmbeddingDtype::Float16;
    other.shard = 1;
    other.num_shards = 3;
    run_embed(other);
  }
  msg = message_of<InputError>([&] { merge({shards[0], path("b_half_1.h5"), shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "b_half_1.h5") && contains(msg, "dtype")) << msg;

  // ... the window differs.
  {
    EmbedOptions other = embed_options(path("b_w50_1.h5"));
    other.window = 50;
    other.stride = 50;
    other.shard = 1;
    other.num_shards = 3;
    run_embed(other);
  }
  msg = message_of<InputError>([&] { merge({shards[0], path("b_w50_1.h5"), shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "b_w50_1.h5") && contains(msg, "window")) << msg;

  // ... the input differs (another FASTA with as many records).
  {
    fs::copy_file(path("seqs.fa"), path("other.fa"));
    EmbedOptions other = embed_options(path("b_in_0.h5"));
    other.inputs = {path("other.fa")};
    other.num_shards = 3;
    run_embed(other);
  }
  msg = message_of<InputError>([&] { merge({path("b_in_0.h5"), shards[1], shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "inputs") && contains(msg, "other.fa")) << msg;

  // A file of a run with another shard count.
  {
    EmbedOptions other = embed_options(path("b_of2.h5"));
    other.shard = 1;
    other.num_shards = 2;
    run_embed(other);
  }
  msg = message_of<InputError>([&] { merge({shards[0], path("b_of2.h5"), shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "b_of2.h5") && contains(msg, "different sharded runs")) << msg;
  expect_no_output();

  // A shard still .partial: named directly, or as the final name that does not exist yet.
  fs::rename(shards[2], partial_path(shards[2]));
  msg = message_of<InputError>([&] { merge({shards[0], shards[1], partial_path(shards[2])}, out); });
  EXPECT_TRUE(contains(msg, "b_2.h5.partial") && contains(msg, "unfinished")) << msg;
  msg = message_of<InputError>([&] { merge({shards[0], shards[1], shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "b_2.h5") && contains(msg, ".partial") && contains(msg, "--resume")) << msg;
  fs::rename(partial_path(shards[2]), shards[2]);
  expect_no_output();

  // An unfinished file renamed by hand (its writer never finished).
  {
    EmbedOptions killed = embed_options(path("b_killed_2.h5"));
    killed.shard = 2;
    killed.num_shards = 3;
    // A writer left open without finish(), as a killed run leaves it.
    H5::H5File done(shards[2], H5F_ACC_RDONLY);
    EmbeddingWriterOptions wo;
    wo.dim = static_cast<int64_t>(read_raw(done, "embeddings").dims[1]);
    wo.store_tokens = true;
    auto attrs = attributes(done);
    for (const char* key : {"model", "layer", "pooling", "shard"}) wo.attributes[key] = attrs.at(key);
    EmbeddingWriter w;
    w.open(killed.output, wo);
    EmbeddingBatch b;
    b.names = {"r2"};
    b.start = {0};
    b.end = {60};
    b.record_index = {2};
    b.embeddings = at::zeros({1, wo.dim});
    b.token_embeddings = at::zeros({2, wo.dim});
    b.token_counts = {2};
    w.append(b);
  }
  fs::rename(partial_path(path("b_killed_2.h5")), path("b_killed_2.h5"));
  msg = message_of<ParseError>([&] { merge({shards[0], shards[1], path("b_killed_2.h5")}, out); });
  EXPECT_TRUE(contains(msg, "b_killed_2.h5") && contains(msg, "unfinished")) << msg;

  // A missing file, a file that is not HDF5.
  msg = message_of<InputError>([&] { merge({shards[0], shards[1], path("nope.h5")}, out); });
  EXPECT_TRUE(contains(msg, "nope.h5")) << msg;
  std::ofstream(path("junk.h5")) << "not hdf5\n";
  msg = message_of<ParseError>([&] { merge({shards[0], shards[1], path("junk.h5")}, out); });
  EXPECT_TRUE(contains(msg, "junk.h5")) << msg;

  // A row whose record does not belong to its shard (a damaged or hand-edited file): found while
  // copying, and the output's .partial is removed.
  fs::copy_file(shards[1], path("b_edit_1.h5"));
  {
    H5::H5File f(path("b_edit_1.h5"), H5F_ACC_RDWR);
    H5::DataSet ds = f.openDataSet("record_index");
    std::vector<int64_t> v = read_ints(f, "record_index");
    v.back() = 5;  // record 5 belongs to shard 2
    ds.write(v.data(), H5::PredType::NATIVE_INT64);
  }
  msg = message_of<ParseError>([&] { merge({shards[0], path("b_edit_1.h5"), shards[2]}, out); });
  EXPECT_TRUE(contains(msg, "b_edit_1.h5") && contains(msg, "record_index 5") && contains(msg, "shard 1/3"))
      << msg;
  expect_no_output();

  // The output must not be a shard: neither one of the inputs (e.g. `merge shards/*.h5` without
  // --out) nor an existing shard file.
  msg = message_of<ConfigError>([&] { merge({shards[1], shards[2]}, shards[0]); });
  EXPECT_TRUE(contains(msg, "b_0.h5")) << msg;
  msg = message_of<ConfigError>([&] { merge(shards, path("b_1_copy.h5")); });
  EXPECT_TRUE(contains(msg, "b_1_copy.h5") && contains(msg, "refusing")) << msg;
  EXPECT_THROW(merge({}, out), ConfigError);

  // After all that, the right set still merges.
  EXPECT_EQ(merge(shards, out).rows, 15);
}
