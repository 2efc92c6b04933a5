// EmbeddingWriter over the HDF5 C API: plain error codes map onto strand's typed exceptions without
// the C++ API's own exception hierarchy, and the C API is the one stable across HDF5 1.10-1.14.
#include "pipelines/embed_writer.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <numeric>

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
constexpr int64_t kFormatVersion = 1;
constexpr const char* kChecked[] = {"model", "layer", "pooling"};
constexpr const char* kStaging = ".staging/embeddings";  // removed by finish()
constexpr hsize_t kVectorChunk = 2048;  // elements per chunk of the 1-D datasets
// Bytes per automatic chunk of the (rows, dim) datasets: each append recompresses the chunk it
// ends in, so the chunk is kept small (HDF5 advises 10 KiB .. 1 MiB).
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
        if (n < 30 && e->desc != nullptr) s += std::string(s.empty() ? "" : "; ") + e->func_name + ": " + e->desc;
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

// Attribute readers for open_resume: a missing or mistyped attribute is a ParseError.
bool has_attribute(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& file) {
  const Location where{file, -1, ""};
  STRAND_CHECK_AT(ParseError, where, has_attribute(obj, name), "not a strand embedding file: no attribute '", name, "'");
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
  STRAND_CHECK_AT(ParseError, where, has_attribute(obj, name), "not a strand embedding file: no attribute '", name, "'");
  Id attr = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, file, "cannot open attribute " + name);
  Id type = checked(H5Aget_type(attr.get()), H5Tclose, file, "cannot read the type of attribute " + name);
  STRAND_CHECK_AT(ParseError, where, H5Tget_class(type.get()) == H5T_INTEGER, "attribute '", name,
                  "' is not an integer");
  int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), file, "cannot read attribute " + name);
  return value;
}

// The first-axis length of a dataset.
hsize_t length_of(hid_t dataset, const std::string& file, const std::string& name) {
  Id space = checked(H5Dget_space(dataset), H5Sclose, file, "cannot read the shape of " + name);
  hsize_t dims[2] = {0, 0};
  const int rank = H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (rank < 1) fail(file, "cannot read the shape of " + name);
  return dims[0];
}

}  // namespace

struct EmbeddingWriter::Impl {
  std::string path;
  std::string partial;
  EmbeddingWriterOptions options;
  Id file;
  Id embeddings, names, source, start, end, token_embeddings, token_offsets;
  Id staging;      // kStaging: the committed rows of the unfinished last chunk of "embeddings"
  Id value_type;   // float32 or the float16 type: file and memory type of the embeddings
  Id string_type;  // variable-length UTF-8
  int64_t rows = 0;
  int64_t tokens = 0;
  hsize_t chunk = 1;          // rows per chunk of "embeddings"
  std::vector<uint8_t> tail;  // the rows [rows - rows % chunk, rows) of "embeddings", as stored
  bool failed = false;        // an append stopped half-way: no further writes

  hsize_t chunk_rows() const {
    if (options.chunk_rows > 0) return static_cast<hsize_t>(options.chunk_rows);
    const int64_t row_bytes = options.dim * (options.dtype == EmbeddingDtype::Float16 ? 2 : 4);
    return static_cast<hsize_t>(std::max<int64_t>(1, kMatrixChunkBytes / row_bytes));
  }

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

  // Access properties: a chunk cache that holds a few whole chunks, so appends of a few rows to a
  // chunk do not re-read and re-compress it each time.
  Id access(size_t chunk_bytes) const {
    Id dapl = checked(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, partial, "cannot create dataset access properties");
    const size_t bytes = std::max<size_t>(size_t{1} << 20, 4 * chunk_bytes);
    check(H5Pset_chunk_cache(dapl.get(), 521, bytes, H5D_CHUNK_CACHE_W0_DEFAULT), partial, "cannot size the chunk cache");
    return dapl;
  }

