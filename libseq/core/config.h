// JSON configuration files with validation.
//
// ConfigReader walks one JSON object and is the only way strand reads config objects: every key
// must be consumed exactly once by required()/optional()/child(), and finish() throws a
// ConfigError listing every key nobody asked for (typos never pass silently). A missing key or a
// value of the wrong type is a ConfigError naming the file, the key path and what was found.
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "libseq/core/error.h"

namespace strand {

/// Parses a JSON file. Throws IoError when unreadable, ParseError with the line and column of a
/// syntax error otherwise.
nlohmann::json load_json(const std::string& path);
/// Parses JSON text; `source` names it in errors.
nlohmann::json parse_json(const std::string& text, const std::string& source);
/// Writes JSON (2-space indent, trailing newline) atomically.
void save_json(const std::string& path, const nlohmann::json& value);

class ConfigReader {
 public:
  /// `source` is the file (for messages); `path` the key path of this object ("" for the root).
  ConfigReader(const nlohmann::json& object, std::string source, std::string path = "");

  bool has(const std::string& key) const;

  template <typename T>
  T required(const std::string& key) {
    const auto& v = fetch(key, true);
    return convert<T>(key, v);
  }

  template <typename T>
  T optional(const std::string& key, T fallback) {
    if (!has(key)) return fallback;
    return convert<T>(key, fetch(key, true));
  }

  /// The raw JSON value of a key (marks it used). Missing -> ConfigError.
  const nlohmann::json& raw(const std::string& key);
  /// A reader for a nested object (marks the key used). Missing or not an object -> ConfigError.
  ConfigReader child(const std::string& key);

  /// Throws ConfigError naming every key that was not consumed.
  void finish() const;

  /// "file: key path" prefix used in messages.
  std::string where(const std::string& key) const;

 private:
  const nlohmann::json& fetch(const std::string& key, bool mark);
  [[noreturn]] void type_error(const std::string& key, const char* expected, const nlohmann::json& found) const;

  template <typename T>
  T convert(const std::string& key, const nlohmann::json& v) const;

  const nlohmann::json& object_;
  std::string source_;
  std::string path_;
  std::set<std::string> used_;
};

template <typename T>
T ConfigReader::convert(const std::string& key, const nlohmann::json& v) const {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) type_error(key, "a boolean", v);
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) type_error(key, "an integer", v);
    if constexpr (std::is_unsigned_v<T>) {
      if (v.is_number_unsigned() || v.get<int64_t>() >= 0) return static_cast<T>(v.get<uint64_t>());
      type_error(key, "a non-negative integer", v);
    } else {
      return static_cast<T>(v.get<int64_t>());
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) type_error(key, "a number", v);
    return v.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) type_error(key, "a string", v);
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v.is_array()) type_error(key, "an array of strings", v);
    for (const auto& e : v)
      if (!e.is_string()) type_error(key, "an array of strings", v);
    return v.get<std::vector<std::string>>();
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    if (!v.is_array()) type_error(key, "an array of integers", v);
    for (const auto& e : v)
      if (!e.is_number_integer()) type_error(key, "an array of integers", v);
    return v.get<std::vector<int64_t>>();
  } else {
    static_assert(sizeof(T) == 0, "ConfigReader: unsupported type");
  }
}

}  // namespace strand
