// EmbeddingWriter over the HDF5 C API: plain error codes map onto strand's typed exceptions without
// the C++ API's own exception hierarchy, and the C API is the one stable across HDF5 1.10-1.14.
#include "pipelines/embed_writer.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "libseq/core/error.h"
#include "libseq/core/log.h"

namespace strand::pipelines {

const char* dtype_name(EmbeddingDtype dtype) { return dtype == EmbeddingDtype::Float16 ? "float16" : "float32"; }

std::string partial_path(const std::string& path) { return path + ".partial"; }

bool shard_of(int64_t record_index, std::string_view name, int shard, int num_shards) {
  STRAND_CHECK(num_shards >= 1, "--shard: the shard count must be at least 1 (got ", num_shards, ")");
  STRAND_CHECK(shard >= 0 && shard < num_shards, "--shard: shard ", shard, " is outside 0..", num_shards - 1);
  STRAND_CHECK(record_index >= 0, "--shard: record '", name, "' has a negative index ", record_index);
  return record_index % num_shards == shard;
}

namespace {

constexpr const char* kFormat = "strand.embeddings";
constexpr int64_t kFormatVersion = 2;  // 2: /record_index
constexpr const char* kChecked[] = {"model", "layer", "pooling"};
constexpr const char* kStagingGroup = ".staging";  // removed by finish()
constexpr const char* kCommit = "commit";          // int64[4]: rows, token rows, embeddings and token staging slots
constexpr hsize_t kVectorChunk = 2048;             // elements per chunk of the 1-D datasets
// Bytes per automatic chunk of the (rows, dim) datasets. Small (HDF5 advises 10 KiB .. 1 MiB):
// the staging rows hold two chunks per dataset, and stay in the file.
constexpr int64_t kMatrixChunkBytes = int64_t{1} << 16;

// Silences HDF5's automatic error printing for the lifetime of the guard (restoring whatever the
// process had set), so failures reach the caller as exceptions instead of stderr dumps.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// HDF5's description of the current error stack (innermost first), then clears it.
std::string hdf5_error() {
  std::string out;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        auto& s = *static_cast<std::string*>(data);
        if (n < 3 && e->desc != nullptr) s += std::string(s.empty() ? "" : "; ") + e->func_name + ": " + e->desc;
        return 0;
      },
      &out);
  H5Eclear2(H5E_DEFAULT);
  return out.empty() ? "unknown HDF5 error" : out;
}

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw IoError(file + ": " + what + " (" + hdf5_error() + ")");
}

// An HDF5 identifier closed at scope exit.
class Id {
 public:
  Id() = default;
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  // Closes now and reports whether HDF5 accepted it.
  bool close() {
    if (id_ < 0) return true;
    const herr_t rc = close_(id_);
    id_ = -1;
    return rc >= 0;
  }
  void reset() { close(); }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// Checked constructors: an invalid id is a failure described by HDF5's error stack.
Id checked(hid_t id, herr_t (*close)(hid_t), const std::string& file, const std::string& what) {
  if (id < 0) fail(file, what);
  return Id(id, close);
}
void check(herr_t rc, const std::string& file, const std::string& what) {
  if (rc < 0) fail(file, what);
}

// IEEE 754 binary16, little-endian: sign bit 15, exponent bits 10..14 (bias 15), mantissa 0..9.
Id half_type(const std::string& file) {
  Id t = checked(H5Tcopy(H5T_IEEE_F32LE), H5Tclose, file, "cannot copy the float type");
  check(H5Tset_fields(t.get(), 15, 10, 5, 0, 10), file, "cannot lay out the float16 type");
  check(H5Tset_size(t.get(), 2), file, "cannot size the float16 type");
  check(H5Tset_ebias(t.get(), 15), file, "cannot set the float16 exponent bias");
  return t;
}

Id utf8_vlen_string(const std::string& file) {
  Id t = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot copy the string type");
  check(H5Tset_size(t.get(), H5T_VARIABLE), file, "cannot make a variable-length string type");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), file, "cannot set UTF-8");
  return t;
}

void write_string_attribute(hid_t obj, const std::string& name, const std::string& value, const std::string& file) {
  Id type = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot copy the string type");
  check(H5Tset_size(type.get(), value.size() + 1), file, "cannot size a string attribute");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), file, "cannot set string padding");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), file, "cannot set UTF-8");
  Id space = checked(H5Screate(H5S_SCALAR), H5Sclose, file, "cannot create a scalar dataspace");
  if (H5Aexists(obj, name.c_str()) > 0) check(H5Adelete(obj, name.c_str()), file, "cannot replace attribute " + name);
  Id attr = checked(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, file,
                    "cannot create attribute " + name);
  check(H5Awrite(attr.get(), type.get(), value.c_str()), file, "cannot write attribute " + name);
}

void write_int_attribute(hid_t obj, const std::string& name, int64_t value, const std::string& file) {
  Id attr;
  if (H5Aexists(obj, name.c_str()) > 0) {
    attr = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, file, "cannot open attribute " + name);
  } else {
    Id space = checked(H5Screate(H5S_SCALAR), H5Sclose, file, "cannot create a scalar dataspace");
    attr = checked(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, file,
                   "cannot create attribute " + name);
  }
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), file, "cannot write attribute " + name);
}

void write_int_array_attribute(hid_t obj, const std::string& name, const int64_t* values, hsize_t count,
                               const std::string& file) {
  Id attr;
  if (H5Aexists(obj, name.c_str()) > 0) {
    attr = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, file, "cannot open attribute " + name);
  } else {
    Id space = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, file, "cannot create a dataspace");
    attr = checked(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, file,
                   "cannot create attribute " + name);
  }
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, values), file, "cannot write attribute " + name);
}

// Attribute readers for open_resume: a missing or mistyped attribute is a ParseError.
bool has_attribute(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& file) {
  const Location where{file, -1, ""};
  STRAND_CHECK_AT(ParseError, where, has_attribute(obj, name), "not a strand embedding file: no attribute '", name,
                  "'");
  Id attr = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, file, "cannot open attribute " + name);
  Id type = checked(H5Aget_type(attr.get()), H5Tclose, file, "cannot read the type of attribute " + name);
  STRAND_CHECK_AT(ParseError, where, H5Tget_class(type.get()) == H5T_STRING, "attribute '", name, "' is not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    Id mem = utf8_vlen_string(file);
    char* value = nullptr;
    check(H5Aread(attr.get(), mem.get(), &value), file, "cannot read attribute " + name);
    std::string out = value != nullptr ? value : "";
    H5free_memory(value);
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  std::string buffer(size, '\0');
  check(H5Aread(attr.get(), type.get(), buffer.data()), file, "cannot read attribute " + name);
  return buffer.substr(0, buffer.find('\0'));
}

int64_t read_int_attribute(hid_t obj, const std::string& name, const std::string& file) {
  const Location where{file, -1, ""};
  STRAND_CHECK_AT(ParseError, where, has_attribute(obj, name), "not a strand embedding file: no attribute '", name,
                  "'");
  Id attr = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, file, "cannot open attribute " + name);
  Id type = checked(H5Aget_type(attr.get()), H5Tclose, file, "cannot read the type of attribute " + name);
  STRAND_CHECK_AT(ParseError, where, H5Tget_class(type.get()) == H5T_INTEGER, "attribute '", name,
                  "' is not an integer");
  int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), file, "cannot read attribute " + name);
  return value;
}

