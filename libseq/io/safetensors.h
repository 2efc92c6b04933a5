// safetensors: reader (memory-mapped, zero-copy), writer (atomic), and sharded checkpoints in
// the Hugging Face layout.
//
// File layout (https://github.com/huggingface/safetensors):
//   8 bytes   N, unsigned 64-bit little-endian: length of the header
//   N bytes   UTF-8 JSON object, right-padded with spaces:
//               {"__metadata__": {"key": "value", ...},              (optional, string -> string)
//                "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...}
//   rest      the data buffer; tensor bytes are [BEGIN, END) relative to its start, row-major,
//             little-endian, no strides.
//
// dtypes and the torch types they load as:
//   F64 kDouble, F32 kFloat, F16 kHalf, BF16 kBFloat16, I64 kLong, I32 kInt, I16 kShort,
//   I8 kChar, U8 kByte, BOOL kBool (one byte, 0 or 1), C64 kComplexFloat.
// The other dtypes of the specification (U16, U32, U64, F8_E4M3, F8_E5M2, F8_E8M0, F4, F6_E2M3,
// F6_E3M2) are validated and listed, but have no torch type here: tensor() on them throws
// strand::UnsupportedError.
//
// Validation (every failure is a strand::ParseError whose message starts with the file and, where
// one is involved, "tensor '<name>'"): a file shorter than 8 bytes; a header length over
// 100,000,000 bytes (the reference limit) or past the end of the file; a header that does not
// start with '{' or is not valid JSON; a duplicate key at any level of the header (checked while
// parsing, never "last one wins"); "__metadata__" that is not an object of strings; a tensor
// entry that is not an object with exactly the keys dtype, shape and data_offsets; an unknown
// dtype; shape entries that are not non-negative integers, or whose product (or byte size)
// overflows 64 bits; data_offsets that are not two non-decreasing non-negative integers, that end
// past the data buffer, or whose length is not numel * element size. As in the reference reader,
// the tensors must tile the data buffer exactly: sorted by offset, each one starts where the
// previous one ends, the first at 0 and the last at the end of the file, so overlaps, holes and
// trailing bytes are all rejected. Checks use overflow-safe arithmetic and allocate nothing that
// the header size does not bound.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strand::io {

class MappedFile;

/// The name of a single-file checkpoint in a model directory.
inline constexpr const char* kSafetensorsFileName = "model.safetensors";
/// The name of the index of a sharded checkpoint in a model directory.
inline constexpr const char* kSafetensorsIndexName = "model.safetensors.index.json";
/// The largest header the reader accepts and the writer produces, in bytes.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

/// The torch dtype a safetensors dtype name loads as; nullopt for names this build cannot
/// represent in torch and for names that are not safetensors dtypes.
std::optional<at::ScalarType> torch_dtype_from_safetensors(std::string_view dtype);
/// The safetensors dtype name of a torch dtype; nullopt when the format has none
/// (e.g. kComplexDouble, kQInt8).
std::optional<std::string_view> safetensors_dtype_from_torch(at::ScalarType dtype);

/// One header entry, as validated at open().
struct SafetensorsTensorInfo {
  std::string dtype;                         ///< safetensors dtype name, e.g. "BF16"
  std::optional<at::ScalarType> scalar_type; ///< torch dtype; empty when torch has none here
  std::vector<int64_t> shape;                ///< row-major; {} is a 0-d (one element) tensor
  uint64_t begin = 0;                        ///< data_offsets[0], relative to the data buffer
  uint64_t end = 0;                          ///< data_offsets[1], exclusive
  int64_t numel() const noexcept;
  uint64_t nbytes() const noexcept { return end - begin; }
};

/// Options for reading tensors.
struct SafetensorsLoadOptions {
  /// false: tensors alias the file mapping (zero-copy). true: each tensor owns a fresh copy of
  /// its bytes and the mapping is not kept alive by it.
  bool copy = false;
};

/// An open safetensors file: a memory mapping plus its validated header.
///
/// Tensors from tensor() (without copy) are CPU views into the mapping: no bytes are read until
/// used, and each view holds a shared pointer to the mapping, so the mapping outlives this
/// object for as long as any view lives. Treat the views as read-only data: the mapping is
/// private and copy-on-write, so an in-place write never reaches the file, but it silently turns
/// the touched pages into process memory. Do not truncate or rewrite the file in place while it
/// is open (SIGBUS on access); replacing it by rename (save_safetensors does) is safe and the
/// views keep the old contents.
///
/// A tensor whose bytes are not aligned to its element size in memory (files that do not order
/// tensors by alignment, unlike the reference writer and save_safetensors) is returned as an
/// aligned copy instead of a view.
///
/// Copying a SafetensorsFile shares the mapping. All const members are thread-safe.
class SafetensorsFile {
 public:
  /// Maps and validates `path` (see the list at the top of this header).
  /// Throws strand::IoError when the file cannot be opened or mapped, strand::ParseError when
  /// its header is invalid.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const noexcept;
  /// Tensor names, sorted.
  const std::vector<std::string>& names() const noexcept;
  size_t size() const noexcept;
  bool contains(const std::string& name) const;
  /// Header entry of `name`. Throws strand::InputError naming the file when there is none.
  const SafetensorsTensorInfo& info(const std::string& name) const;
  /// The "__metadata__" map (empty when the header has none).
  const std::map<std::string, std::string>& metadata() const noexcept;

