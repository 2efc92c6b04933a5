#include "libseq/tokenize/tokenizer.h"

#include <algorithm>
#include <exception>

#include "libseq/core/error.h"
#include "libseq/core/parallel.h"
#include "libseq/io/atomic_file.h"

namespace strand::tokenize {
namespace {

std::string render_option(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

// Below this much text a batch is encoded on the calling thread: starting threads would cost
// more than the work.
constexpr size_t kParallelMinBytes = size_t{1} << 16;

}  // namespace

bool SpecialTokens::operator==(const SpecialTokens& o) const {
  return pad == o.pad && unk == o.unk && cls == o.cls && bos == o.bos && eos == o.eos && mask == o.mask &&
         prefix == o.prefix && suffix == o.suffix;
}

nlohmann::json special_tokens_to_json(const SpecialTokens& s) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* name, const std::optional<TokenId>& id) {
    if (id) j[name] = *id;
  };
  put("pad", s.pad);
  put("unk", s.unk);
  put("cls", s.cls);
  put("bos", s.bos);
  put("eos", s.eos);
  put("mask", s.mask);
  put("prefix", s.prefix);
  put("suffix", s.suffix);
  return j;
}

std::vector<TokenId> reverse_complement_ids(const std::vector<TokenId>& ids, const std::vector<TokenId>& complement) {
  std::vector<TokenId> out(ids.size());
  const auto n = static_cast<TokenId>(complement.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const TokenId id = ids[ids.size() - 1 - i];
    STRAND_CHECK(id >= 0 && id < n, "reverse_complement_ids: token id ", id, " at position ", ids.size() - 1 - i,
                 " is outside the vocabulary [0, ", n, ")");
    out[i] = complement[static_cast<size_t>(id)];
  }
  return out;
}

Encoding BatchEncoding::row(int64_t b) const {
  STRAND_CHECK(b >= 0 && b < batch_size, "BatchEncoding::row: row ", b, " is outside [0, ", batch_size, ")");
  const int64_t n = lengths[static_cast<size_t>(b)];
  // Left padding puts the tokens at the end of the row.
  const int64_t start = [&] {
    for (int64_t t = 0; t < length; ++t)
      if (attention_mask[static_cast<size_t>(b * length + t)]) return t;
    return int64_t{0};
  }();
  const auto first = static_cast<size_t>(b * length + start);
  const auto last = first + static_cast<size_t>(n);
  Encoding e;
  e.ids.assign(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.begin() + static_cast<std::ptrdiff_t>(last));
  if (!offsets.empty())
    e.offsets.assign(offsets.begin() + static_cast<std::ptrdiff_t>(first),
                     offsets.begin() + static_cast<std::ptrdiff_t>(last));
  if (!soft_mask.empty())
    e.soft_mask.assign(soft_mask.begin() + static_cast<std::ptrdiff_t>(first),
                       soft_mask.begin() + static_cast<std::ptrdiff_t>(last));
  return e;
}

bool BatchEncoding::operator==(const BatchEncoding& o) const {
  return batch_size == o.batch_size && length == o.length && ids == o.ids && attention_mask == o.attention_mask &&
         lengths == o.lengths && truncated == o.truncated && offsets == o.offsets && soft_mask == o.soft_mask;
}

std::string Tokenizer::spec() const {
  std::string s = type();
  const nlohmann::json opts = options();
  char sep = ':';
  for (auto it = opts.begin(); it != opts.end(); ++it) {
    s += sep;
    s += it.key() + "=" + render_option(it.value());
    sep = ',';
  }
  return s;
}

void Tokenizer::init_vocabulary(std::vector<std::string> vocab, SpecialTokens special,
                                const std::vector<TokenId>& reserved) {
  STRAND_ASSERT(vocab_.empty(), "init_vocabulary called twice");
  STRAND_ASSERT(!vocab.empty(), "a tokenizer needs a vocabulary");
  STRAND_ASSERT(vocab.size() < static_cast<size_t>(INT32_MAX), "vocabulary too large: ", vocab.size());
  vocab_ = std::move(vocab);
  special_ = special;
  special_flag_.assign(vocab_.size(), 0);
  for (size_t i = 0; i < vocab_.size(); ++i) {
    STRAND_ASSERT(!vocab_[i].empty(), "token ", i, " has an empty string");
    const bool inserted = index_.emplace(vocab_[i], static_cast<TokenId>(i)).second;
    STRAND_ASSERT(inserted, "token string '", vocab_[i], "' appears twice");
  }
  auto mark = [&](const std::optional<TokenId>& id) {
    if (!id) return;
    STRAND_ASSERT(*id >= 0 && *id < vocab_size(), "special token id ", *id, " outside the vocabulary");
    special_flag_[static_cast<size_t>(*id)] = 1;
  };
  for (const auto* id : {&special.pad, &special.unk, &special.cls, &special.bos, &special.eos, &special.mask,
                         &special.prefix, &special.suffix})
    mark(*id);
  for (TokenId id : reserved) mark(id);
}