std::vector<int64_t> read_int_array_attribute(hid_t obj, const std::string& name, size_t count,
                                              const std::string& file) {
  const Location where{file, -1, ""};
  STRAND_CHECK_AT(ParseError, where, has_attribute(obj, name), "not a strand embedding file: no attribute '", name,
                  "'");
  Id attr = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, file, "cannot open attribute " + name);
  Id space = checked(H5Aget_space(attr.get()), H5Sclose, file, "cannot read the shape of attribute " + name);
  STRAND_CHECK_AT(ParseError, where, H5Sget_simple_extent_npoints(space.get()) == static_cast<hssize_t>(count),
                  "attribute '", name, "' does not hold ", count, " values");
  std::vector<int64_t> values(count);
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()), file, "cannot read attribute " + name);
  return values;
}

// The first-axis length of a dataset.
hsize_t length_of(hid_t dataset, const std::string& file, const std::string& name) {
  Id space = checked(H5Dget_space(dataset), H5Sclose, file, "cannot read the shape of " + name);
  hsize_t dims[2] = {0, 0};
  const int rank = H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (rank < 1) fail(file, "cannot read the shape of " + name);
  return dims[0];
}

// Reads rows [at, at + count) of a dataset whose rows hold `row_elems` values (rank 1 when
// row_elems is 0, else rank 2) as `mem_type` into `out`.
void read_dataset_rows(hid_t ds, hid_t mem_type, hsize_t at, hsize_t count, hsize_t row_elems, void* out,
               const std::string& file, const std::string& name) {
  if (count == 0) return;
  const int rank = row_elems == 0 ? 1 : 2;
  Id space = checked(H5Dget_space(ds), H5Sclose, file, "cannot get the dataspace of " + name);
  const hsize_t offset[2] = {at, 0};
  const hsize_t block[2] = {count, row_elems};
  check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, block, nullptr), file,
        "cannot select rows of " + name);
  Id memory = checked(H5Screate_simple(rank, block, nullptr), H5Sclose, file, "cannot create a dataspace");
  check(H5Dread(ds, mem_type, memory.get(), space.get(), H5P_DEFAULT, out), file, "cannot read dataset " + name);
}

std::vector<int64_t> read_int_rows(hid_t ds, hsize_t at, hsize_t count, const std::string& file,
                                   const std::string& name) {
  std::vector<int64_t> out(count);
  read_dataset_rows(ds, H5T_NATIVE_INT64, at, count, 0, out.data(), file, name);
  return out;
}

// Reads `count` variable-length strings of a 1-D dataset from row `at`.
std::vector<std::string> read_string_rows(hid_t ds, hid_t string_type, hsize_t at, hsize_t count,
                                          const std::string& file, const std::string& name) {
  std::vector<std::string> out;
  if (count == 0) return out;
  std::vector<char*> raw(count, nullptr);
  read_dataset_rows(ds, string_type, at, count, 0, raw.data(), file, name);
  out.reserve(count);
  for (char* s : raw) out.emplace_back(s != nullptr ? s : "");
  Id memory = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, file, "cannot create a dataspace");
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(string_type, memory.get(), H5P_DEFAULT, raw.data());
#else
  H5Dvlen_reclaim(string_type, memory.get(), H5P_DEFAULT, raw.data());
#endif
  return out;
}

// The deflate level of a dataset (0 when it has no deflate filter).
int deflate_level(hid_t ds, const std::string& file, const std::string& name) {
  Id dcpl = checked(H5Dget_create_plist(ds), H5Pclose, file, "cannot read the filters of " + name);
  unsigned flags = 0;
  size_t nelmts = 1;
  unsigned level = 0;
  if (H5Pget_filter_by_id2(dcpl.get(), H5Z_FILTER_DEFLATE, &flags, &nelmts, &level, 0, nullptr, nullptr) < 0) {
    H5Eclear2(H5E_DEFAULT);  // no deflate filter
    return 0;
  }
  return nelmts >= 1 ? static_cast<int>(level) : 0;
}

}  // namespace

// A (rows, dim) dataset written one whole chunk at a time, with the committed rows of its
// unfinished last chunk kept in one of two fixed staging datasets. A commit that stays inside the
// chunk appends to the current slot past the committed positions; one that completes the chunk
// writes whole chunks and puts the rest in the other slot. Either way nothing a commit refers to is
// overwritten before the next commit.
struct Matrix {
  std::string name;  // "embeddings" or "token_embeddings"
  Id main;
  Id staging[2];
  hsize_t chunk = 1;          // rows per chunk
  std::vector<uint8_t> tail;  // the committed rows past the last whole chunk, as stored
  int slot = 0;               // the staging dataset holding `tail`
  int64_t rows = 0;           // committed rows

  std::string staging_name(int i) const { return std::string(kStagingGroup) + "/" + name + "_" + std::to_string(i); }
};

struct EmbeddingWriter::Impl {
  std::string path;
  std::string partial;
  EmbeddingWriterOptions options;
  Id file;
  Matrix embeddings, token_embeddings;
  Id names, source, start, end, record_index, token_offsets;
  Id value_type;   // float32 or the float16 type: file and memory type of the embeddings
  Id string_type;  // variable-length UTF-8
  int64_t rows = 0;
  int64_t tokens = 0;
  int64_t last_record = -1;  // record_index of the last committed row
  bool failed = false;       // a write stopped half-way: no further writes

  hsize_t chunk_rows() const {
    if (options.chunk_rows > 0) return static_cast<hsize_t>(options.chunk_rows);
    return static_cast<hsize_t>(std::max<int64_t>(1, kMatrixChunkBytes / static_cast<int64_t>(row_bytes())));
  }
  size_t value_bytes() const { return options.dtype == EmbeddingDtype::Float16 ? 2 : 4; }
  size_t row_bytes() const { return static_cast<size_t>(options.dim) * value_bytes(); }
  hsize_t dim() const { return static_cast<hsize_t>(options.dim); }