  /// The tensor `name` on the CPU, with its header dtype and shape, contiguous.
  /// Throws strand::InputError when there is no such tensor, strand::UnsupportedError when its
  /// dtype has no torch type in this build, strand::ParseError (naming file and tensor) when a
  /// BOOL tensor holds a byte other than 0 or 1.
  at::Tensor tensor(const std::string& name, const SafetensorsLoadOptions& options = {}) const;
  /// Every tensor, by name. Same failures as tensor().
  std::map<std::string, at::Tensor> tensors(const SafetensorsLoadOptions& options = {}) const;

  /// The whole mapped file (header length, header and data buffer).
  std::string_view bytes() const noexcept;
  /// Offset of the data buffer from the start of the file (8 + header length).
  uint64_t data_offset() const noexcept;

 private:
  struct State;
  explicit SafetensorsFile(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

/// Reads every tensor of a safetensors file. Failures as SafetensorsFile::open and ::tensor.
std::map<std::string, at::Tensor> load_safetensors(const std::string& path,
                                                   const SafetensorsLoadOptions& options = {});

/// Writes `tensors` and `metadata` to `path` in the layout of the reference writer: tensors
/// ordered by decreasing dtype alignment, then by name, packed without gaps so that every
/// tensor starts at a multiple of its element size; compact JSON header with "__metadata__"
/// first (left out when `metadata` is empty) and the entries in data order, padded with spaces
/// to a multiple of 8 bytes.
///
/// Any tensor is accepted as long as it is defined, strided and of a dtype the format has: it is
/// detached, copied to the CPU and made contiguous one tensor at a time while writing (conjugate
/// and negative views are resolved). The file is written through strand::io::AtomicFile: it
/// appears at `path` complete or not at all, and an existing file there is replaced only on
/// success. The directory of `path` must exist.
///
/// Throws strand::InputError (before anything is written) for an undefined, sparse or quantized
/// tensor, an unsupported dtype, a tensor named "__metadata__", a name or metadata string that is
/// not valid UTF-8, or a header over kSafetensorsMaxHeaderBytes; strand::IoError when writing
/// fails (the temporary file is removed).
void save_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// A parsed model.safetensors.index.json.
struct SafetensorsIndex {
  std::string path;                               ///< the index file
  std::optional<uint64_t> total_size;             ///< metadata.total_size when it is an integer
  std::map<std::string, std::string> weight_map;  ///< tensor name -> shard file (relative)
};

/// Reads an index file: a JSON object with an object "weight_map" of tensor name -> shard file
/// name, relative to the index's directory, and an optional object "metadata" whose
/// "total_size" (sum of tensor byte sizes, informational) is kept when it is an integer; other
/// keys are ignored. Throws strand::IoError when unreadable, strand::ParseError naming the
/// index (and the tensor) for invalid JSON, duplicate keys, a missing or non-object weight_map,
/// a shard name that is not a string, is empty, is absolute or contains "..".
SafetensorsIndex read_safetensors_index(const std::string& path);

/// Loads a sharded checkpoint from its index file, or from a directory holding
/// model.safetensors.index.json. Every tensor of the weight map is read from its shard.
/// Throws as read_safetensors_index and SafetensorsFile; and strand::ParseError naming the
/// index, the shard and the tensor when a shard file is missing, when a shard lacks a tensor
/// the index assigns to it, or when a shard holds a tensor the index does not assign to it.
std::map<std::string, at::Tensor> load_sharded(const std::string& index_or_dir,
                                               const SafetensorsLoadOptions& options = {});

/// Writes `tensors` into directory `dir` (created if missing) the way Hugging Face
/// save_pretrained does. Tensors are taken in name order and packed into shards whose data
/// stays within `max_shard_bytes`: a tensor that would push the current shard over the limit
/// starts a new shard; a tensor larger than the limit gets a shard of its own. One shard is
/// written as model.safetensors; several as model-00001-of-0000N.safetensors plus
/// model.safetensors.index.json ({"metadata": {"total_size": bytes}, "weight_map": {...}},
/// 2-space indent, sorted keys). `metadata` goes into every shard.
///
/// Files are written atomically, the index last; a previous index is removed before the first
/// shard is written, so an interrupted save never leaves an index that mixes old and new shards.
/// After success, files of the other layout and stale model-XXXXX-of-YYYYY.safetensors shards in
/// `dir` are removed so that load_weights() cannot pick up an old checkpoint.
/// Returns the paths written (shards in order, then the index).
/// Throws strand::InputError when max_shard_bytes is 0, and as save_safetensors otherwise.
std::vector<std::string> save_sharded(const std::string& dir,
                                      const std::map<std::string, at::Tensor>& tensors,
                                      uint64_t max_shard_bytes,
                                      const std::map<std::string, std::string>& metadata = {});

/// Loads model weights from any of: a directory holding model.safetensors (preferred, as in
/// transformers) or model.safetensors.index.json; an index file ("*.json"); a safetensors file.
/// Throws strand::InputError when a directory holds neither file, and as load_safetensors or
/// load_sharded otherwise.
std::map<std::string, at::Tensor> load_weights(const std::string& path,
                                               const SafetensorsLoadOptions& options = {});

}  // namespace strand::io
