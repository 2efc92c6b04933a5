// The tokenizer interface: text -> token ids (int32) with source offsets, batches with padding
// and truncation, decoding, token-level reverse complement and a JSON form.
//
// A Tokenizer is an immutable value after construction: every const member is thread-safe and
// may be called from any number of threads at once. Concrete tokenizers (bio/tokenizers,
// chem/...) implement a handful of protected hooks; everything else (special tokens, batches,
// JSON, decoding) lives here so that all tokenizers behave alike.
//
// Ids are int32_t, dense in [0, vocab_size()). Every token has a unique string.
//
// Special tokens. A tokenizer names up to six special roles (pad, unk, cls, bos, eos, mask) and
// may add one token before the content (`prefix`, e.g. <cls>) and one after it (`suffix`, e.g.
// <eos>/[SEP]) when EncodeOptions::add_special_tokens is set. Vocabulary entries that encode
// never produces from text (reserved ids, vocabulary padding) are special as well.
// decode(skip_special = true) drops every special token, <unk> included, unless a tokenizer
// documents otherwise (overlapping k-mers keep the position of an unknown k-mer).
//
// Speed. encode makes one virtual call per text; concrete tokenizers map bytes through 256-entry
// tables with the vectorised kernels of byte_kernels.h and write into buffers reserved per block,
// without allocating per token. encode_ids_into / encode_into reuse the caller's buffers, and
// the ids-only path skips offsets, which are four times the size of the ids.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strand::tokenize {

using TokenId = int32_t;

/// The source span [begin, end) of a token, in bytes of the encoded text. Tokens that do not come
/// from the text (special tokens added by encode, padding) carry {kNoOffset, kNoOffset}.
struct Offset {
  int64_t begin;
  int64_t end;
  bool operator==(const Offset& o) const noexcept { return begin == o.begin && end == o.end; }
  bool operator!=(const Offset& o) const noexcept { return !(*this == o); }
};
inline constexpr int64_t kNoOffset = -1;
inline constexpr Offset kNoSpan{kNoOffset, kNoOffset};

/// The "format" and "version" written by Tokenizer::to_json.
inline constexpr const char* kTokenizerFormat = "strand.tokenizer";
inline constexpr int kTokenizerFormatVersion = 1;

/// The result of encoding one text. All vectors are parallel to `ids`, or empty when not requested.
struct Encoding {
  std::vector<TokenId> ids;
  /// One span per token when EncodeOptions::offsets is set, else empty.
  std::vector<Offset> offsets;
  /// One flag per token (1 = soft-masked, i.e. written in lower case) for tokenizers that record
  /// soft-masking (see Tokenizer::records_soft_mask()); empty otherwise. Special tokens get 0.
  std::vector<uint8_t> soft_mask;

  size_t size() const noexcept { return ids.size(); }
  bool operator==(const Encoding& o) const {
    return ids == o.ids && offsets == o.offsets && soft_mask == o.soft_mask;
  }
};

struct EncodeOptions {
  /// Add the tokenizer's prefix/suffix special tokens.
  bool add_special_tokens = true;
  /// Fill Encoding::offsets. Offsets double the output; the ids-only path is faster.
  bool offsets = true;
};

enum class Side { Left, Right };

enum class Padding {
  Longest,    ///< pad every row to the longest row of the batch (after truncation)
  MaxLength,  ///< pad every row to BatchOptions::max_length
};

struct BatchOptions {
  bool add_special_tokens = true;
  bool offsets = false;
  Padding padding = Padding::Longest;
  /// Upper bound on tokens per row including special tokens; 0 = no bound. Required (> 0) for
  /// Padding::MaxLength.
  int64_t max_length = 0;
  /// Rows longer than max_length: true cuts content tokens, keeping the prefix and suffix special
  /// tokens in place (so a truncated row still starts with <cls> and ends with <eos>); false makes
  /// encode_batch throw InputError naming the first such row.
  bool truncation = true;
  /// Which end loses content tokens when truncating.
  Side truncation_side = Side::Right;
  /// Which end receives padding.
  Side padding_side = Side::Right;
  /// Worker threads; 0 = strand::num_threads(). The result never depends on it.
  int threads = 0;
};