  // Chunk creation properties: chunked (required for extendable datasets), shuffle + deflate when
  // `compress`.
  Id creation(int rank, const hsize_t* chunk_shape, bool compress) const {
    Id dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, partial, "cannot create dataset properties");
    check(H5Pset_chunk(dcpl.get(), rank, chunk_shape), partial, "cannot set the chunk shape");
    if (compress && options.gzip_level > 0) {
      check(H5Pset_shuffle(dcpl.get()), partial, "cannot enable the shuffle filter");
      check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzip_level)), partial, "cannot enable gzip");
    }
    return dcpl;
  }

  // Access properties: a chunk cache holding a few whole chunks.
  Id access(size_t chunk_bytes) const {
    Id dapl = checked(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, partial, "cannot create dataset access properties");
    const size_t bytes = std::max<size_t>(size_t{1} << 20, 4 * chunk_bytes);
    check(H5Pset_chunk_cache(dapl.get(), 521, bytes, H5D_CHUNK_CACHE_W0_DEFAULT), partial,
          "cannot size the chunk cache");
    return dapl;
  }

  // The two staging datasets: contiguous storage, allocated once and overwritten in place.
  void create_staging(Matrix& m) {
    Id lcpl = checked(H5Pcreate(H5P_LINK_CREATE), H5Pclose, partial, "cannot create link properties");
    check(H5Pset_create_intermediate_group(lcpl.get(), 1), partial, "cannot set link properties");
    const hsize_t dims[2] = {m.chunk, dim()};
    Id space = checked(H5Screate_simple(2, dims, nullptr), H5Sclose, partial, "cannot create a dataspace");
    for (int i = 0; i < 2; ++i)
      m.staging[i] = checked(H5Dcreate2(file.get(), m.staging_name(i).c_str(), value_type.get(), space.get(),
                                        lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                             H5Dclose, partial, "cannot create dataset " + m.staging_name(i));
  }

  void create_matrix(Matrix& m, const char* name) {
    m.name = name;
    m.chunk = chunk_rows();
    const hsize_t dims[2] = {0, dim()};
    const hsize_t max[2] = {H5S_UNLIMITED, dim()};
    const hsize_t shape[2] = {m.chunk, dim()};
    Id space = checked(H5Screate_simple(2, dims, max), H5Sclose, partial, "cannot create a dataspace");
    Id dcpl = creation(2, shape, true);
    Id dapl = access(m.chunk * row_bytes());
    m.main = checked(H5Dcreate2(file.get(), name, value_type.get(), space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()),
                     H5Dclose, partial, std::string("cannot create dataset ") + name);
    create_staging(m);
  }

  Id create_vector(const char* name, hid_t type) {
    const hsize_t dims[1] = {0};
    const hsize_t max[1] = {H5S_UNLIMITED};
    Id space = checked(H5Screate_simple(1, dims, max), H5Sclose, partial, "cannot create a dataspace");
    // Uncompressed: the chunk that grows is rewritten in place at each commit (a compressed one
    // would move to the end of the file every time, see H5F_FSPACE_STRATEGY_NONE).
    Id dcpl = creation(1, &kVectorChunk, false);
    Id dapl = access(kVectorChunk * 16);
    return checked(H5Dcreate2(file.get(), name, type, space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()), H5Dclose,
                   partial, std::string("cannot create dataset ") + name);
  }

  Id open_dataset(const std::string& name, size_t chunk_bytes) {
    STRAND_CHECK_AT(ParseError, (Location{partial, -1, ""}), H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) > 0,
                    "not a complete strand embedding file: no dataset '", name, "'");
    Id dapl = access(chunk_bytes);
    return checked(H5Dopen2(file.get(), name.c_str(), dapl.get()), H5Dclose, partial, "cannot open dataset " + name);
  }

  void make_types() {
    value_type = options.dtype == EmbeddingDtype::Float16
                     ? half_type(partial)
                     : checked(H5Tcopy(H5T_IEEE_F32LE), H5Tclose, partial, "cannot copy the float type");
    string_type = utf8_vlen_string(partial);
  }

  // Sets a dataset's first axis to at + count (unless !extend) and writes `count` rows of
  // `row_elems` values at `at`.
  void write_rows(const Id& ds, const std::string& name, hid_t mem_type, const void* data, hsize_t at, hsize_t count,
                  hsize_t row_elems, int rank, bool extend = true) {
    if (count == 0 && !extend) return;
    const hsize_t size[2] = {at + count, row_elems};
    if (extend) check(H5Dset_extent(ds.get(), size), partial, "cannot extend dataset " + name);
    if (count == 0) return;
    Id space = checked(H5Dget_space(ds.get()), H5Sclose, partial, "cannot get the dataspace of " + name);
    const hsize_t offset[2] = {at, 0};
    const hsize_t block[2] = {count, row_elems};
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, block, nullptr), partial,
          "cannot select rows of " + name);
    Id memory = checked(H5Screate_simple(rank, block, nullptr), H5Sclose, partial, "cannot create a dataspace");
    check(H5Dwrite(ds.get(), mem_type, memory.get(), space.get(), H5P_DEFAULT, data), partial,
          "cannot write dataset " + name);
  }

  // Appends n rows (as stored) to a matrix; takes effect with the next commit.
  void append_matrix(Matrix& m, const uint8_t* data, int64_t n) {
    const size_t rb = row_bytes();
    const auto in_tail = static_cast<hsize_t>(m.tail.size() / rb);
    const auto count = static_cast<hsize_t>(n);
    if (in_tail + count < m.chunk) {
      write_rows(m.staging[m.slot], m.staging_name(m.slot), value_type.get(), data, in_tail, count, dim(), 2, false);
      m.tail.insert(m.tail.end(), data, data + count * rb);
    } else {
      const hsize_t whole = (in_tail + count) / m.chunk * m.chunk;  // rows completing chunks
      const hsize_t from_data = whole - in_tail;
      m.tail.insert(m.tail.end(), data, data + from_data * rb);
      write_rows(m.main, m.name, value_type.get(), m.tail.data(), static_cast<hsize_t>(m.rows) - in_tail, whole, dim(),
                 2);
      const int next = 1 - m.slot;
      write_rows(m.staging[next], m.staging_name(next), value_type.get(), data + from_data * rb, 0, count - from_data,
                 dim(), 2, false);
      m.tail.assign(data + from_data * rb, data + count * rb);
      m.slot = next;
    }
    m.rows += n;
  }

  // Shrinks a dataset's first axis to `length` (the second, if any, keeps `dim`).
  void truncate(const Id& ds, const std::string& name, hsize_t length) {
    const hsize_t size[2] = {length, dim()};
    check(H5Dset_extent(ds.get(), size), partial, "cannot truncate dataset " + name);
  }

  // Keeps dirty metadata in memory until the next flush: an eviction between flushes would write
  // a chunk index that points at chunks not yet on disk.
  void hold_metadata() {
    H5AC_cache_config_t config;
    config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    check(H5Fget_mdc_config(file.get(), &config), partial, "cannot read the metadata cache settings");
    config.evictions_enabled = false;
    config.incr_mode = H5C_incr__off;
    config.flash_incr_mode = H5C_flash_incr__off;
    config.decr_mode = H5C_decr__off;
    check(H5Fset_mdc_config(file.get(), &config), partial, "cannot configure the metadata cache");
  }

  void flush() { check(H5Fflush(file.get(), H5F_SCOPE_LOCAL), partial, "cannot flush"); }

  // Makes the rows written since the last commit count: the data reaches the file first, then
  // the one attribute that names the committed state ("commit": rows, token rows and the two
  // staging slots, in one object-header message, so it changes as a whole).
  void commit() {
    flush();
    const int64_t state[4] = {embeddings.rows, token_embeddings.rows, embeddings.slot, token_embeddings.slot};
    write_int_array_attribute(file.get(), kCommit, state, 4, partial);
    write_int_attribute(file.get(), "committed_rows", embeddings.rows, partial);
    write_int_attribute(file.get(), "committed_tokens", token_embeddings.rows, partial);
    flush();
    rows = embeddings.rows;
    tokens = token_embeddings.rows;
  }

  // Closes every identifier, the file last. False when HDF5 reported a failure.
  bool close_all() {
    bool ok = true;
    for (Id* id : {&embeddings.main, &embeddings.staging[0], &embeddings.staging[1], &token_embeddings.main,
                   &token_embeddings.staging[0], &token_embeddings.staging[1], &names, &source, &start, &end,
                   &record_index, &token_offsets, &value_type, &string_type})
      ok &= id->close();
    ok &= file.close();
    return ok;
  }

  std::vector<std::string> read_strings(const Id& ds, const std::string& name, hsize_t at, hsize_t count) {
    return read_string_rows(ds.get(), string_type.get(), at, count, partial, name);
  }

  // Reads rows [at, at + count) of a (rows, dim) dataset as stored.
  std::vector<uint8_t> read_matrix_rows(const Id& ds, const std::string& name, hsize_t at, hsize_t count) {
    std::vector<uint8_t> out(count * row_bytes());
    read_dataset_rows(ds.get(), value_type.get(), at, count, dim(), out.data(), partial, name);
    return out;
  }

  std::vector<int64_t> read_ints(const Id& ds, const std::string& name, hsize_t count) {
    return read_int_rows(ds.get(), 0, count, partial, name);
  }

  // Resume: reopens a matrix holding `committed` rows with its tail in staging slot `slot`,
  // dropping whole chunks past the committed rows.
  void reopen_matrix(Matrix& m, const char* name, int64_t committed, int slot, const Location& where) {
    m.name = name;
    m.main = open_dataset(name, 1 << 20);
    {
      Id type = checked(H5Dget_type(m.main.get()), H5Tclose, partial, std::string("cannot read the type of ") + name);
      STRAND_CHECK_AT(ParseError, where,
                      H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_size(type.get()) == value_bytes(), "dataset ",
                      name, " does not hold ", dtype_name(options.dtype), " values");
      Id dcpl = checked(H5Dget_create_plist(m.main.get()), H5Pclose, partial, "cannot read the chunk shape");
      hsize_t shape[2] = {0, 0};
      STRAND_CHECK_AT(ParseError, where, H5Pget_chunk(dcpl.get(), 2, shape) == 2 && shape[0] > 0, "dataset ", name,
                      " is not chunked by rows");
      m.chunk = shape[0];  // the file's chunking wins over options.chunk_rows
    }
    STRAND_CHECK_AT(ParseError, where, slot == 0 || slot == 1, "bad staging slot ", slot, " in attribute ", kCommit);
    m.rows = committed;
    m.slot = slot;
    const auto n = static_cast<hsize_t>(committed);
    const hsize_t whole = n - n % m.chunk;
    const hsize_t have = length_of(m.main.get(), partial, name);
    STRAND_CHECK_AT(ParseError, where, have >= whole, "dataset ", name, " has ", have, " rows, fewer than the ", whole,
                    " committed in whole chunks (damaged file)");
    const bool staged = H5Lexists(file.get(), kStagingGroup, H5P_DEFAULT) > 0 &&
                        H5Lexists(file.get(), m.staging_name(0).c_str(), H5P_DEFAULT) > 0 &&
                        H5Lexists(file.get(), m.staging_name(1).c_str(), H5P_DEFAULT) > 0;
    if (staged) {
      for (int i = 0; i < 2; ++i) m.staging[i] = open_dataset(m.staging_name(i), 0);
      m.tail = read_matrix_rows(m.staging[slot], m.staging_name(slot), 0, n - whole);
    } else {
      // finish() was interrupted after moving the tail into the main dataset.
      STRAND_CHECK_AT(ParseError, where, have >= n, "the staging rows of ", name, " are missing (damaged file)");
      m.tail = read_matrix_rows(m.main, name, whole, n - whole);
      create_staging(m);
      write_rows(m.staging[slot], m.staging_name(slot), value_type.get(), m.tail.data(), 0, n - whole, dim(), 2, false);
    }
    if (have != whole) truncate(m.main, name, whole);  // whole chunks only: nothing is rewritten
  }

  // Resume: a string dataset's growing chunk may hold identifiers of strings written after the
  // last flush past its end; writing over them would make HDF5 free those strings. Dropping the
  // chunk and writing the committed strings again into a fresh one avoids that.
  void reset_strings(const Id& ds, const std::string& name, int64_t committed) {
    const auto n = static_cast<hsize_t>(committed);
    const hsize_t whole = n - n % kVectorChunk;
    const std::vector<std::string> kept = read_strings(ds, name, whole, n - whole);
    truncate(ds, name, whole);
    std::vector<const char*> ptrs;
    for (const auto& k : kept) ptrs.push_back(k.c_str());
    write_rows(ds, name, string_type.get(), ptrs.data(), whole, n - whole, 1, 1);
  }
};