const std::string& Tokenizer::token(TokenId id) const {
  STRAND_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary [0, ", vocab_size(),
               ") of tokenizer '", spec(), "'");
  return vocab_[static_cast<size_t>(id)];
}

std::optional<TokenId> Tokenizer::token_id(std::string_view token) const {
  const auto it = index_.find(token);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::is_special(TokenId id) const {
  STRAND_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary [0, ", vocab_size(),
               ") of tokenizer '", spec(), "'");
  return special_flag_[static_cast<size_t>(id)] != 0;
}

void TokenWriter::reserve(size_t count) {
  const size_t need = size_ + count;
  // resize() initialises only elements past the current size; those below were written before.
  if (ids_->size() < need) ids_->resize(need);
  if (offsets_ && offsets_->size() < need) offsets_->resize(need);
  if (soft_mask_ && soft_mask_->size() < need) soft_mask_->resize(need);
  room_ = count;
}

void TokenWriter::commit(size_t count) {
  STRAND_ASSERT(count <= room_, "tokenizer wrote ", count, " tokens into room for ", room_);
  size_ += count;
  room_ -= count;
}

void TokenWriter::push(TokenId id, Offset offset) {
  reserve(1);
  *ids() = id;
  if (offsets_) *offsets() = offset;
  if (soft_mask_) *soft_mask() = 0;
  commit(1);
}

void TokenWriter::finish() {
  ids_->resize(size_);
  if (offsets_) offsets_->resize(size_);
  if (soft_mask_) soft_mask_->resize(size_);
}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  Encoding e;
  encode_into(text, e, options);
  return e;
}

void Tokenizer::encode_into(std::string_view text, Encoding& out, const EncodeOptions& options) const {
  if (!options.offsets) out.offsets.clear();
  if (!records_soft_mask()) out.soft_mask.clear();
  TokenWriter writer(out.ids, options.offsets ? &out.offsets : nullptr, records_soft_mask() ? &out.soft_mask : nullptr);
  if (options.add_special_tokens && special_.prefix) writer.push(*special_.prefix, kNoSpan);
  encode_content(text, writer);
  if (options.add_special_tokens && special_.suffix) writer.push(*special_.suffix, kNoSpan);
  writer.finish();
}

std::vector<TokenId> Tokenizer::encode_ids(std::string_view text, bool add_special_tokens) const {
  std::vector<TokenId> ids;
  encode_ids_into(text, ids, add_special_tokens);
  return ids;
}

void Tokenizer::encode_ids_into(std::string_view text, std::vector<TokenId>& out, bool add_special_tokens) const {
  TokenWriter writer(out, nullptr, nullptr);
  if (add_special_tokens && special_.prefix) writer.push(*special_.prefix, kNoSpan);
  encode_content(text, writer);
  if (add_special_tokens && special_.suffix) writer.push(*special_.suffix, kNoSpan);
  writer.finish();
}

BatchEncoding Tokenizer::encode_batch(const std::vector<std::string>& texts, const BatchOptions& options) const {
  std::vector<std::string_view> views(texts.begin(), texts.end());
  return encode_batch(views, options);
}

