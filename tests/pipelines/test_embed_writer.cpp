// The HDF5 embedding writer, read back through the HDF5 C++ API (a reader independent of the
// writer's C API code): layout, types, chunking and filters, attributes, the .partial protocol,
// resume after a crash, float16 storage, record indices and sharding; and EmbeddingReader against
// what the writer was given.
#include <ATen/ATen.h>
#include <H5Cpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "libseq/core/error.h"
#include "pipelines/embed_writer.h"
#include "tests/message_of.h"

namespace fs = std::filesystem;
using namespace strand;
using namespace strand::pipelines;

namespace {

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / ("strand_embed_writer_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

EmbeddingWriterOptions base_options(int64_t dim) {
  EmbeddingWriterOptions o;
  o.dim = dim;
  o.chunk_rows = 4;
  o.gzip_level = 6;
  o.attributes = {{"model", "mamba-130m"},    {"layer", "-1"},
                  {"pooling", "mean"},        {"version", "0.1.0"},
                  {"git_hash", "abc123def0"}, {"command_line", "strand embed -i x.fa"}};
  return o;
}

// Row i, column j holds i * 100 + j + 0.25: exact in float32 and distinct per row.
EmbeddingBatch make_batch(int64_t first_row, int64_t n, int64_t dim, bool tokens) {
  EmbeddingBatch b;
  b.embeddings = at::empty({n, dim}, at::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    b.names.push_back("rec" + std::to_string(first_row + i));
    b.start.push_back(10 * (first_row + i));
    b.end.push_back(10 * (first_row + i) + 7);
    for (int64_t j = 0; j < dim; ++j) b.embeddings[i][j] = static_cast<float>((first_row + i) * 100 + j) + 0.25f;
  }
  if (tokens) {
    int64_t t = 0;
    for (int64_t i = 0; i < n; ++i) {
      b.token_counts.push_back((first_row + i) % 3 + 1);  // 1, 2 or 3 tokens per row
      t += b.token_counts.back();
    }
    b.token_embeddings = at::arange(t * dim, at::kFloat).reshape({t, dim}).add(1000.0 * static_cast<double>(first_row));
  }
  return b;
}

std::vector<std::string> read_strings(const H5::H5File& f, const char* name) {
  H5::DataSet ds = f.openDataSet(name);
  H5::DataSpace space = ds.getSpace();
  hsize_t n = 0;
  space.getSimpleExtentDims(&n);
  std::vector<char*> raw(n, nullptr);
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);  // HDF5 does not convert between character sets
  EXPECT_EQ(ds.getStrType().getCset(), H5T_CSET_UTF8);
  EXPECT_TRUE(ds.getStrType().isVariableStr());
  if (n > 0) ds.read(raw.data(), type);
  std::vector<std::string> out(raw.begin(), raw.end());
  if (n > 0) H5::DataSet::vlenReclaim(raw.data(), type, space);
  return out;
}

std::vector<int64_t> read_ints(const H5::H5File& f, const char* name) {
  H5::DataSet ds = f.openDataSet(name);
  hsize_t n = 0;
  ds.getSpace().getSimpleExtentDims(&n);
  std::vector<int64_t> out(n);
  if (n > 0) ds.read(out.data(), H5::PredType::NATIVE_INT64);
  return out;
}

// A 2-D dataset read as float (HDF5 converts float16 to float), with its shape.
std::vector<float> read_matrix(const H5::H5File& f, const char* name, hsize_t dims[2]) {
  H5::DataSet ds = f.openDataSet(name);
  EXPECT_EQ(ds.getSpace().getSimpleExtentNdims(), 2);
  ds.getSpace().getSimpleExtentDims(dims);
  std::vector<float> out(dims[0] * dims[1]);
  if (!out.empty()) ds.read(out.data(), H5::PredType::NATIVE_FLOAT);
  return out;
}

std::string string_attribute(const H5::H5File& f, const char* name) {
  H5::Attribute a = f.openAttribute(name);
  std::string value;
  a.read(a.getStrType(), value);
  return value;
}

int64_t int_attribute(const H5::H5File& f, const char* name) {
  int64_t value = -1;
  f.openAttribute(name).read(H5::PredType::NATIVE_INT64, &value);
  return value;
}

using strand_tests::message_of;

}  // namespace