namespace {

void check_options(const EmbeddingWriterOptions& o) {
  if (o.dim <= 0) throw ConfigError("embedding writer: dim must be positive (got " + std::to_string(o.dim) + ")");
  if (o.chunk_rows < 0) throw ConfigError("embedding writer: chunk_rows must not be negative");
  if (o.gzip_level < 0 || o.gzip_level > 9)
    throw ConfigError("embedding writer: gzip level must lie in 0..9 (got " + std::to_string(o.gzip_level) + ")");
  for (const char* reserved :
       {"format", "format_version", "dim", "dtype", "store_tokens", "committed_rows", "committed_tokens", kCommit})
    if (o.attributes.count(reserved) != 0)
      throw ConfigError(std::string("embedding writer: attribute '") + reserved + "' is written by the writer itself");
}

// The embeddings of a batch as a contiguous CPU tensor in the file's dtype.
at::Tensor to_file_dtype(const at::Tensor& values, EmbeddingDtype dtype, const std::string& what) {
  const at::Tensor cpu = values.detach().cpu();
  if (dtype == EmbeddingDtype::Float32) return cpu.to(at::kFloat).contiguous();
  // Straight from the input dtype: double -> float -> half could round twice.
  at::Tensor half = cpu.to(at::kHalf).contiguous();
  STRAND_CHECK(!half.isinf().logical_and(cpu.isfinite()).any().item<bool>(), "embedding writer: ", what,
               " holds finite values beyond the float16 range (|x| > 65504); write float32 instead");
  return half;
}

void check_matrix(const at::Tensor& t, int64_t rows, int64_t dim, const char* what) {
  if (!t.defined() || t.dim() != 2 || t.size(0) != rows || t.size(1) != dim || !c10::isFloatingType(t.scalar_type()))
    throw ShapeError(
        std::string("embedding writer: ") + what + " must be a floating (" + std::to_string(rows) + ", " +
        std::to_string(dim) + ") tensor, got " +
        (t.defined() ? std::string(c10::toString(t.scalar_type())) + " " + c10::str(t.sizes()) : std::string("none")));
}

}  // namespace

EmbeddingWriter::EmbeddingWriter() : impl_(std::make_unique<Impl>()) {}

EmbeddingWriter::~EmbeddingWriter() {
  if (!is_open()) return;
  const QuietErrors quiet;
  if (!impl_->close_all()) STRAND_LOG_WARN(impl_->partial, ": closing the unfinished embedding file failed");
}