  size_t value_bytes() const { return options.dtype == EmbeddingDtype::Float16 ? 2 : 4; }

  size_t row_bytes() const { return static_cast<size_t>(options.dim) * value_bytes(); }

  Id create_matrix(const char* name) {
    const hsize_t dims[2] = {0, static_cast<hsize_t>(options.dim)};
    const hsize_t max[2] = {H5S_UNLIMITED, static_cast<hsize_t>(options.dim)};
    const hsize_t shape[2] = {chunk, static_cast<hsize_t>(options.dim)};
    Id space = checked(H5Screate_simple(2, dims, max), H5Sclose, partial, "cannot create a dataspace");
    Id dcpl = creation(2, shape, true);
    Id dapl = access(shape[0] * row_bytes());
    return checked(H5Dcreate2(file.get(), name, value_type.get(), space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()),
                   H5Dclose, partial, std::string("cannot create dataset ") + name);
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

  // The staging rows: contiguous storage, allocated once and overwritten in place.
  void create_staging() {
    Id lcpl = checked(H5Pcreate(H5P_LINK_CREATE), H5Pclose, partial, "cannot create link properties");
    check(H5Pset_create_intermediate_group(lcpl.get(), 1), partial, "cannot set link properties");
    const hsize_t dims[2] = {chunk, static_cast<hsize_t>(options.dim)};
    Id space = checked(H5Screate_simple(2, dims, nullptr), H5Sclose, partial, "cannot create a dataspace");
    staging = checked(H5Dcreate2(file.get(), kStaging, value_type.get(), space.get(), lcpl.get(), H5P_DEFAULT,
                                 H5P_DEFAULT),
                      H5Dclose, partial, std::string("cannot create dataset ") + kStaging);
  }

  Id open_dataset(const char* name, size_t chunk_bytes) {
    STRAND_CHECK_AT(ParseError, (Location{partial, -1, ""}), H5Lexists(file.get(), name, H5P_DEFAULT) > 0,
                    "not a complete strand embedding file: no dataset '", name, "'");
    Id dapl = access(chunk_bytes);
    return checked(H5Dopen2(file.get(), name, dapl.get()), H5Dclose, partial, std::string("cannot open dataset ") + name);
  }

  void make_types() {
    value_type = options.dtype == EmbeddingDtype::Float16
                     ? half_type(partial)
                     : checked(H5Tcopy(H5T_IEEE_F32LE), H5Tclose, partial, "cannot copy the float type");
    string_type = utf8_vlen_string(partial);
  }

  // Sets a dataset's first axis to at + count (unless !extend) and writes `count` rows of
  // `row_elems` values at `at`.
  void write_rows(const Id& ds, const char* name, hid_t mem_type, const void* data, hsize_t at, hsize_t count,
                  hsize_t row_elems, int rank, bool extend = true) {
    const hsize_t size[2] = {at + count, row_elems};
    if (extend) check(H5Dset_extent(ds.get(), size), partial, std::string("cannot extend dataset ") + name);
    Id space = checked(H5Dget_space(ds.get()), H5Sclose, partial, std::string("cannot get the dataspace of ") + name);
    const hsize_t offset[2] = {at, 0};
    const hsize_t block[2] = {count, row_elems};
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, block, nullptr), partial,
          std::string("cannot select rows of ") + name);
    Id memory = checked(H5Screate_simple(rank, block, nullptr), H5Sclose, partial, "cannot create a dataspace");
    check(H5Dwrite(ds.get(), mem_type, memory.get(), space.get(), H5P_DEFAULT, data), partial,
          std::string("cannot write dataset ") + name);
  }

  // Shrinks a dataset's first axis to `length` (the second, if any, keeps `dim`).
  void truncate(const Id& ds, const char* name, hsize_t length) {
    const hsize_t size[2] = {length, static_cast<hsize_t>(options.dim)};
    check(H5Dset_extent(ds.get(), size), partial, std::string("cannot truncate dataset ") + name);
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

  void commit(int64_t new_rows, int64_t new_tokens) {
    flush();  // the rows reach the file before the counter that makes them count
    write_int_attribute(file.get(), "committed_rows", new_rows, partial);
    write_int_attribute(file.get(), "committed_tokens", new_tokens, partial);
    flush();
    rows = new_rows;
    tokens = new_tokens;
  }

  // Closes every identifier, the file last. False when HDF5 reported a failure.
  bool close_all() {
    bool ok = true;
    for (Id* id : {&embeddings, &names, &source, &start, &end, &token_embeddings, &token_offsets, &staging,
                   &value_type, &string_type})
      ok &= id->close();
    ok &= file.close();
    return ok;
  }

  // Reads `count` variable-length strings of a dataset.
  std::vector<std::string> read_strings(const Id& ds, const char* name, hsize_t count) {
    std::vector<char*> raw(count, nullptr);
    std::vector<std::string> out;
    if (count == 0) return out;
    Id space = checked(H5Dget_space(ds.get()), H5Sclose, partial, std::string("cannot get the dataspace of ") + name);
    const hsize_t offset[1] = {0};
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, &count, nullptr), partial,
          std::string("cannot select rows of ") + name);
    Id memory = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, partial, "cannot create a dataspace");
    check(H5Dread(ds.get(), string_type.get(), memory.get(), space.get(), H5P_DEFAULT, raw.data()), partial,
          std::string("cannot read dataset ") + name);
    out.reserve(count);
    for (char* s : raw) out.emplace_back(s != nullptr ? s : "");
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(string_type.get(), memory.get(), H5P_DEFAULT, raw.data());
#else
    H5Dvlen_reclaim(string_type.get(), memory.get(), H5P_DEFAULT, raw.data());