TEST(EmbeddingWriter, LayoutTypesChunkingFiltersAndAttributes) {
  const auto dir = fresh_dir("layout");
  const std::string path = (dir / "emb.h5").string();
  const int64_t dim = 5;
  EmbeddingWriterOptions o = base_options(dim);
  o.store_tokens = true;
  {
    EmbeddingWriter w;
    w.open(path, o);
    auto first = make_batch(0, 3, dim, true);
    first.sources = {"", "chrX", ""};  // row 1 is a region of chrX
    w.append(first);
    w.append(make_batch(3, 4, dim, true));
    EXPECT_EQ(w.rows(), 7);
    EXPECT_FALSE(fs::exists(path)) << "the final name must not exist before finish()";
    EXPECT_TRUE(fs::exists(partial_path(path)));
    w.finish();
    EXPECT_FALSE(w.is_open());
  }
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(partial_path(path)));

  H5::H5File f(path, H5F_ACC_RDONLY);
  hsize_t dims[2] = {0, 0};
  const auto values = read_matrix(f, "embeddings", dims);
  ASSERT_EQ(dims[0], 7u);
  ASSERT_EQ(dims[1], 5u);
  for (hsize_t i = 0; i < 7; ++i)
    for (hsize_t j = 0; j < 5; ++j) EXPECT_EQ(values[i * 5 + j], static_cast<float>(i * 100 + j) + 0.25f);

  H5::DataSet emb = f.openDataSet("embeddings");
  EXPECT_EQ(emb.getTypeClass(), H5T_FLOAT);
  EXPECT_EQ(emb.getFloatType().getSize(), 4u);
  H5::DSetCreatPropList plist = emb.getCreatePlist();
  ASSERT_EQ(plist.getLayout(), H5D_CHUNKED);
  hsize_t chunk[2] = {0, 0};
  ASSERT_EQ(plist.getChunk(2, chunk), 2);
  EXPECT_EQ(chunk[0], 4u);
  EXPECT_EQ(chunk[1], 5u);
  hsize_t max[2] = {0, 0};
  emb.getSpace().getSimpleExtentDims(dims, max);
  EXPECT_EQ(max[0], H5S_UNLIMITED);
  ASSERT_EQ(plist.getNfilters(), 2);
  unsigned flags = 0;
  size_t nelmts = 1;
  unsigned level = 0;
  char filter_name[64];
  EXPECT_EQ(plist.getFilter(0, flags, nelmts, &level, sizeof filter_name, filter_name, flags), H5Z_FILTER_SHUFFLE);
  nelmts = 1;
  EXPECT_EQ(plist.getFilter(1, flags, nelmts, &level, sizeof filter_name, filter_name, flags), H5Z_FILTER_DEFLATE);
  EXPECT_EQ(level, 6u);

  const std::vector<std::string> names = {"rec0", "rec1", "rec2", "rec3", "rec4", "rec5", "rec6"};
  EXPECT_EQ(read_strings(f, "names"), names);
  std::vector<std::string> sources = names;
  sources[1] = "chrX";
  EXPECT_EQ(read_strings(f, "source"), sources);
  EXPECT_EQ(read_ints(f, "start"), (std::vector<int64_t>{0, 10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(read_ints(f, "end"), (std::vector<int64_t>{7, 17, 27, 37, 47, 57, 67}));
  EXPECT_EQ(f.openDataSet("start").getIntType().getSize(), 8u);
  // No record indices given: each row is its own record.
  EXPECT_EQ(read_ints(f, "record_index"), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));

  // Tokens per row 1, 2, 3, 1, 2, 3, 1: offsets are their running sum.
  EXPECT_EQ(read_ints(f, "token_offsets"), (std::vector<int64_t>{0, 1, 3, 6, 7, 9, 12, 13}));
  const auto tokens = read_matrix(f, "token_embeddings", dims);
  ASSERT_EQ(dims[0], 13u);
  EXPECT_EQ(tokens[0], 0.0f);         // first batch: arange from 0
  EXPECT_EQ(tokens[6 * 5], 3000.0f);  // second batch starts at row 6: arange + 1000 * 3
  EXPECT_EQ(tokens[12 * 5 + 4], 3000.0f + 34);

  EXPECT_EQ(string_attribute(f, "format"), "strand.embeddings");
  EXPECT_EQ(int_attribute(f, "format_version"), 2);
  EXPECT_EQ(int_attribute(f, "dim"), 5);
  EXPECT_EQ(string_attribute(f, "dtype"), "float32");
  EXPECT_EQ(int_attribute(f, "store_tokens"), 1);
  EXPECT_EQ(int_attribute(f, "committed_rows"), 7);
  EXPECT_EQ(int_attribute(f, "committed_tokens"), 13);
  for (const auto& [key, value] : o.attributes) EXPECT_EQ(string_attribute(f, key.c_str()), value) << key;
  EXPECT_FALSE(f.nameExists(".staging"));  // the writer's staging rows are gone from the final file
}

// Many appends smaller than a chunk must not leave abandoned copies of chunks in the file: compare
// with the same rows written in one append. Random values, so gzip cannot hide waste.
TEST(EmbeddingWriter, SmallAppendsKeepTheFileCompact) {
  const auto dir = fresh_dir("compact");
  const int64_t dim = 64, rows = 600;
  EmbeddingWriterOptions o = base_options(dim);
  o.chunk_rows = 0;  // 256 rows per 64 KiB chunk
  at::manual_seed(5);
  const at::Tensor values = at::rand({rows, dim});
  const auto write = [&](const std::string& name, int64_t step) {
    const std::string path = (dir / name).string();
    EmbeddingWriter w;
    w.open(path, o);
    for (int64_t r = 0; r < rows; r += step) {
      EmbeddingBatch b = make_batch(r, step, dim, false);
      b.embeddings = values.slice(0, r, r + step);
      w.append(b);
      EXPECT_EQ(w.rows(), r + step);
    }
    w.finish();
    hsize_t dims[2] = {0, 0};
    H5::H5File f(path, H5F_ACC_RDONLY);
    const auto back = read_matrix(f, "embeddings", dims);
    EXPECT_EQ(dims[0], static_cast<hsize_t>(rows));
    EXPECT_TRUE(std::equal(back.begin(), back.end(), values.contiguous().data_ptr<float>()));
    return fs::file_size(path);
  };
  const auto one = write("one.h5", rows);
  const auto small = write("small.h5", 3);
  // The only difference allowed is the second 64 KiB staging slot, which one append never uses and
  // which the file keeps after finish() (measured: exactly 65536 bytes more). Rewriting partial
  // compressed chunks instead made such a file several times larger.
  EXPECT_LE(small, one + 65536 + 4096) << "200 appends of 3 rows: " << small << " bytes, one append: " << one;
}

// finish() moves the staged rows into "embeddings" and then removes the staging dataset; a kill
// between the two leaves the rows only in "embeddings", and resuming must find them there.
TEST(EmbeddingWriter, ResumeAfterAnInterruptedFinish) {
  const auto dir = fresh_dir("finish");
  const std::string path = (dir / "emb.h5").string();
  const int64_t dim = 3;
  const EmbeddingWriterOptions o = base_options(dim);  // 4 rows per chunk
  {
    EmbeddingWriter w;
    w.open(path, o);
    w.append(make_batch(0, 6, dim, false));  // one whole chunk + 2 staged rows
  }
  {
    H5::H5File f(partial_path(path), H5F_ACC_RDWR);
    int64_t commit[4] = {0, 0, 0, 0};  // rows, token rows, staging slots of embeddings and tokens
    f.openAttribute("commit").read(H5::PredType::NATIVE_INT64, commit);
    ASSERT_EQ(commit[0], 6);
    H5::DataSet staged = f.openDataSet(".staging/embeddings_" + std::to_string(commit[2]));
    std::vector<float> rows(2 * dim);
    const hsize_t count[2] = {2, static_cast<hsize_t>(dim)}, offset[2] = {0, 0};
    H5::DataSpace file_space = staged.getSpace();
    file_space.selectHyperslab(H5S_SELECT_SET, count, offset);
    staged.read(rows.data(), H5::PredType::NATIVE_FLOAT, H5::DataSpace(2, count), file_space);
    H5::DataSet emb = f.openDataSet("embeddings");
    const hsize_t size[2] = {6, static_cast<hsize_t>(dim)}, at[2] = {4, 0};
    emb.extend(size);
    H5::DataSpace target = emb.getSpace();
    target.selectHyperslab(H5S_SELECT_SET, count, at);
    emb.write(rows.data(), H5::PredType::NATIVE_FLOAT, H5::DataSpace(2, count), target);
    f.unlink(".staging");
  }
  EmbeddingWriter w;
  EXPECT_EQ(w.open_resume(path, o).rows, 6);
  w.append(make_batch(6, 1, dim, false));
  w.finish();
  H5::H5File f(path, H5F_ACC_RDONLY);
  hsize_t dims[2] = {0, 0};
  const auto values = read_matrix(f, "embeddings", dims);
  ASSERT_EQ(dims[0], 7u);
  for (hsize_t i = 0; i < 7; ++i) EXPECT_EQ(values[i * dim + 2], static_cast<float>(i * 100 + 2) + 0.25f) << i;
}

TEST(EmbeddingWriter, Float16RoundTripWithinHalfPrecision) {
  const auto dir = fresh_dir("half");
  const std::string path = (dir / "half.h5").string();
  const int64_t dim = 64;
  EmbeddingWriterOptions o = base_options(dim);
  o.dtype = EmbeddingDtype::Float16;
  o.chunk_rows = 0;  // automatic
  at::manual_seed(3);
  // Normal values over several binades, plus values at the edges of the half range.
  at::Tensor x = at::randn({33, dim}, at::kFloat).mul(at::pow(10.0, at::randint(-4, 4, {33, 1}).to(at::kFloat)));
  x[0][0] = 65504.0f;  // largest half
  x[0][1] = -65504.0f;
  x[0][2] = 6.1035156e-05f;  // smallest normal half
  x[0][3] = 3.0e-7f;         // subnormal in half
  x[0][4] = 0.0f;
  {
    EmbeddingWriter w;
    w.open(path, o);
    EmbeddingBatch b;
    for (int i = 0; i < 33; ++i) {
      b.names.push_back("r" + std::to_string(i));
      b.start.push_back(0);
      b.end.push_back(1);
    }
    b.embeddings = x.to(at::kDouble);  // any floating input dtype is accepted
    w.append(b);
    w.finish();
  }
  H5::H5File f(path, H5F_ACC_RDONLY);
  H5::DataSet ds = f.openDataSet("embeddings");
  H5::FloatType type = ds.getFloatType();
  EXPECT_EQ(type.getSize(), 2u);
  size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  type.getFields(spos, epos, esize, mpos, msize);
  EXPECT_EQ(spos, 15u);
  EXPECT_EQ(epos, 10u);
  EXPECT_EQ(esize, 5u);
  EXPECT_EQ(mpos, 0u);
  EXPECT_EQ(msize, 10u);
  EXPECT_EQ(type.getEbias(), 15u);
  EXPECT_EQ(type.getOrder(), H5T_ORDER_LE);
  hsize_t chunk[2] = {0, 0};
  ds.getCreatePlist().getChunk(2, chunk);
  EXPECT_EQ(chunk[0], 512u);  // 64 KiB / (64 values * 2 bytes)

  hsize_t dims[2] = {0, 0};
  const auto back = read_matrix(f, "embeddings", dims);
  ASSERT_EQ(dims[0], 33u);
  // Oracle: LibTorch's float -> half rounding (nearest even), converted back to float; HDF5's
  // half -> float conversion must reproduce it exactly, and it lies within half's precision.
  const at::Tensor expected = x.to(at::kHalf).to(at::kFloat).contiguous();
  const float* e = expected.data_ptr<float>();
  const float* xs = x.contiguous().data_ptr<float>();
  int64_t mismatches = 0;
  for (size_t i = 0; i < back.size(); ++i) {
    mismatches += back[i] != e[i] ? 1 : 0;
    const float a = std::fabs(xs[i]);
    const float tolerance =
        a >= 6.1035156e-05f ? a * 0.00048828125f : 2.9802322e-08f;  // 2^-11 relative; half ulp of subnormals
    EXPECT_LE(std::fabs(back[i] - xs[i]), tolerance) << "element " << i << ": " << xs[i] << " -> " << back[i];
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(back[0], 65504.0f);
  EXPECT_EQ(back[2], 6.1035156e-05f);

  // A finite value beyond the half range is refused, not stored as infinity.
  EmbeddingWriter w;
  w.open((dir / "overflow.h5").string(), o);
  EmbeddingBatch big;
  big.names = {"big"};
  big.start = {0};
  big.end = {1};
  big.embeddings = at::full({1, dim}, 70000.0f);
  EXPECT_THROW(w.append(big), InputError);
}

TEST(EmbeddingWriter, ResumeRollsBackAnUncommittedAppend) {
  const auto dir = fresh_dir("resume");
  const std::string path = (dir / "emb.h5").string();
  const int64_t dim = 3;
  EmbeddingWriterOptions o = base_options(dim);
  o.store_tokens = true;
  {
    EmbeddingWriter w;
    w.open(path, o);
    w.append(make_batch(0, 2, dim, true));
    w.append(make_batch(2, 1, dim, true));
  }  // destroyed without finish(): the run was interrupted
  EXPECT_FALSE(fs::exists(path));
  ASSERT_TRUE(fs::exists(partial_path(path)));

  // Simulate a crash in the middle of the next append: rows written and flushed, the committed
  // counter not yet updated.
  {
    H5::H5File f(partial_path(path), H5F_ACC_RDWR);
    EXPECT_EQ(int_attribute(f, "committed_rows"), 3);
    const auto grow = [&](const char* name, hsize_t rows, hsize_t cols) {
      H5::DataSet ds = f.openDataSet(name);
      const hsize_t size[2] = {rows, cols};
      ds.extend(size);
    };
    grow("embeddings", 5, dim);
    grow("names", 5, 1);
    grow("start", 4, 1);  // a crash can leave datasets at different lengths
    grow("token_embeddings", 9, dim);
    grow("token_offsets", 6, 1);
    f.flush(H5F_SCOPE_GLOBAL);
  }

  EmbeddingWriter w;
  const ResumeInfo info = w.open_resume(path, o);
  EXPECT_EQ(info.rows, 3);
  EXPECT_EQ(info.tokens, 1 + 2 + 3);
  EXPECT_EQ(info.rolled_back_rows, 2);
  EXPECT_EQ(info.names, (std::vector<std::string>{"rec0", "rec1", "rec2"}));
  EXPECT_EQ(info.start, (std::vector<int64_t>{0, 10, 20}));
  EXPECT_EQ(info.end, (std::vector<int64_t>{7, 17, 27}));
  EXPECT_EQ(w.rows(), 3);
  w.append(make_batch(3, 2, dim, true));
  EXPECT_FALSE(fs::exists(path));
  w.finish();

  H5::H5File f(path, H5F_ACC_RDONLY);
  EXPECT_EQ(read_strings(f, "names"), (std::vector<std::string>{"rec0", "rec1", "rec2", "rec3", "rec4"}));
  EXPECT_EQ(read_ints(f, "start"), (std::vector<int64_t>{0, 10, 20, 30, 40}));
  EXPECT_EQ(read_ints(f, "token_offsets"), (std::vector<int64_t>{0, 1, 3, 6, 7, 9}));
  hsize_t dims[2] = {0, 0};
  const auto values = read_matrix(f, "embeddings", dims);
  ASSERT_EQ(dims[0], 5u);
  for (hsize_t i = 0; i < 5; ++i) EXPECT_EQ(values[i * dim], static_cast<float>(i * 100) + 0.25f);
  const auto tokens = read_matrix(f, "token_embeddings", dims);
  EXPECT_EQ(dims[0], 9u);
  EXPECT_EQ(tokens[6 * dim], 3000.0f);  // the resumed batch's first token row follows the committed six
  EXPECT_EQ(int_attribute(f, "committed_rows"), 5);
}

// A real kill: a child process appends batches of 16 rows and reports each committed append
// through a pipe; the parent kills it with SIGKILL after 5 commits, at an arbitrary point of a later
// append. PATH must not exist, and open_resume must either find at least the 80 reported rows
// (whole batches) and continue, or, when the kill landed inside HDF5's flush (documented, rare),
// report a ParseError.
TEST(EmbeddingWriter, SurvivesSigkillWhileWriting) {
  const auto dir = fresh_dir("sigkill");
  const std::string path = (dir / "emb.h5").string();
  const int64_t dim = 32;
  EmbeddingWriterOptions o = base_options(dim);
  o.store_tokens = true;
  // Built before fork() and already float32 + contiguous, so the child runs no LibTorch kernel.
  const EmbeddingBatch batch = make_batch(0, 16, dim, true);
  int resumed = 0;
  for (int trial = 0; trial < 3; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    fs::remove(partial_path(path));
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(pipe_fds[0]);
      try {
        EmbeddingWriter w;
        w.open(path, o);
        for (int i = 0; i < 100000; ++i) {
          w.append(batch);
          const char done = 1;
          if (write(pipe_fds[1], &done, 1) != 1) break;
        }
      } catch (...) {
      }
      _exit(3);
    }
    close(pipe_fds[1]);
    int commits = 0;
    char c = 0;
    while (commits < 5 + trial && read(pipe_fds[0], &c, 1) == 1) ++commits;
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    close(pipe_fds[0]);
    ASSERT_EQ(commits, 5 + trial) << "the writing child stopped early";
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_FALSE(fs::exists(path));
    ASSERT_TRUE(fs::exists(partial_path(path)));
    try {
      EmbeddingWriter w;
      const ResumeInfo info = w.open_resume(path, o);
      EXPECT_GE(info.rows, 16 * commits);
      EXPECT_EQ(info.rows % 16, 0);
      EXPECT_EQ(info.tokens, info.rows / 16 * 31);  // 1+2+3+1+2+3+...+1 = 31 tokens per batch of 16
      ASSERT_EQ(static_cast<int64_t>(info.names.size()), info.rows);
      for (int64_t i = 0; i < info.rows; ++i)
        EXPECT_EQ(info.names[static_cast<size_t>(i)], "rec" + std::to_string(i % 16));
      w.append(batch);
      w.finish();
      H5::H5File f(path, H5F_ACC_RDONLY);
      EXPECT_EQ(int_attribute(f, "committed_rows"), info.rows + 16);
      fs::remove(path);
      ++resumed;
    } catch (const ParseError& e) {
      std::printf("kill landed inside an HDF5 flush: %s\n", e.what());
    }
  }
  EXPECT_GE(resumed, 1);  // measured: about 1 kill in 200 damages the file
}

TEST(EmbeddingWriter, ResumeRefusesOtherSettings) {
  const auto dir = fresh_dir("mismatch");
  const std::string path = (dir / "emb.h5").string();
  EmbeddingWriterOptions o = base_options(4);
  {
    EmbeddingWriter w;
    w.open(path, o);
    w.append(make_batch(0, 2, 4, false));
  }
  auto other = o;
  other.attributes["model"] = "mamba-370m";
  std::string msg = message_of<ConfigError>([&] { EmbeddingWriter().open_resume(path, other); });
  EXPECT_NE(msg.find("model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mamba-130m"), std::string::npos) << msg;
  other = o;
  other.attributes.erase("pooling");
  msg = message_of<ConfigError>([&] { EmbeddingWriter().open_resume(path, other); });
  EXPECT_NE(msg.find("pooling"), std::string::npos) << msg;
  other = o;
  other.dim = 8;
  EXPECT_THROW(EmbeddingWriter().open_resume(path, other), ConfigError);
  other = o;
  other.dtype = EmbeddingDtype::Float16;
  EXPECT_THROW(EmbeddingWriter().open_resume(path, other), ConfigError);
  other = o;
  other.attributes["command_line"] = "strand embed --resume";  // provenance may differ
  EXPECT_EQ(EmbeddingWriter().open_resume(path, other).rows, 2);

  EXPECT_THROW(EmbeddingWriter().open_resume((dir / "none.h5").string(), o), IoError);
  {
    std::ofstream junk(partial_path((dir / "junk.h5").string()));
    junk << "not hdf5";
  }
  EXPECT_THROW(EmbeddingWriter().open_resume((dir / "junk.h5").string(), o), ParseError);
}

TEST(EmbeddingWriter, RejectsMismatchedRows) {
  const auto dir = fresh_dir("shapes");
  EmbeddingWriter w;
  EXPECT_THROW(w.open((dir / "x.h5").string(), EmbeddingWriterOptions{}), ConfigError);  // dim 0
  w.open((dir / "x.h5").string(), base_options(4));
  auto b = make_batch(0, 2, 4, false);
  b.embeddings = at::zeros({2, 3});
  EXPECT_THROW(w.append(b), ShapeError);
  b = make_batch(0, 2, 4, false);
  b.start.pop_back();
  EXPECT_THROW(w.append(b), ShapeError);
  b = make_batch(0, 2, 4, false);
  b.token_counts = {1, 1};
  EXPECT_THROW(w.append(b), InputError);  // no store_tokens
  EXPECT_EQ(w.rows(), 0);
  w.append(make_batch(0, 2, 4, false));
  EXPECT_EQ(w.rows(), 2);
}

TEST(EmbeddingWriter, ShardOfSplitsRecordsRoundRobin) {
  for (const int n : {1, 2, 3, 7}) {
    std::vector<int> per_shard(static_cast<size_t>(n), 0);
    for (int64_t r = 0; r < 100; ++r) {
      int owners = 0;
      for (int i = 0; i < n; ++i)
        if (shard_of(r, "rec", i, n)) {
          ++owners;
          ++per_shard[static_cast<size_t>(i)];
          EXPECT_EQ(r % n, i);
        }
      EXPECT_EQ(owners, 1) << "record " << r << " of " << n << " shards";
    }
    for (const int c : per_shard) EXPECT_LE(std::abs(c - 100 / n), 1);
  }
  EXPECT_THROW(shard_of(0, "rec", 0, 0), InputError);
  EXPECT_THROW(shard_of(0, "rec", 2, 2), InputError);
  EXPECT_THROW(shard_of(-1, "rec", 0, 2), InputError);
}

TEST(EmbeddingWriter, RecordIndexNeverDecreasesAndFinishedCommitIsCanonical) {
  const auto dir = fresh_dir("records");
  const std::string path = (dir / "emb.h5").string();
  const int64_t dim = 3;
  EmbeddingWriterOptions o = base_options(dim);  // 4 rows per chunk
  o.store_tokens = true;
  {
    EmbeddingWriter w;
    w.open(path, o);
    auto b = make_batch(0, 3, dim, true);
    b.record_index = {0, 0, 2};  // record 0 in two windows, record 1 gave no row
    w.append(b);
    b = make_batch(3, 1, dim, true);
    b.record_index = {1};
    EXPECT_THROW(w.append(b), InputError);  // below the previous row's record
    b.record_index = {-1};
    EXPECT_THROW(w.append(b), InputError);
    b.record_index = {2, 3};
    EXPECT_THROW(w.append(b), ShapeError);  // 2 indices for 1 row
    EXPECT_EQ(w.rows(), 3);
    b = make_batch(3, 2, dim, true);
    b.record_index = {2, 5};
    w.append(b);
  }  // interrupted: resume must know the last record
  EmbeddingWriter w;
  const ResumeInfo info = w.open_resume(path, o);
  EXPECT_EQ(info.record_index, (std::vector<int64_t>{0, 0, 2, 2, 5}));
  auto b = make_batch(5, 1, dim, true);
  b.record_index = {4};
  EXPECT_THROW(w.append(b), InputError);
  b.record_index = {7};
  w.append(b);
  w.set_attribute("records", "8");
  EXPECT_THROW(w.set_attribute("dim", "4"), ConfigError);  // the writer's own
  EXPECT_THROW(w.set_attribute("commit", "x"), ConfigError);
  w.finish();
  EXPECT_THROW(w.set_attribute("records", "9"), InputError);  // closed
  H5::H5File f(path, H5F_ACC_RDONLY);
  EXPECT_EQ(read_ints(f, "record_index"), (std::vector<int64_t>{0, 0, 2, 2, 5, 7}));
  EXPECT_EQ(string_attribute(f, "records"), "8");
  // The staging slots a finished file's commit names are zero whatever the appends did.
  int64_t commit[4] = {-1, -1, -1, -1};
  f.openAttribute("commit").read(H5::PredType::NATIVE_INT64, commit);
  EXPECT_EQ(commit[0], 6);
  EXPECT_EQ(commit[1], 1 + 2 + 3 + 1 + 2 + 3);
  EXPECT_EQ(commit[2], 0);
  EXPECT_EQ(commit[3], 0);
}

// The reader returns exactly what the writer was given: float16 bits, strings, offsets; in
// blocks that start and end inside chunks.
TEST(EmbeddingReader, ReadsRowsAndTokensAsStored) {
  const auto dir = fresh_dir("reader");
  const std::string path = (dir / "emb.h5").string();
  const int64_t dim = 6;
  EmbeddingWriterOptions o = base_options(dim);  // 4 rows per chunk, gzip 6
  o.store_tokens = true;
  o.dtype = EmbeddingDtype::Float16;
  o.attributes["shard"] = "1/3";
  std::vector<EmbeddingBatch> batches = {make_batch(0, 5, dim, true), make_batch(5, 4, dim, true)};
  batches[0].sources = {"", "chrX", "", "", ""};
  batches[0].record_index = {1, 1, 4, 4, 4};
  batches[1].record_index = {7, 10, 10, 13};
  {
    EmbeddingWriter w;
    w.open(path, o);
    for (const auto& b : batches) w.append(b);
    w.finish();
  }
  EmbeddingReader r;
  r.open(path);
  const EmbeddingFileInfo& info = r.info();
  EXPECT_EQ(info.dim, dim);
  EXPECT_EQ(info.dtype, EmbeddingDtype::Float16);
  EXPECT_TRUE(info.store_tokens);
  EXPECT_EQ(info.rows, 9);
  EXPECT_EQ(info.tokens, 3 * (1 + 2 + 3));  // row % 3 + 1 tokens per row
  EXPECT_EQ(info.chunk_rows, 4);
  EXPECT_EQ(info.gzip_level, 6);
  for (const auto& [key, value] : o.attributes) EXPECT_EQ(info.attributes.at(key), value) << key;
  EXPECT_EQ(info.attributes.count("dtype"), 0u);

  const EmbeddingRows rows = r.read_rows(3, 5);  // rows 3..7: across both batches and chunks
  EXPECT_EQ(rows.names, (std::vector<std::string>{"rec3", "rec4", "rec5", "rec6", "rec7"}));
  EXPECT_EQ(rows.sources, rows.names);
  EXPECT_EQ(rows.start, (std::vector<int64_t>{30, 40, 50, 60, 70}));
  EXPECT_EQ(rows.end, (std::vector<int64_t>{37, 47, 57, 67, 77}));
  EXPECT_EQ(rows.record_index, (std::vector<int64_t>{4, 4, 7, 10, 10}));
  EXPECT_EQ(rows.token_offsets, (std::vector<int64_t>{6, 7, 9, 12, 13, 15}));
  ASSERT_EQ(rows.embeddings.scalar_type(), at::kHalf);
  const at::Tensor all = at::cat({batches[0].embeddings, batches[1].embeddings}).to(at::kHalf);
  EXPECT_TRUE(at::equal(rows.embeddings, all.slice(0, 3, 8)));
  EXPECT_EQ(r.read_rows(1, 1).sources, (std::vector<std::string>{"chrX"}));
  EXPECT_TRUE(r.read_rows(9, 0).names.empty());
  const at::Tensor tokens = at::cat({batches[0].token_embeddings, batches[1].token_embeddings}).to(at::kHalf);
  EXPECT_TRUE(at::equal(r.read_tokens(5, 9), tokens.slice(0, 5, 14)));
  EXPECT_THROW(r.read_rows(8, 2), InputError);
  EXPECT_THROW(r.read_rows(-1, 1), InputError);
  EXPECT_THROW(r.read_tokens(0, info.tokens + 1), InputError);
  r.close();
  EXPECT_FALSE(r.is_open());

  // Not finished: the final name does not exist yet, or a .partial renamed by hand.
  const std::string unfinished = (dir / "unfinished.h5").string();
  {
    EmbeddingWriter w;
    w.open(unfinished, base_options(dim));
    w.append(make_batch(0, 2, dim, false));
  }
  std::string msg = message_of<IoError>([&] { EmbeddingReader().open(unfinished); });
  EXPECT_NE(msg.find("has not finished"), std::string::npos) << msg;
  fs::rename(partial_path(unfinished), unfinished);
  msg = message_of<ParseError>([&] { EmbeddingReader().open(unfinished); });
  EXPECT_NE(msg.find("unfinished"), std::string::npos) << msg;

  // Format version 1 (no record_index) is refused with a way out.
  {
    H5::H5File f(path, H5F_ACC_RDWR);
    const int64_t one = 1;
    f.openAttribute("format_version").write(H5::PredType::NATIVE_INT64, &one);
  }
  msg = message_of<ParseError>([&] { EmbeddingReader().open(path); });
  EXPECT_NE(msg.find("older strand"), std::string::npos) << msg;
}