bool EmbeddingWriter::is_open() const noexcept { return impl_->file.valid(); }
int64_t EmbeddingWriter::rows() const noexcept { return impl_->rows; }
int64_t EmbeddingWriter::tokens() const noexcept { return impl_->tokens; }
const std::string& EmbeddingWriter::path() const noexcept { return impl_->path; }

void EmbeddingWriter::open(const std::string& path, const EmbeddingWriterOptions& options) {
  STRAND_CHECK(!is_open(), "embedding writer: already open on ", impl_->path);
  check_options(options);
  const QuietErrors quiet;
  auto impl = std::make_unique<Impl>();
  Impl& w = *impl;
  w.path = path;
  w.partial = partial_path(path);
  w.options = options;
  // Built under a third name and renamed to PATH.partial after its first commit, so that a
  // PATH.partial always holds a committed state (a kill during creation leaves only PATH.partial.new).
  const std::string fresh = w.partial + ".new";
  {
    Id fcpl = checked(H5Pcreate(H5P_FILE_CREATE), H5Pclose, w.partial, "cannot create file properties");
    check(H5Pset_file_space_strategy(fcpl.get(), H5F_FSPACE_STRATEGY_NONE, 0, 1), w.partial,
          "cannot set the file space strategy");
    w.file = checked(H5Fcreate(fresh.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose, fresh,
                     "cannot create the file");
  }
  try {
    w.hold_metadata();
    w.make_types();
    const hid_t root = w.file.get();
    write_string_attribute(root, "format", kFormat, w.partial);
    write_int_attribute(root, "format_version", kFormatVersion, w.partial);
    write_int_attribute(root, "dim", options.dim, w.partial);
    write_string_attribute(root, "dtype", dtype_name(options.dtype), w.partial);
    write_int_attribute(root, "store_tokens", options.store_tokens ? 1 : 0, w.partial);
    for (const auto& [key, value] : options.attributes) write_string_attribute(root, key, value, w.partial);

    w.create_matrix(w.embeddings, "embeddings");
    w.names = w.create_vector("names", w.string_type.get());
    w.source = w.create_vector("source", w.string_type.get());
    w.start = w.create_vector("start", H5T_STD_I64LE);
    w.end = w.create_vector("end", H5T_STD_I64LE);
    w.record_index = w.create_vector("record_index", H5T_STD_I64LE);
    if (options.store_tokens) {
      w.create_matrix(w.token_embeddings, "token_embeddings");
      w.token_offsets = w.create_vector("token_offsets", H5T_STD_I64LE);
      const int64_t zero = 0;
      w.write_rows(w.token_offsets, "token_offsets", H5T_NATIVE_INT64, &zero, 0, 1, 1, 1);
    }
    w.commit();
  } catch (...) {
    impl.reset();  // closes the file
    std::remove(fresh.c_str());
    throw;
  }
  // The open file follows the rename (HDF5 keeps its descriptor).
  if (std::rename(fresh.c_str(), w.partial.c_str()) != 0) throw_errno("cannot rename " + fresh + " to", w.partial);
  impl_ = std::move(impl);
}

ResumeInfo EmbeddingWriter::open_resume(const std::string& path, const EmbeddingWriterOptions& options) {
  STRAND_CHECK(!is_open(), "embedding writer: already open on ", impl_->path);
  check_options(options);
  const QuietErrors quiet;
  auto impl = std::make_unique<Impl>();
  Impl& w = *impl;
  w.path = path;
  w.partial = partial_path(path);
  w.options = options;
  std::error_code ec;
  if (!std::filesystem::exists(w.partial, ec))
    throw IoError("cannot resume '" + path + "': no unfinished output " + w.partial +
                  (std::filesystem::exists(path, ec) ? " (the output is already complete)" : ""));
  const Location where{w.partial, -1, ""};
  if (H5Fis_hdf5(w.partial.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw ParseError(where, "not an HDF5 file (damaged by an interrupted write?)");
  }
  const hid_t fid = H5Fopen(w.partial.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (fid < 0)
    throw ParseError(where, "cannot open the unfinished HDF5 file (damaged by an interrupted write?): " + hdf5_error());
  w.file = Id(fid, H5Fclose);
  const hid_t root = fid;
  ResumeInfo info;
  // HDF5 failures while reading back or truncating mean a damaged file, not a failing disk.
  try {
    w.hold_metadata();
    STRAND_CHECK_AT(ParseError, where, read_string_attribute(root, "format", w.partial) == kFormat,
                    "not a strand embedding file (attribute format is not '", kFormat, "')");
    const int64_t version = read_int_attribute(root, "format_version", w.partial);
    STRAND_CHECK_AT(ParseError, where, version == kFormatVersion, "format_version ", version,
                    " is not supported (this build reads and writes ", kFormatVersion,
                    "): remove the file and start again");
    const auto mismatch = [&](const std::string& what, const std::string& file_value, const std::string& wanted) {
      throw ConfigError(format_location(where, "cannot resume: the file was written with " + what + " = '" +
                                                   file_value + "', this run has '" + wanted + "'"));
    };
    const int64_t dim = read_int_attribute(root, "dim", w.partial);
    if (dim != options.dim) mismatch("dim", std::to_string(dim), std::to_string(options.dim));
    const std::string dtype = read_string_attribute(root, "dtype", w.partial);
    if (dtype != dtype_name(options.dtype)) mismatch("dtype", dtype, dtype_name(options.dtype));
    const bool store_tokens = read_int_attribute(root, "store_tokens", w.partial) != 0;
    if (store_tokens != options.store_tokens)
      mismatch("store_tokens", store_tokens ? "true" : "false", options.store_tokens ? "true" : "false");
    for (const char* key : kChecked) {
      const std::string have = has_attribute(root, key) ? read_string_attribute(root, key, w.partial) : "";
      const auto it = options.attributes.find(key);
      const std::string want = it != options.attributes.end() ? it->second : "";
      if (have != want) mismatch(key, have, want);
    }
    for (const auto& [key, value] : options.attributes) {
      if (std::find(std::begin(kChecked), std::end(kChecked), key) != std::end(kChecked)) continue;
      if (!has_attribute(root, key)) {
        write_string_attribute(root, key, value, w.partial);
        continue;
      }
      const std::string have = read_string_attribute(root, key, w.partial);
      if (have != value)
        STRAND_LOG_WARN(w.partial, ": resuming; attribute ", key, " keeps the first run's value '", have,
                        "' (this run: '", value, "')");
    }
    const std::vector<int64_t> state = read_int_array_attribute(root, kCommit, 4, w.partial);
    const int64_t rows = state[0], tokens = state[1];
    STRAND_CHECK_AT(ParseError, where, rows >= 0 && tokens >= 0 && (store_tokens || tokens == 0),
                    "bad committed counts in attribute ", kCommit);

    w.make_types();
    w.reopen_matrix(w.embeddings, "embeddings", rows, static_cast<int>(state[2]), where);
    if (store_tokens)
      w.reopen_matrix(w.token_embeddings, "token_embeddings", tokens, static_cast<int>(state[3]), where);
    w.names = w.open_dataset("names", kVectorChunk * 16);
    w.source = w.open_dataset("source", kVectorChunk * 16);
    w.start = w.open_dataset("start", kVectorChunk * 8);
    w.end = w.open_dataset("end", kVectorChunk * 8);
    w.record_index = w.open_dataset("record_index", kVectorChunk * 8);
    if (store_tokens) w.token_offsets = w.open_dataset("token_offsets", kVectorChunk * 8);

    // Every 1-D dataset holds at least the committed rows; anything past them is rolled back.
    const auto urows = static_cast<hsize_t>(rows);
    struct Part {
      const Id* ds;
      const char* name;
      hsize_t committed;
    };
    std::vector<Part> parts = {
        {&w.names, "names", urows},         {&w.source, "source", urows}, {&w.start, "start", urows},
        {&w.end, "end", urows},             {&w.record_index, "record_index", urows}};
    if (store_tokens) parts.push_back({&w.token_offsets, "token_offsets", urows + 1});
    for (const Part& p : parts) {
      const hsize_t length = length_of(p.ds->get(), w.partial, p.name);
      STRAND_CHECK_AT(ParseError, where, length >= p.committed, "dataset ", p.name, " has ", length,
                      " rows, fewer than the ", p.committed, " committed (damaged file)");
      if (p.ds == &w.names) info.rolled_back_rows = static_cast<int64_t>(length - p.committed);
      if (length != p.committed) w.truncate(*p.ds, p.name, p.committed);
    }
    w.reset_strings(w.names, "names", rows);
    w.reset_strings(w.source, "source", rows);
    if (store_tokens) {
      const std::vector<int64_t> offsets = w.read_ints(w.token_offsets, "token_offsets", urows + 1);
      STRAND_CHECK_AT(ParseError, where, offsets.front() == 0 && offsets.back() == tokens,
                      "token_offsets do not match the committed token rows (damaged file)");
    }
    info.rows = rows;
    info.tokens = tokens;
    info.names = w.read_strings(w.names, "names", 0, urows);
    info.start = w.read_ints(w.start, "start", urows);
    info.end = w.read_ints(w.end, "end", urows);
    info.record_index = w.read_ints(w.record_index, "record_index", urows);
    for (size_t i = 0; i < info.record_index.size(); ++i)
      STRAND_CHECK_AT(ParseError, where, info.record_index[i] >= (i == 0 ? 0 : info.record_index[i - 1]),
                      "record_index decreases at row ", i + 1, " (damaged file)");
    if (rows > 0) w.last_record = info.record_index.back();
    w.commit();
  } catch (const IoError& e) {
    throw ParseError(where, std::string("cannot read back the unfinished file, which an interrupted run left damaged; "
                                        "remove it and start again (") +
                                e.what() + ")");
  }
  if (info.rolled_back_rows > 0)
    STRAND_LOG_INFO(w.partial, ": rolled back ", info.rolled_back_rows, " uncommitted rows of an interrupted run");
  impl_ = std::move(impl);
  return info;
}

void EmbeddingWriter::append(const EmbeddingBatch& batch) {
  STRAND_CHECK(is_open(), "embedding writer: append() on a writer that is not open");
  Impl& w = *impl_;
  STRAND_CHECK(!w.failed, "embedding writer: an earlier write to ", w.partial,
               " failed; open_resume() continues from its last commit");
  const auto n = static_cast<int64_t>(batch.names.size());
  const auto size_error = [&](const char* what, size_t got) {
    throw ShapeError("embedding writer: " + std::string(what) + " has " + std::to_string(got) + " entries for " +
                     std::to_string(n) + " rows");
  };
  if (!batch.sources.empty() && static_cast<int64_t>(batch.sources.size()) != n)
    size_error("sources", batch.sources.size());
  if (static_cast<int64_t>(batch.start.size()) != n) size_error("start", batch.start.size());
  if (static_cast<int64_t>(batch.end.size()) != n) size_error("end", batch.end.size());
  if (!batch.record_index.empty() && static_cast<int64_t>(batch.record_index.size()) != n)
    size_error("record_index", batch.record_index.size());
  if (n == 0) return;
  check_matrix(batch.embeddings, n, w.options.dim, "embeddings");
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    STRAND_CHECK(0 <= batch.start[k] && batch.start[k] <= batch.end[k], "embedding writer: row '", batch.names[k],
                 "' has start ", batch.start[k], " and end ", batch.end[k]);
  }
  std::vector<int64_t> record_index = batch.record_index;
  if (record_index.empty())
    for (int64_t i = 0; i < n; ++i) record_index.push_back(w.rows + i);
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    const int64_t previous = i == 0 ? w.last_record : record_index[k - 1];
    STRAND_CHECK(record_index[k] >= 0 && record_index[k] >= previous, "embedding writer: row '", batch.names[k],
                 "' has record_index ", record_index[k], " after ", previous,
                 " (record indices are non-negative and never decrease)");
  }
  int64_t t = 0;
  std::vector<int64_t> offsets;
  if (w.options.store_tokens) {
    if (static_cast<int64_t>(batch.token_counts.size()) != n) size_error("token_counts", batch.token_counts.size());
    offsets.reserve(static_cast<size_t>(n));
    for (const int64_t c : batch.token_counts) {
      STRAND_CHECK(c >= 0, "embedding writer: negative token count ", c);
      t += c;
      offsets.push_back(w.tokens + t);
    }
    check_matrix(batch.token_embeddings, t, w.options.dim, "token_embeddings");
  } else if (batch.token_embeddings.defined() || !batch.token_counts.empty()) {
    throw InputError("embedding writer: token embeddings given, but the file was opened without store_tokens");
  }
  const at::Tensor values = to_file_dtype(batch.embeddings, w.options.dtype, "embeddings");
  const at::Tensor token_values = w.options.store_tokens
                                      ? to_file_dtype(batch.token_embeddings, w.options.dtype, "token_embeddings")
                                      : at::Tensor();

  const QuietErrors quiet;
  // A write failing half-way leaves the in-memory state ahead of the file; PATH.partial resumes
  // from the last commit.
  w.failed = true;
  std::vector<const char*> names, sources;
  names.reserve(static_cast<size_t>(n));
  sources.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto& name = batch.names[static_cast<size_t>(i)];
    names.push_back(name.c_str());
    const bool own = batch.sources.empty() || batch.sources[static_cast<size_t>(i)].empty();
    sources.push_back(own ? name.c_str() : batch.sources[static_cast<size_t>(i)].c_str());
  }
  const auto at = static_cast<hsize_t>(w.rows);
  const auto count = static_cast<hsize_t>(n);
  w.write_rows(w.names, "names", w.string_type.get(), names.data(), at, count, 1, 1);
  w.write_rows(w.source, "source", w.string_type.get(), sources.data(), at, count, 1, 1);
  w.write_rows(w.start, "start", H5T_NATIVE_INT64, batch.start.data(), at, count, 1, 1);
  w.write_rows(w.end, "end", H5T_NATIVE_INT64, batch.end.data(), at, count, 1, 1);
  w.write_rows(w.record_index, "record_index", H5T_NATIVE_INT64, record_index.data(), at, count, 1, 1);
  w.append_matrix(w.embeddings, static_cast<const uint8_t*>(values.data_ptr()), n);
  if (w.options.store_tokens) {
    if (t > 0) w.append_matrix(w.token_embeddings, static_cast<const uint8_t*>(token_values.data_ptr()), t);
    w.write_rows(w.token_offsets, "token_offsets", H5T_NATIVE_INT64, offsets.data(), at + 1, count, 1, 1);
  }
  w.commit();
  w.last_record = record_index.back();
  w.failed = false;
}