/// A padded batch, every per-token array row-major (batch_size, length).
struct BatchEncoding {
  int64_t batch_size = 0;
  int64_t length = 0;
  std::vector<TokenId> ids;             ///< padding positions hold the pad id
  std::vector<uint8_t> attention_mask;  ///< 1 for tokens (special ones included), 0 for padding
  std::vector<int64_t> lengths;         ///< tokens per row, padding excluded
  std::vector<int64_t> truncated;       ///< content tokens removed from each row by truncation
  std::vector<Offset> offsets;          ///< when BatchOptions::offsets; kNoSpan for specials and padding
  std::vector<uint8_t> soft_mask;       ///< when the tokenizer records soft-masking; 0 for padding

  /// Row b without padding, as encode() would have produced it after truncation.
  /// Throws InputError when b is out of range.
  Encoding row(int64_t b) const;
  bool operator==(const BatchEncoding& o) const;
};

/// The special roles of a vocabulary; each is optional.
struct SpecialTokens {
  std::optional<TokenId> pad;
  std::optional<TokenId> unk;
  std::optional<TokenId> cls;
  std::optional<TokenId> bos;
  std::optional<TokenId> eos;  ///< end of sequence / separator
  std::optional<TokenId> mask;
  /// Added before the content by encode when add_special_tokens (usually cls or bos).
  std::optional<TokenId> prefix;
  /// Added after the content by encode when add_special_tokens (usually eos).
  std::optional<TokenId> suffix;
  bool operator==(const SpecialTokens& o) const;
};

/// Token-level reverse complement: reverses `ids` and maps each through `complement`
/// (complement[id] is the id of the complementary token). Special tokens move with the reversal,
/// as in Caduceus's RCPS embedding: a leading <cls> ends up last. Throws InputError for an id
/// outside [0, complement.size()).
std::vector<TokenId> reverse_complement_ids(const std::vector<TokenId>& ids, const std::vector<TokenId>& complement);

/// Where a tokenizer's encode_content writes: the caller's vectors, grown on demand. Growing
/// initialises only slots that were never written before, so a long text is not preceded by a
/// zero-fill of its worst-case token count, and a reused Encoding is not initialised at all.
/// Used only inside Tokenizer::encode_content; not thread-safe.
class TokenWriter {
 public:
  /// Makes room for `count` more tokens after those committed so far. Invalidates pointers
  /// returned earlier.
  void reserve(size_t count);
  /// The first free slot. Offsets and soft-mask slots are null when they were not requested;
  /// when present they must be filled for every committed token.
  TokenId* ids() noexcept { return ids_->data() + size_; }
  Offset* offsets() noexcept { return offsets_ ? offsets_->data() + size_ : nullptr; }
  uint8_t* soft_mask() noexcept { return soft_mask_ ? soft_mask_->data() + size_ : nullptr; }
  /// Commits the `count` tokens written at the free slots. InternalError beyond the reserved room.
  void commit(size_t count);
  /// Reserves, writes and commits one token (soft-mask 0).
  void push(TokenId id, Offset offset);
  /// Tokens committed so far.
  size_t size() const noexcept { return size_; }

 private:
  friend class Tokenizer;
  TokenWriter(std::vector<TokenId>& ids, std::vector<Offset>* offsets, std::vector<uint8_t>* soft_mask)
      : ids_(&ids), offsets_(offsets), soft_mask_(soft_mask) {}
  void finish();

  std::vector<TokenId>* ids_;
  std::vector<Offset>* offsets_;
  std::vector<uint8_t>* soft_mask_;
  size_t size_ = 0;
  size_t room_ = 0;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  /// The registry type name, e.g. "kmer-overlap"; the JSON "type".
  virtual std::string type() const = 0;
  /// The options that, given to the registry's factory for type(), rebuild this tokenizer: a JSON
  /// object of scalars (booleans, integers, strings), e.g. {"k": 6}.
  virtual nlohmann::json options() const = 0;
  /// type() and options() as a registry spec string, e.g. "kmer-overlap:k=6" or "protein".
  std::string spec() const;

  int32_t vocab_size() const noexcept { return static_cast<int32_t>(vocab_.size()); }
  /// Token strings indexed by id.
  const std::vector<std::string>& vocabulary() const noexcept { return vocab_; }
  /// The string of one token. Throws InputError when id is outside [0, vocab_size()).
  const std::string& token(TokenId id) const;
  /// The id of a token string, if it is in the vocabulary.
  std::optional<TokenId> token_id(std::string_view token) const;
  const SpecialTokens& special_tokens() const noexcept { return special_; }
  /// True for every special token (named roles, prefix/suffix and reserved entries).
  /// Throws InputError when id is outside [0, vocab_size()).
  bool is_special(TokenId id) const;
  /// True when encode fills Encoding::soft_mask.
  virtual bool records_soft_mask() const { return false; }

