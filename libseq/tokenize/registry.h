// Building tokenizers by name: spec strings ("kmer-overlap:6", "codon:frame=1,table=11") and
// tokenizer JSON files.
//
// A registry is an ordinary object filled explicitly by each domain (e.g.
// strand::bio::register_tokenizers(registry)); nothing registers itself at static-initialisation
// time. Registration is not thread-safe; a filled registry is read-only and its const members may
// be used from any thread.
//
// Spec grammar:  type [ ':' item { (',' | ':') item } ]   with   item = value | key '=' value
// Positional values are bound to option names by the tokenizer's factory (kmer-overlap binds the
// first to "k"). Keys and values are case-sensitive and may not contain ',', ':' or '='.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "libseq/tokenize/tokenizer.h"

namespace strand::tokenize {

/// A parsed spec: the type name and its options as strings. Factories read options through the
/// typed getters, each of which marks the key used; finish() rejects keys nobody read, so a typo
/// never passes silently. Every error is a ConfigError naming the spec (or JSON file) and the key.
class TokenizerSpec {
 public:
  /// Parses a spec string. Throws ConfigError for an empty type, an empty item, an empty key or
  /// value, or a key given twice.
  static TokenizerSpec parse(std::string_view text);
  /// A spec from a JSON "type" and "options" object of scalars (booleans, integers, strings);
  /// `source` names the file in errors. Throws ConfigError for a non-object or a nested value.
  static TokenizerSpec from_json(const std::string& type, const nlohmann::json& options, const std::string& source);

  const std::string& type() const noexcept { return type_; }
  /// What errors call this spec: "tokenizer spec 'codon:frame=4'" or "model/tokenizer.json".
  const std::string& where() const noexcept { return where_; }
  /// The positional values, in order.
  const std::vector<std::string>& positional() const noexcept { return positional_; }

  /// Names positional values: the i-th becomes option keys[i]. Throws ConfigError when there are
  /// more positional values than keys, or when a key is also given as key=value.
  void bind_positional(const std::vector<std::string>& keys);

  bool has(const std::string& key) const;
  /// An integer option in [min, max]; `fallback` when absent.
  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  /// An integer option in [min, max] that must be present.
  int64_t require_int(const std::string& key, int64_t min, int64_t max);
  /// A boolean option written true/false (also 1/0, yes/no, on/off).
  bool get_bool(const std::string& key, bool fallback);
  /// One of `choices`; `fallback` when absent.
  std::string get_choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& choices);
  /// Throws ConfigError listing the options that were given but never read, with `valid` (the
  /// options the factory understands) in the message.
  void finish(const std::vector<std::string>& valid) const;

 private:
  const std::string* find(const std::string& key);
  [[noreturn]] void fail(const std::string& message) const;

  std::string type_;
  std::string where_;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> options_;
  std::set<std::string> used_;
  bool positional_bound_ = false;
};

class TokenizerRegistry {
 public:
  /// Builds a tokenizer from a spec (read options, validate, call spec.finish). May throw
  /// ConfigError.
  using Factory = std::function<std::unique_ptr<Tokenizer>(TokenizerSpec& spec)>;
  /// Builds a tokenizer from a whole JSON document (see Tokenizer::to_json), for tokenizers whose
  /// state is more than their options (e.g. a learned vocabulary). `source` names the file.
  using Loader = std::function<std::unique_ptr<Tokenizer>(const nlohmann::json& document, const std::string& source)>;

  /// Registers a type. `summary` is one line for listings ("overlapping k-mers (DNABERT style),
  /// k in 3..8"). Without a loader, from_json rebuilds through the factory from "options".
  /// Throws ConfigError when `type` is already registered or is not a valid spec name.
  void add(const std::string& type, std::string summary, Factory factory, Loader loader = {});

  bool contains(std::string_view type) const;
  /// Registered types in alphabetical order.
  std::vector<std::string> types() const;
  /// One "type  summary" line per registered type.
  std::string describe() const;

  /// Builds from a spec string. Throws ConfigError for an unknown type (listing the registered
  /// ones) or bad options.
  std::unique_ptr<Tokenizer> create(std::string_view spec) const;
  /// Builds from a JSON document written by Tokenizer::to_json. Checks "format" and "version",
  /// rejects unknown keys, and verifies that the rebuilt tokenizer has exactly the stored "vocab"
  /// and "special_tokens" (naming the first differing id), so a file never silently means
  /// something else. Throws ConfigError; `source` names the document in messages.
  std::unique_ptr<Tokenizer> from_json(const nlohmann::json& document, const std::string& source = "<json>") const;
  /// Reads and builds a tokenizer file. Throws IoError when unreadable, ParseError for invalid
  /// JSON (with line and column), ConfigError as from_json.
  std::unique_ptr<Tokenizer> load(const std::string& path) const;

 private:
  struct Entry {
    std::string summary;
    Factory factory;
    Loader loader;
  };
  const Entry& entry(const std::string& type, const std::string& where) const;

  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace strand::tokenize