void EmbeddingWriter::set_attribute(const std::string& name, const std::string& value) {
  STRAND_CHECK(is_open(), "embedding writer: set_attribute() on a writer that is not open");
  Impl& w = *impl_;
  STRAND_CHECK(!w.failed, "embedding writer: an earlier write to ", w.partial,
               " failed; open_resume() continues from its last commit");
  EmbeddingWriterOptions probe;
  probe.dim = 1;
  probe.attributes[name] = value;
  check_options(probe);  // ConfigError for the writer's own attributes
  const QuietErrors quiet;
  write_string_attribute(w.file.get(), name, value, w.partial);
}

void EmbeddingWriter::finish() {
  STRAND_CHECK(is_open(), "embedding writer: finish() on a writer that is not open");
  Impl& w = *impl_;
  STRAND_CHECK(!w.failed, "embedding writer: an earlier write to ", w.partial,
               " failed; open_resume() continues from its last commit");
  {
    const QuietErrors quiet;
    // The unfinished last chunks move from the staging rows into their datasets (compressed once);
    // then the staging rows go. Resuming after a kill in between finds the rows in the datasets.
    for (Matrix* m : {&w.embeddings, &w.token_embeddings}) {
      if (!m->main.valid()) continue;
      const hsize_t in_tail = m->tail.size() / w.row_bytes();
      w.write_rows(m->main, m->name, w.value_type.get(), m->tail.data(), static_cast<hsize_t>(m->rows) - in_tail,
                   in_tail, w.dim(), 2);
      for (Id& staging : m->staging) staging.close();
    }
    w.flush();
    check(H5Ldelete(w.file.get(), kStagingGroup, H5P_DEFAULT), w.partial, "cannot remove the staging rows");
    w.flush();
    // Without staging rows the slots mean nothing (a resume after a kill here finds the tail in the
    // datasets whatever they say); zero them so the finished file does not depend on the appends.
    w.embeddings.slot = 0;
    w.token_embeddings.slot = 0;
    w.commit();
    if (!w.close_all()) fail(w.partial, "cannot close the file");
  }
  // The bytes reach the disk before the rename makes the file visible under its final name.
  const int fd = ::open(w.partial.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open", w.partial);
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  if (!synced) {
    errno = sync_errno;
    throw_errno("cannot fsync", w.partial);
  }
  if (std::rename(w.partial.c_str(), w.path.c_str()) != 0) throw_errno("cannot rename " + w.partial + " to", w.path);
  std::filesystem::path dir = std::filesystem::path(w.path).parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on directories
    ::close(dfd);
  }
}

