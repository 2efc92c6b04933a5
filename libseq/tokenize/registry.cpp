#include "libseq/tokenize/registry.h"

#include <algorithm>
#include <charconv>

#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::tokenize {
namespace {

bool valid_type_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) {
    if (!s.empty()) s += ", ";
    s += item;
  }
  return s;
}

}  // namespace

TokenizerSpec TokenizerSpec::parse(std::string_view text) {
  TokenizerSpec spec;
  spec.where_ = "tokenizer spec '" + std::string(text) + "'";
  const size_t colon = text.find(':');
  spec.type_ = std::string(text.substr(0, colon));
  if (spec.type_.empty()) spec.fail("expected a tokenizer type before ':' (e.g. \"char\" or \"kmer-overlap:6\")");
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  while (true) {
    const size_t end = rest.find_first_of(",:");
    const std::string_view item = rest.substr(0, end);
    if (item.empty()) spec.fail("empty option (options are separated by ',' or ':')");
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      spec.positional_.emplace_back(item);
    } else {
      const std::string key(item.substr(0, eq));
      const std::string value(item.substr(eq + 1));
      if (key.empty() || value.empty() || value.find('=') != std::string::npos)
        spec.fail("malformed option '" + std::string(item) + "', expected key=value");
      if (!spec.options_.emplace(key, value).second) spec.fail("option '" + key + "' is given twice");
    }
    if (end == std::string_view::npos) break;
    rest = rest.substr(end + 1);
  }
  return spec;
}

TokenizerSpec TokenizerSpec::from_json(const std::string& type, const nlohmann::json& options,
                                       const std::string& source) {
  TokenizerSpec spec;
  spec.type_ = type;
  spec.where_ = source + ": tokenizer '" + type + "'";
  if (!options.is_object()) spec.fail("\"options\" must be a JSON object, found " + std::string(options.type_name()));
  for (auto it = options.begin(); it != options.end(); ++it) {
    const auto& v = it.value();
    std::string value;
    if (v.is_boolean()) {
      value = v.get<bool>() ? "true" : "false";
    } else if (v.is_number_integer()) {
      value = v.dump();
    } else if (v.is_string()) {
      value = v.get<std::string>();
    } else {
      spec.fail("option '" + it.key() + "' must be a boolean, an integer or a string, found " + v.dump());
    }
    spec.options_.emplace(it.key(), value);
  }
  return spec;
}

void TokenizerSpec::fail(const std::string& message) const { throw ConfigError(where_ + ": " + message); }

void TokenizerSpec::bind_positional(const std::vector<std::string>& keys) {
  positional_bound_ = true;
  if (positional_.size() > keys.size()) {
    if (keys.empty()) fail("takes no positional values (use key=value)");
    fail(detail::str("takes at most ", keys.size(), " positional value(s) (", join(keys), "), got ",
                     positional_.size()));
  }
  for (size_t i = 0; i < positional_.size(); ++i) {
    if (!options_.emplace(keys[i], positional_[i]).second)
      fail("option '" + keys[i] + "' is given both by position and as " + keys[i] + "=");
  }
}

bool TokenizerSpec::has(const std::string& key) const { return options_.count(key) != 0; }

const std::string* TokenizerSpec::find(const std::string& key) {
  const auto it = options_.find(key);
  if (it == options_.end()) return nullptr;
  used_.insert(key);
  return &it->second;
}

int64_t TokenizerSpec::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const std::string* v = find(key);
  if (!v) return fallback;
  int64_t value = 0;
  const char* first = v->data();
  const char* last = v->data() + v->size();
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last) fail("option '" + key + "' must be an integer, got '" + *v + "'");
  if (value < min || value > max)
    fail(detail::str("option '", key, "' must be in ", min, "..", max, ", got ", value));
  return value;
}

int64_t TokenizerSpec::require_int(const std::string& key, int64_t min, int64_t max) {
  if (!has(key)) fail(detail::str("option '", key, "' is required (an integer in ", min, "..", max, ")"));
  return get_int(key, 0, min, max);
}

bool TokenizerSpec::get_bool(const std::string& key, bool fallback) {
  const std::string* v = find(key);
  if (!v) return fallback;
  if (*v == "true" || *v == "1" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "0" || *v == "no" || *v == "off") return false;
  fail("option '" + key + "' must be true or false, got '" + *v + "'");
}

std::string TokenizerSpec::get_choice(const std::string& key, const std::string& fallback,
                                      const std::vector<std::string>& choices) {
  const std::string* v = find(key);
  if (!v) return fallback;
  for (const auto& c : choices)
    if (*v == c) return c;
  fail("option '" + key + "' must be one of " + join(choices) + ", got '" + *v + "'");
}