#endif
    return out;
  }

  // Reads rows [at, at + count) of a (rows, dim) dataset as stored.
  std::vector<uint8_t> read_matrix_rows(const Id& ds, const char* name, hsize_t at, hsize_t count) {
    std::vector<uint8_t> out(count * row_bytes());
    if (count == 0) return out;
    Id space = checked(H5Dget_space(ds.get()), H5Sclose, partial, std::string("cannot get the dataspace of ") + name);
    const hsize_t offset[2] = {at, 0};
    const hsize_t block[2] = {count, static_cast<hsize_t>(options.dim)};
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, block, nullptr), partial,
          std::string("cannot select rows of ") + name);
    Id memory = checked(H5Screate_simple(2, block, nullptr), H5Sclose, partial, "cannot create a dataspace");
    check(H5Dread(ds.get(), value_type.get(), memory.get(), space.get(), H5P_DEFAULT, out.data()), partial,
          std::string("cannot read dataset ") + name);
    return out;
  }

  std::vector<int64_t> read_ints(const Id& ds, const char* name, hsize_t count) {
    std::vector<int64_t> out(count);
    if (count == 0) return out;
    Id space = checked(H5Dget_space(ds.get()), H5Sclose, partial, std::string("cannot get the dataspace of ") + name);
    const hsize_t offset[1] = {0};
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, &count, nullptr), partial,
          std::string("cannot select rows of ") + name);
    Id memory = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, partial, "cannot create a dataspace");
    check(H5Dread(ds.get(), H5T_NATIVE_INT64, memory.get(), space.get(), H5P_DEFAULT, out.data()), partial,
          std::string("cannot read dataset ") + name);
    return out;
  }
};