// --- EmbeddingReader ---------------------------------------------------------------------------

struct EmbeddingReader::Impl {
  std::string path;
  EmbeddingFileInfo info;
  Id file;
  Id embeddings, token_embeddings, names, source, start, end, record_index, token_offsets;
  Id value_type, string_type;

  // Opens a dataset with a chunk cache of two chunks: reads go forward in blocks, so only a chunk
  // straddling two blocks is needed twice, and a merge of many files keeps its memory small.
  Id open_dataset(const std::string& name) {
    STRAND_CHECK_AT(ParseError, (Location{path, -1, ""}), H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) > 0,
                    "not a complete strand embedding file: no dataset '", name, "'");
    Id ds = checked(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), H5Dclose, path, "cannot open dataset " + name);
    size_t chunk_bytes = 0;
    {
      Id dcpl = checked(H5Dget_create_plist(ds.get()), H5Pclose, path, "cannot read the layout of " + name);
      Id type = checked(H5Dget_type(ds.get()), H5Tclose, path, "cannot read the type of " + name);
      hsize_t shape[2] = {0, 0};
      const int rank = H5Pget_layout(dcpl.get()) == H5D_CHUNKED ? H5Pget_chunk(dcpl.get(), 2, shape) : 0;
      if (rank >= 1) chunk_bytes = static_cast<size_t>(shape[0] * (rank == 2 ? shape[1] : 1)) * H5Tget_size(type.get());
    }
    if (chunk_bytes == 0) return ds;
    Id dapl = checked(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, path, "cannot create dataset access properties");
    check(H5Pset_chunk_cache(dapl.get(), 521, std::max<size_t>(2 * chunk_bytes + 1024, size_t{1} << 16),
                             H5D_CHUNK_CACHE_W0_DEFAULT),
          path, "cannot size the chunk cache");
    ds.close();
    return checked(H5Dopen2(file.get(), name.c_str(), dapl.get()), H5Dclose, path, "cannot open dataset " + name);
  }

  void check_range(int64_t begin, int64_t count, int64_t size, const char* what) const {
    STRAND_CHECK(begin >= 0 && count >= 0 && begin <= size && count <= size - begin, path, ": ", what, " [", begin,
                 ", ", begin + count, ") are outside the file's ", size);
  }
};

EmbeddingReader::EmbeddingReader() : impl_(std::make_unique<Impl>()) {}
EmbeddingReader::~EmbeddingReader() { close(); }
bool EmbeddingReader::is_open() const noexcept { return impl_->file.valid(); }
const std::string& EmbeddingReader::path() const noexcept { return impl_->path; }

const EmbeddingFileInfo& EmbeddingReader::info() const {
  STRAND_CHECK(is_open(), "embedding reader: info() on a reader that is not open");
  return impl_->info;
}

void EmbeddingReader::close() {
  if (!is_open()) return;
  const QuietErrors quiet;
  Impl& r = *impl_;
  for (Id* id : {&r.embeddings, &r.token_embeddings, &r.names, &r.source, &r.start, &r.end, &r.record_index,
                 &r.token_offsets, &r.value_type, &r.string_type})
    id->close();
  if (!r.file.close()) STRAND_LOG_WARN(r.path, ": closing the embedding file failed");
}