BatchEncoding Tokenizer::encode_batch(const std::vector<std::string_view>& texts, const BatchOptions& options) const {
  const int64_t n_prefix = options.add_special_tokens && special_.prefix ? 1 : 0;
  const int64_t n_suffix = options.add_special_tokens && special_.suffix ? 1 : 0;
  if (options.max_length < 0)
    throw ConfigError("encode_batch: max_length must be >= 0 (0 = no limit), got " + std::to_string(options.max_length));
  if (options.padding == Padding::MaxLength && options.max_length == 0)
    throw ConfigError("encode_batch: padding to max_length needs max_length > 0");
  if (options.max_length > 0 && options.max_length < n_prefix + n_suffix)
    throw ConfigError(detail::str("encode_batch: max_length ", options.max_length, " cannot hold the ",
                                  n_prefix + n_suffix, " special tokens tokenizer '", spec(), "' adds"));

  const auto batch = static_cast<int64_t>(texts.size());
  EncodeOptions eo;
  eo.add_special_tokens = options.add_special_tokens;
  eo.offsets = options.offsets;
  std::vector<Encoding> rows(texts.size());
  std::vector<int64_t> cut(texts.size(), 0);
  std::vector<std::exception_ptr> errors(texts.size());
  size_t total_bytes = 0;
  for (const auto& t : texts) total_bytes += t.size();
  const int threads = total_bytes < kParallelMinBytes ? 1 : options.threads;

  parallel_for(
      batch, 1,
      [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          auto& e = rows[static_cast<size_t>(b)];
          try {
            encode_into(texts[static_cast<size_t>(b)], e, eo);
          } catch (...) {
            errors[static_cast<size_t>(b)] = std::current_exception();
            continue;
          }
          const auto size = static_cast<int64_t>(e.ids.size());
          if (options.max_length == 0 || size <= options.max_length) continue;
          cut[static_cast<size_t>(b)] = size - options.max_length;
          if (!options.truncation) continue;
          // Drop content tokens next to the prefix (left) or the suffix (right); specials stay.
          const int64_t drop = size - options.max_length;
          const int64_t from = options.truncation_side == Side::Right ? size - n_suffix - drop : n_prefix;
          auto erase = [&](auto& v) {
            if (v.empty()) return;
            v.erase(v.begin() + from, v.begin() + from + drop);
          };
          erase(e.ids);
          erase(e.offsets);
          erase(e.soft_mask);
        }
      },
      threads);

  // Report the first failing row by index, not whichever thread failed first.
  for (const auto& error : errors)
    if (error) std::rethrow_exception(error);
  if (!options.truncation) {
    for (int64_t b = 0; b < batch; ++b)
      STRAND_CHECK(cut[static_cast<size_t>(b)] == 0, "encode_batch: sequence ", b, " has ",
                   rows[static_cast<size_t>(b)].size(), " tokens, more than max_length ", options.max_length,
                   " (truncation is off)");
  }

  int64_t length = 0;
  for (const auto& e : rows) length = std::max<int64_t>(length, static_cast<int64_t>(e.size()));
  if (options.padding == Padding::MaxLength) length = options.max_length;
  bool needs_padding = false;
  for (const auto& e : rows) needs_padding |= static_cast<int64_t>(e.size()) < length;
  if (needs_padding && !special_.pad)
    throw ConfigError("encode_batch: tokenizer '" + spec() + "' has no pad token, so rows of different lengths cannot be padded");

  BatchEncoding out;
  out.batch_size = batch;
  out.length = length;
  const auto cells = static_cast<size_t>(batch * length);
  out.ids.assign(cells, special_.pad.value_or(0));
  out.attention_mask.assign(cells, 0);
  out.lengths.resize(texts.size());
  out.truncated = std::move(cut);
  if (options.offsets) out.offsets.assign(cells, kNoSpan);
  if (records_soft_mask()) out.soft_mask.assign(cells, 0);

  parallel_for(
      batch, 1,
      [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const auto& e = rows[static_cast<size_t>(b)];
          const auto n = static_cast<int64_t>(e.size());
          out.lengths[static_cast<size_t>(b)] = n;
          const int64_t start = b * length + (options.padding_side == Side::Left ? length - n : 0);
          const auto s = static_cast<std::ptrdiff_t>(start);
          std::copy(e.ids.begin(), e.ids.end(), out.ids.begin() + s);
          std::fill(out.attention_mask.begin() + s, out.attention_mask.begin() + s + n, uint8_t{1});
          if (!e.offsets.empty()) std::copy(e.offsets.begin(), e.offsets.end(), out.offsets.begin() + s);
          if (!e.soft_mask.empty()) std::copy(e.soft_mask.begin(), e.soft_mask.end(), out.soft_mask.begin() + s);
        }
      },
      threads);
  return out;
}

std::string Tokenizer::decode(const TokenId* ids, size_t count, bool skip_special) const {
  for (size_t i = 0; i < count; ++i)
    STRAND_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "decode: token id ", ids[i], " at position ", i,
                 " is outside the vocabulary [0, ", vocab_size(), ") of tokenizer '", spec(), "'");
  std::string out;
  decode_content(ids, count, skip_special, out);
  return out;
}

void Tokenizer::decode_content(const TokenId* ids, size_t count, bool skip_special, std::string& out) const {
  for (size_t i = 0; i < count; ++i) {
    const auto id = static_cast<size_t>(ids[i]);
    if (skip_special && special_flag_[id]) continue;
    out += vocab_[id];
  }
}

std::vector<TokenId> Tokenizer::reverse_complement_ids(const std::vector<TokenId>& ids) const {
  const auto map = complement_ids();
  if (!map) throw UnsupportedError("tokenizer '" + spec() + "' has no token-level complement map");
  return tokenize::reverse_complement_ids(ids, *map);
}

nlohmann::json Tokenizer::to_json() const {
  nlohmann::json j;
  j["format"] = kTokenizerFormat;
  j["version"] = kTokenizerFormatVersion;
  j["type"] = type();
  j["options"] = options();
  j["vocab"] = vocab_;
  j["special_tokens"] = special_tokens_to_json(special_);
  return j;
}

void Tokenizer::save(const std::string& path) const { io::write_file_atomic(path, to_json().dump(2) + "\n"); }

}  // namespace strand::tokenize