void TokenizerSpec::finish(const std::vector<std::string>& valid) const {
  if (!positional_.empty() && !positional_bound_) fail("takes no positional values (use key=value)");
  std::vector<std::string> unknown;
  for (const auto& [key, value] : options_)
    if (used_.count(key) == 0) unknown.push_back(key);
  if (unknown.empty()) return;
  fail("unknown option(s) " + join(unknown) + "; valid options: " + (valid.empty() ? "none" : join(valid)));
}

void TokenizerRegistry::add(const std::string& type, std::string summary, Factory factory, Loader loader) {
  if (!valid_type_name(type))
    throw ConfigError("tokenizer type '" + type + "' is not a valid name (use a-z, 0-9, '-', '_', '.')");
  if (entries_.count(type) != 0) throw ConfigError("tokenizer type '" + type + "' is already registered");
  STRAND_ASSERT(static_cast<bool>(factory), "tokenizer type '", type, "' registered without a factory");
  entries_.emplace(type, Entry{std::move(summary), std::move(factory), std::move(loader)});
}

bool TokenizerRegistry::contains(std::string_view type) const { return entries_.find(type) != entries_.end(); }

std::vector<std::string> TokenizerRegistry::types() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

std::string TokenizerRegistry::describe() const {
  size_t width = 0;
  for (const auto& [name, entry] : entries_) width = std::max(width, name.size());
  std::string s;
  for (const auto& [name, entry] : entries_) s += name + std::string(width - name.size() + 2, ' ') + entry.summary + "\n";
  return s;
}

const TokenizerRegistry::Entry& TokenizerRegistry::entry(const std::string& type, const std::string& where) const {
  const auto it = entries_.find(type);
  if (it == entries_.end()) {
    throw ConfigError(where + ": unknown tokenizer type '" + type + "'; registered types: " +
                      (entries_.empty() ? std::string("none") : join(types())));
  }
  return it->second;
}

std::unique_ptr<Tokenizer> TokenizerRegistry::create(std::string_view spec_text) const {
  TokenizerSpec spec = TokenizerSpec::parse(spec_text);
  const Entry& e = entry(spec.type(), spec.where());
  auto tokenizer = e.factory(spec);
  STRAND_ASSERT(tokenizer != nullptr, "factory of tokenizer type '", spec.type(), "' returned null");
  return tokenizer;
}

std::unique_ptr<Tokenizer> TokenizerRegistry::from_json(const nlohmann::json& document, const std::string& source) const {
  ConfigReader reader(document, source);
  const auto format = reader.required<std::string>("format");
  if (format != kTokenizerFormat)
    throw ConfigError(Location{source, -1, ""}, "\"format\" is '" + format + "', expected '" + kTokenizerFormat + "'");
  const auto version = reader.required<int64_t>("version");
  if (version != kTokenizerFormatVersion)
    throw ConfigError(Location{source, -1, ""}, detail::str("tokenizer format version ", version,
                                                            " is not supported (this build reads version ",
                                                            kTokenizerFormatVersion, ")"));
  const auto type = reader.required<std::string>("type");
  const nlohmann::json& options = reader.raw("options");
  const auto vocab = reader.required<std::vector<std::string>>("vocab");
  const nlohmann::json& special = reader.raw("special_tokens");
  reader.finish();

  const Entry& e = entry(type, source);
  std::unique_ptr<Tokenizer> tokenizer;
  if (e.loader) {
    tokenizer = e.loader(document, source);
  } else {
    TokenizerSpec spec = TokenizerSpec::from_json(type, options, source);
    tokenizer = e.factory(spec);
  }
  STRAND_ASSERT(tokenizer != nullptr, "loader of tokenizer type '", type, "' returned null");

  const auto& built = tokenizer->vocabulary();
  if (vocab.size() != built.size()) {
    throw ConfigError(Location{source, -1, ""},
                      detail::str("\"vocab\" has ", vocab.size(), " tokens but tokenizer '", tokenizer->spec(),
                                  "' has ", built.size()));
  }
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (vocab[i] != built[i]) {
      throw ConfigError(Location{source, -1, ""},
                        detail::str("\"vocab\" differs from tokenizer '", tokenizer->spec(), "' at id ", i, ": '",
                                    vocab[i], "' in the file, '", built[i], "' here"));
    }
  }
  const nlohmann::json expected = special_tokens_to_json(tokenizer->special_tokens());
  if (special != expected) {
    throw ConfigError(Location{source, -1, ""}, "\"special_tokens\" " + special.dump() + " differ from tokenizer '" +
                                                    tokenizer->spec() + "': " + expected.dump());
  }
  return tokenizer;
}

std::unique_ptr<Tokenizer> TokenizerRegistry::load(const std::string& path) const {
  return from_json(load_json(path), path);
}

}  // namespace strand::tokenize