  /// Encodes one text. Never throws for any byte string unless the concrete tokenizer documents
  /// a rejecting policy (it then throws InputError naming the byte offset).
  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;
  /// encode() into a caller-owned Encoding, reusing its buffers: in a loop over texts this does
  /// not allocate once the buffers have grown to the largest text.
  void encode_into(std::string_view text, Encoding& out, const EncodeOptions& options = {}) const;
  /// The ids-only fast path (no offsets, no soft-mask).
  std::vector<TokenId> encode_ids(std::string_view text, bool add_special_tokens = true) const;
  void encode_ids_into(std::string_view text, std::vector<TokenId>& out, bool add_special_tokens = true) const;

  /// Encodes several texts on up to options.threads threads and pads them into one batch. The
  /// result is identical to encoding each text alone, whatever the thread count.
  /// Throws ConfigError for inconsistent options (Padding::MaxLength without max_length, a
  /// max_length that cannot hold the prefix and suffix tokens, padding without a pad token) and
  /// InputError for a row that exceeds max_length when truncation is off.
  BatchEncoding encode_batch(const std::vector<std::string_view>& texts, const BatchOptions& options = {}) const;
  BatchEncoding encode_batch(const std::vector<std::string>& texts, const BatchOptions& options = {}) const;

  /// Turns ids back into text. With skip_special, special tokens are dropped; otherwise they are
  /// written as their token strings. Concrete tokenizers document how decoding normalises text
  /// (case, ambiguity codes). Throws InputError for an id outside [0, vocab_size()).
  std::string decode(const TokenId* ids, size_t count, bool skip_special = true) const;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special = true) const {
    return decode(ids.data(), ids.size(), skip_special);
  }

  /// The token-level complement map (size vocab_size(), special tokens map to themselves) for
  /// vocabularies that have one; nullopt otherwise. For such tokenizers
  /// decode(reverse_complement_ids(encode(s))) is the reverse complement of s (after the
  /// tokenizer's normalisation).
  virtual std::optional<std::vector<TokenId>> complement_ids() const { return std::nullopt; }
  /// reverse_complement_ids(ids, *complement_ids()). Throws UnsupportedError when the vocabulary
  /// has no complement map, InputError for an out-of-range id.
  std::vector<TokenId> reverse_complement_ids(const std::vector<TokenId>& ids) const;

  /// {"format": "strand.tokenizer", "version": 1, "type", "options", "vocab", "special_tokens"}.
  /// TokenizerRegistry::from_json rebuilds the tokenizer from it and checks vocab and
  /// special_tokens against the rebuilt one.
  nlohmann::json to_json() const;
  /// Writes to_json() to `path` atomically (temporary file + rename). Throws IoError.
  void save(const std::string& path) const;

 protected:
  Tokenizer() = default;

  /// Sets the vocabulary (called once from the concrete constructor). `reserved` lists further
  /// ids that are special without a named role. Throws InternalError for duplicate or empty token
  /// strings and for special ids outside the vocabulary.
  void init_vocabulary(std::vector<std::string> vocab, SpecialTokens special, const std::vector<TokenId>& reserved = {});

  /// Encodes `text` without prefix/suffix into `out` (offsets are spans into `text`). Called
  /// once per text, so there is no virtual call per byte; implementations reserve room for a
  /// block of tokens at a time and fill it with table lookups.
  virtual void encode_content(std::string_view text, TokenWriter& out) const = 0;
  /// Appends the decoded text of ids (already range-checked) to out. The default concatenates
  /// token strings, dropping special tokens when skip_special.
  virtual void decode_content(const TokenId* ids, size_t count, bool skip_special, std::string& out) const;

 private:
  std::vector<std::string> vocab_;
  std::map<std::string, TokenId, std::less<>> index_;
  std::vector<uint8_t> special_flag_;
  SpecialTokens special_;
};

/// The "special_tokens" object of the JSON form: each present role as "name": id.
nlohmann::json special_tokens_to_json(const SpecialTokens& special);

}  // namespace strand::tokenize