namespace {

void check_options(const EmbeddingWriterOptions& o) {
  if (o.dim <= 0) throw ConfigError("embedding writer: dim must be positive (got " + std::to_string(o.dim) + ")");
  if (o.chunk_rows < 0) throw ConfigError("embedding writer: chunk_rows must not be negative");
  if (o.gzip_level < 0 || o.gzip_level > 9)
    throw ConfigError("embedding writer: gzip level must lie in 0..9 (got " + std::to_string(o.gzip_level) + ")");
  for (const char* reserved : {"format", "format_version", "dim", "dtype", "store_tokens", "committed_rows",
                               "committed_tokens"})
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
    throw ShapeError(std::string("embedding writer: ") + what + " must be a floating (" + std::to_string(rows) + ", " +
                     std::to_string(dim) + ") tensor, got " +
                     (t.defined() ? std::string(c10::toString(t.scalar_type())) + " " + c10::str(t.sizes())
                                  : std::string("none")));
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
  {
    Id fcpl = checked(H5Pcreate(H5P_FILE_CREATE), H5Pclose, w.partial, "cannot create file properties");
    check(H5Pset_file_space_strategy(fcpl.get(), H5F_FSPACE_STRATEGY_NONE, 0, 1), w.partial,
          "cannot set the file space strategy");
    w.file = checked(H5Fcreate(w.partial.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose, w.partial,
                     "cannot create the file");
  }
  w.hold_metadata();
  w.make_types();
  const hid_t root = w.file.get();
  write_string_attribute(root, "format", kFormat, w.partial);
  write_int_attribute(root, "format_version", kFormatVersion, w.partial);
  write_int_attribute(root, "dim", options.dim, w.partial);
  write_string_attribute(root, "dtype", dtype_name(options.dtype), w.partial);
  write_int_attribute(root, "store_tokens", options.store_tokens ? 1 : 0, w.partial);
  for (const auto& [key, value] : options.attributes) write_string_attribute(root, key, value, w.partial);

  w.chunk = w.chunk_rows();
  w.embeddings = w.create_matrix("embeddings");
  w.create_staging();
  w.names = w.create_vector("names", w.string_type.get());
  w.source = w.create_vector("source", w.string_type.get());
  w.start = w.create_vector("start", H5T_STD_I64LE);
  w.end = w.create_vector("end", H5T_STD_I64LE);
  if (options.store_tokens) {
    w.token_embeddings = w.create_matrix("token_embeddings");
    w.token_offsets = w.create_vector("token_offsets", H5T_STD_I64LE);
    const int64_t zero = 0;
    w.write_rows(w.token_offsets, "token_offsets", H5T_NATIVE_INT64, &zero, 0, 1, 1, 1);
  }
  w.commit(0, 0);
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
  if (H5Fis_hdf5(w.partial.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw ParseError(Location{w.partial, -1, ""}, "not an HDF5 file (damaged by an interrupted write?)");
  }
  const hid_t fid = H5Fopen(w.partial.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (fid < 0)
    throw ParseError(Location{w.partial, -1, ""},
                     "cannot open the unfinished HDF5 file (damaged by an interrupted write?): " + hdf5_error());
  w.file = Id(fid, H5Fclose);
  const hid_t root = fid;
  const Location where{w.partial, -1, ""};
  ResumeInfo info;
  // HDF5 failures while reading back or truncating mean a damaged file, not a failing disk.
  try {
    w.hold_metadata();

    STRAND_CHECK_AT(ParseError, where, read_string_attribute(root, "format", w.partial) == kFormat,
                    "not a strand embedding file (attribute format is not '", kFormat, "')");
    const int64_t version = read_int_attribute(root, "format_version", w.partial);
    STRAND_CHECK_AT(ParseError, where, version == kFormatVersion, "format_version ", version, " is not supported (this ",
                    "build writes ", kFormatVersion, ")");
    const auto mismatch = [&](const std::string& what, const std::string& file_value, const std::string& wanted) {
      throw ConfigError(format_location(where, "cannot resume: the file was written with " + what + " = '" + file_value +
                                                   "', this run has '" + wanted + "'"));
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
      const std::string have = has_attribute(root, key) ? read_string_attribute(root, key, w.partial) : "";
      if (have != value)
        STRAND_LOG_WARN(w.partial, ": resuming; attribute ", key, " keeps the first run's value '", have, "' (this run: '",
                        value, "')");
    }
    const int64_t rows = read_int_attribute(root, "committed_rows", w.partial);
    const int64_t tokens = read_int_attribute(root, "committed_tokens", w.partial);
    STRAND_CHECK_AT(ParseError, where, rows >= 0 && tokens >= 0, "negative committed counts");

    w.make_types();
    w.embeddings = w.open_dataset("embeddings", 1 << 20);
    {
      Id type = checked(H5Dget_type(w.embeddings.get()), H5Tclose, w.partial, "cannot read the embeddings type");
      STRAND_CHECK_AT(ParseError, where,
                      H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_size(type.get()) == w.value_bytes(),
                      "dataset embeddings does not hold ", dtype_name(options.dtype), " values");
      Id dcpl = checked(H5Dget_create_plist(w.embeddings.get()), H5Pclose, w.partial, "cannot read the chunk shape");
      hsize_t shape[2] = {0, 0};
      STRAND_CHECK_AT(ParseError, where, H5Pget_chunk(dcpl.get(), 2, shape) == 2 && shape[0] > 0,
                      "dataset embeddings is not chunked by rows");
      w.chunk = shape[0];  // the file's chunking wins over options.chunk_rows
    }
    w.names = w.open_dataset("names", kVectorChunk * 16);
    w.source = w.open_dataset("source", kVectorChunk * 16);
    w.start = w.open_dataset("start", kVectorChunk * 8);
    w.end = w.open_dataset("end", kVectorChunk * 8);
    if (store_tokens) {
      w.token_embeddings = w.open_dataset("token_embeddings", 1 << 20);
      w.token_offsets = w.open_dataset("token_offsets", kVectorChunk * 8);
    }

    // "embeddings" holds the committed rows up to the last whole chunk; the rest of them are in
    // the staging rows (or, when finish() was interrupted after removing those, still in
    // "embeddings"). Everything past the committed counts is rolled back.
    const auto urows = static_cast<hsize_t>(rows);
    const hsize_t whole = urows - urows % w.chunk;
    const hsize_t have = length_of(w.embeddings.get(), w.partial, "embeddings");
    STRAND_CHECK_AT(ParseError, where, have >= whole, "dataset embeddings has ", have, " rows, fewer than the ", whole,
                    " committed in whole chunks (damaged file)");
    if (H5Lexists(root, ".staging", H5P_DEFAULT) > 0 && H5Lexists(root, kStaging, H5P_DEFAULT) > 0) {
      w.staging = checked(H5Dopen2(root, kStaging, H5P_DEFAULT), H5Dclose, w.partial, "cannot open the staging rows");
      w.tail = w.read_matrix_rows(w.staging, kStaging, 0, urows - whole);
    } else {
      STRAND_CHECK_AT(ParseError, where, have >= urows, "the staging rows are missing (damaged file)");
      w.tail = w.read_matrix_rows(w.embeddings, "embeddings", whole, urows - whole);
      w.create_staging();
      w.write_rows(w.staging, kStaging, w.value_type.get(), w.tail.data(), 0, urows - whole,
                   static_cast<hsize_t>(dim), 2, false);
    }
    if (have != whole) w.truncate(w.embeddings, "embeddings", whole);  // whole chunks only: nothing is rewritten

    struct Part {
      const Id* ds;
      const char* name;
      hsize_t committed;
    };
    std::vector<Part> parts = {
        {&w.names, "names", urows}, {&w.source, "source", urows}, {&w.start, "start", urows}, {&w.end, "end", urows}};
    if (store_tokens) {
      parts.push_back({&w.token_embeddings, "token_embeddings", static_cast<hsize_t>(tokens)});
      parts.push_back({&w.token_offsets, "token_offsets", urows + 1});
    }
    for (const Part& p : parts) {
      const hsize_t length = length_of(p.ds->get(), w.partial, p.name);
      STRAND_CHECK_AT(ParseError, where, length >= p.committed, "dataset ", p.name, " has ", length,
                      " rows, fewer than the ", p.committed, " committed (damaged file)");
      if (p.ds == &w.names) info.rolled_back_rows = static_cast<int64_t>(length - p.committed);
      if (length != p.committed) w.truncate(*p.ds, p.name, p.committed);
    }
    if (store_tokens) {
      const std::vector<int64_t> offsets = w.read_ints(w.token_offsets, "token_offsets", urows + 1);
      STRAND_CHECK_AT(ParseError, where, offsets.front() == 0 && offsets.back() == tokens,
                      "token_offsets do not match committed_tokens (damaged file)");
      // The next append rewrites the chunk holding the last committed token row: it must decode.
      if (tokens > 0) w.read_matrix_rows(w.token_embeddings, "token_embeddings", static_cast<hsize_t>(tokens) - 1, 1);
    }
    info.rows = rows;
    info.tokens = tokens;
    info.names = w.read_strings(w.names, "names", urows);
    w.read_strings(w.source, "source", urows);
    info.start = w.read_ints(w.start, "start", urows);
    info.end = w.read_ints(w.end, "end", urows);
    w.rows = rows;
    w.tokens = tokens;
    w.flush();
  } catch (const IoError& e) {
    throw ParseError(where, std::string("cannot read back the unfinished file, which an interrupted run left damaged; "
                                        "remove it and start again (") + e.what() + ")");
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
  if (batch.sources.size() != 0 && static_cast<int64_t>(batch.sources.size()) != n)
    size_error("sources", batch.sources.size());
  if (static_cast<int64_t>(batch.start.size()) != n) size_error("start", batch.start.size());
  if (static_cast<int64_t>(batch.end.size()) != n) size_error("end", batch.end.size());
  if (n == 0) return;
  check_matrix(batch.embeddings, n, w.options.dim, "embeddings");
  for (int64_t i = 0; i < n; ++i)
    STRAND_CHECK(0 <= batch.start[static_cast<size_t>(i)] && batch.start[static_cast<size_t>(i)] <= batch.end[static_cast<size_t>(i)],
                 "embedding writer: row '", batch.names[static_cast<size_t>(i)], "' has start ",
                 batch.start[static_cast<size_t>(i)], " and end ", batch.end[static_cast<size_t>(i)]);
  int64_t total_tokens = 0;
  std::vector<int64_t> offsets;
  if (w.options.store_tokens) {
    if (static_cast<int64_t>(batch.token_counts.size()) != n) size_error("token_counts", batch.token_counts.size());
    offsets.reserve(static_cast<size_t>(n));
    for (const int64_t c : batch.token_counts) {
      STRAND_CHECK(c >= 0, "embedding writer: negative token count ", c);
      total_tokens += c;
      offsets.push_back(w.tokens + total_tokens);
    }
    check_matrix(batch.token_embeddings, total_tokens, w.options.dim, "token_embeddings");
  } else if (batch.token_embeddings.defined() || !batch.token_counts.empty()) {
    throw InputError("embedding writer: token embeddings given, but the file was opened without store_tokens");
  }
  const at::Tensor values = to_file_dtype(batch.embeddings, w.options.dtype, "embeddings");
  const at::Tensor token_values =
      w.options.store_tokens ? to_file_dtype(batch.token_embeddings, w.options.dtype, "token_embeddings") : at::Tensor();

  const QuietErrors quiet;
  // A failed write leaves the in-memory state behind the file's; PATH.partial resumes from the
  // last commit.
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
  const auto* value_bytes = static_cast<const uint8_t*>(values.data_ptr());
  const auto* token_bytes = w.options.store_tokens ? static_cast<const uint8_t*>(token_values.data_ptr()) : nullptr;
  const size_t row_bytes = w.row_bytes();
  const auto dim = static_cast<hsize_t>(w.options.dim);
  // At most two commits: rows up to the last chunk boundary the batch reaches, written to
  // "embeddings" as whole chunks (each chunk is written once), then the rest, staged. A commit that
  // leaves a chunk unfinished stages its rows at positions no earlier commit of that chunk used.
  int64_t pos = 0;
  int64_t token_pos = 0;  // token rows of the batch before row `pos`
  while (pos < n) {
    const auto in_tail = static_cast<int64_t>(static_cast<hsize_t>(w.rows) % w.chunk);
    const auto c = static_cast<int64_t>(w.chunk);
    const bool completes = in_tail + (n - pos) >= c;
    const int64_t m = completes ? (in_tail + n - pos) / c * c - in_tail : n - pos;
    int64_t t = 0;
    if (w.options.store_tokens)
      for (int64_t i = pos; i < pos + m; ++i) t += batch.token_counts[static_cast<size_t>(i)];

    const auto at = static_cast<hsize_t>(w.rows);
    const auto count = static_cast<hsize_t>(m);
    w.write_rows(w.names, "names", w.string_type.get(), names.data() + pos, at, count, 1, 1);
    w.write_rows(w.source, "source", w.string_type.get(), sources.data() + pos, at, count, 1, 1);
    w.write_rows(w.start, "start", H5T_NATIVE_INT64, batch.start.data() + pos, at, count, 1, 1);
    w.write_rows(w.end, "end", H5T_NATIVE_INT64, batch.end.data() + pos, at, count, 1, 1);
    if (w.options.store_tokens) {
      if (t > 0)
        w.write_rows(w.token_embeddings, "token_embeddings", w.value_type.get(), token_bytes + token_pos * row_bytes,
                     static_cast<hsize_t>(w.tokens), static_cast<hsize_t>(t), dim, 2);
      w.write_rows(w.token_offsets, "token_offsets", H5T_NATIVE_INT64, offsets.data() + pos, at + 1, count, 1, 1);
    }
    const uint8_t* rows_begin = value_bytes + static_cast<size_t>(pos) * row_bytes;
    const uint8_t* rows_end = rows_begin + static_cast<size_t>(m) * row_bytes;
    if (completes) {
      w.tail.insert(w.tail.end(), rows_begin, rows_end);
      w.write_rows(w.embeddings, "embeddings", w.value_type.get(), w.tail.data(), at - static_cast<hsize_t>(in_tail),
                   static_cast<hsize_t>(in_tail + m), dim, 2);
      w.tail.clear();
    } else {
      w.write_rows(w.staging, kStaging, w.value_type.get(), rows_begin, static_cast<hsize_t>(in_tail), count, dim, 2,
                   false);
      w.tail.insert(w.tail.end(), rows_begin, rows_end);
    }
    w.commit(w.rows + m, w.tokens + t);
    pos += m;
    token_pos += t;
  }
  w.failed = false;
}

void EmbeddingWriter::finish() {
  STRAND_CHECK(is_open(), "embedding writer: finish() on a writer that is not open");
  Impl& w = *impl_;
  STRAND_CHECK(!w.failed, "embedding writer: an earlier write to ", w.partial,
               " failed; open_resume() continues from its last commit");
  {
    const QuietErrors quiet;
    // The unfinished last chunk moves from the staging rows into "embeddings" (compressed once);
    // then the staging rows go. Resuming after a kill in between finds the rows in "embeddings".
    const auto whole = static_cast<hsize_t>(w.rows) - w.tail.size() / w.row_bytes();
    if (!w.tail.empty())
      w.write_rows(w.embeddings, "embeddings", w.value_type.get(), w.tail.data(), whole, w.tail.size() / w.row_bytes(),
                   static_cast<hsize_t>(w.options.dim), 2);
    w.flush();
    w.staging.close();
    check(H5Ldelete(w.file.get(), ".staging", H5P_DEFAULT), w.partial, "cannot remove the staging rows");
    w.flush();
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

}  // namespace strand::pipelines