void EmbeddingReader::open(const std::string& path) {
  STRAND_CHECK(!is_open(), "embedding reader: already open on ", impl_->path);
  const QuietErrors quiet;
  auto impl = std::make_unique<Impl>();
  Impl& r = *impl;
  r.path = path;
  const Location where{path, -1, ""};
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    const bool partial = std::filesystem::exists(partial_path(path), ec);
    throw IoError(path + ": no such file" +
                  (partial ? " (" + partial_path(path) + " exists: the run that writes it has not finished)" : ""));
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw ParseError(where, "not an HDF5 file");
  }
  const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (fid < 0) throw IoError(path + ": cannot open the HDF5 file (" + hdf5_error() + ")");
  r.file = Id(fid, H5Fclose);
  EmbeddingFileInfo& info = r.info;
  STRAND_CHECK_AT(ParseError, where, read_string_attribute(fid, "format", path) == kFormat,
                  "not a strand embedding file (attribute format is not '", kFormat, "')");
  const int64_t version = read_int_attribute(fid, "format_version", path);
  STRAND_CHECK_AT(ParseError, where, version == kFormatVersion, "format_version ", version,
                  " is not supported (this build reads ", kFormatVersion,
                  version < kFormatVersion ? "; the file was written by an older strand without /record_index: "
                                             "embed the input again"
                                           : "",
                  ")");
  info.dim = read_int_attribute(fid, "dim", path);
  STRAND_CHECK_AT(ParseError, where, info.dim > 0, "attribute dim is ", info.dim);
  const std::string dtype = read_string_attribute(fid, "dtype", path);
  STRAND_CHECK_AT(ParseError, where, dtype == "float32" || dtype == "float16", "attribute dtype is '", dtype, "'");
  info.dtype = dtype == "float16" ? EmbeddingDtype::Float16 : EmbeddingDtype::Float32;
  info.store_tokens = read_int_attribute(fid, "store_tokens", path) != 0;
  STRAND_CHECK_AT(ParseError, where, H5Lexists(fid, kStagingGroup, H5P_DEFAULT) <= 0,
                  "unfinished embedding file (the writer's staging rows are still in it): a .partial file renamed "
                  "before its run finished?");
  const std::vector<int64_t> state = read_int_array_attribute(fid, kCommit, 4, path);
  info.rows = state[0];
  info.tokens = state[1];
  STRAND_CHECK_AT(ParseError, where, info.rows >= 0 && info.tokens >= 0 && (info.store_tokens || info.tokens == 0),
                  "bad committed counts in attribute ", kCommit);

  // Every string attribute, by name.
  std::vector<std::string> attribute_names;
  H5Aiterate2(
      fid, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &attribute_names);
  for (const auto& name : attribute_names) {
    if (name == "format" || name == "dtype") continue;
    Id attr = checked(H5Aopen(fid, name.c_str(), H5P_DEFAULT), H5Aclose, path, "cannot open attribute " + name);
    Id type = checked(H5Aget_type(attr.get()), H5Tclose, path, "cannot read the type of attribute " + name);
    if (H5Tget_class(type.get()) == H5T_STRING) info.attributes[name] = read_string_attribute(fid, name, path);
  }

  r.value_type = info.dtype == EmbeddingDtype::Float16
                     ? half_type(path)
                     : checked(H5Tcopy(H5T_IEEE_F32LE), H5Tclose, path, "cannot copy the float type");
  r.string_type = utf8_vlen_string(path);
  const auto matrix = [&](Id& ds, const char* name, int64_t rows) {
    ds = r.open_dataset(name);
    Id space = checked(H5Dget_space(ds.get()), H5Sclose, path, std::string("cannot read the shape of ") + name);
    hsize_t dims[2] = {0, 0};
    STRAND_CHECK_AT(ParseError, where,
                    H5Sget_simple_extent_ndims(space.get()) == 2 &&
                        H5Sget_simple_extent_dims(space.get(), dims, nullptr) == 2 &&
                        dims[0] == static_cast<hsize_t>(rows) && dims[1] == static_cast<hsize_t>(info.dim),
                    "dataset ", name, " is not (", rows, ", ", info.dim, ") as the attributes say (unfinished file?)");
    Id type = checked(H5Dget_type(ds.get()), H5Tclose, path, std::string("cannot read the type of ") + name);
    const size_t value_bytes = info.dtype == EmbeddingDtype::Float16 ? 2 : 4;
    STRAND_CHECK_AT(ParseError, where, H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_size(type.get()) == value_bytes,
                    "dataset ", name, " does not hold ", dtype, " values");
  };
  const auto column = [&](Id& ds, const char* name, int64_t rows) {
    ds = r.open_dataset(name);
    const hsize_t have = length_of(ds.get(), path, name);
    STRAND_CHECK_AT(ParseError, where, have == static_cast<hsize_t>(rows), "dataset ", name, " has ", have,
                    " rows, not the ", rows, " committed (unfinished file?)");
  };
  try {
    matrix(r.embeddings, "embeddings", info.rows);
    {
      Id dcpl = checked(H5Dget_create_plist(r.embeddings.get()), H5Pclose, path, "cannot read the chunk shape");
      hsize_t shape[2] = {0, 0};
      STRAND_CHECK_AT(ParseError, where, H5Pget_chunk(dcpl.get(), 2, shape) == 2 && shape[0] > 0,
                      "dataset embeddings is not chunked by rows");
      info.chunk_rows = static_cast<int64_t>(shape[0]);
      info.gzip_level = deflate_level(r.embeddings.get(), path, "embeddings");
    }
    column(r.names, "names", info.rows);
    column(r.source, "source", info.rows);
    column(r.start, "start", info.rows);
    column(r.end, "end", info.rows);
    column(r.record_index, "record_index", info.rows);
    if (info.store_tokens) {
      matrix(r.token_embeddings, "token_embeddings", info.tokens);
      column(r.token_offsets, "token_offsets", info.rows + 1);
    }
  } catch (const IoError& e) {
    throw ParseError(where, std::string("damaged embedding file (") + e.what() + ")");
  }
  impl_ = std::move(impl);
}

EmbeddingRows EmbeddingReader::read_rows(int64_t begin, int64_t count) {
  STRAND_CHECK(is_open(), "embedding reader: read_rows() on a reader that is not open");
  Impl& r = *impl_;
  r.check_range(begin, count, r.info.rows, "rows");
  const QuietErrors quiet;
  const auto at = static_cast<hsize_t>(begin), n = static_cast<hsize_t>(count);
  EmbeddingRows out;
  out.names = read_string_rows(r.names.get(), r.string_type.get(), at, n, r.path, "names");
  out.sources = read_string_rows(r.source.get(), r.string_type.get(), at, n, r.path, "source");
  out.start = read_int_rows(r.start.get(), at, n, r.path, "start");
  out.end = read_int_rows(r.end.get(), at, n, r.path, "end");
  out.record_index = read_int_rows(r.record_index.get(), at, n, r.path, "record_index");
  if (r.info.store_tokens) out.token_offsets = read_int_rows(r.token_offsets.get(), at, n + 1, r.path, "token_offsets");
  out.embeddings = at::empty({count, r.info.dim}, r.info.dtype == EmbeddingDtype::Float16 ? at::kHalf : at::kFloat);
  read_dataset_rows(r.embeddings.get(), r.value_type.get(), at, n, static_cast<hsize_t>(r.info.dim),
                    out.embeddings.data_ptr(), r.path, "embeddings");
  return out;
}

at::Tensor EmbeddingReader::read_tokens(int64_t begin, int64_t count) {
  STRAND_CHECK(is_open(), "embedding reader: read_tokens() on a reader that is not open");
  Impl& r = *impl_;
  STRAND_CHECK(r.info.store_tokens, r.path, ": the file holds no token embeddings");
  r.check_range(begin, count, r.info.tokens, "token rows");
  const QuietErrors quiet;
  at::Tensor out = at::empty({count, r.info.dim}, r.info.dtype == EmbeddingDtype::Float16 ? at::kHalf : at::kFloat);
  read_dataset_rows(r.token_embeddings.get(), r.value_type.get(), static_cast<hsize_t>(begin),
                    static_cast<hsize_t>(count), static_cast<hsize_t>(r.info.dim), out.data_ptr(), r.path,
                    "token_embeddings");
  return out;
}

}  // namespace strand::pipelines
