#include "libseq/core/config.h"

#include "libseq/io/atomic_file.h"

namespace strand {

nlohmann::json parse_json(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Turn the byte offset into line and column for the message.
    const size_t offset = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    int64_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    std::string what = e.what();
    const auto colon = what.rfind(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    throw ParseError(Location{source, line, ""},
                     "invalid JSON at column " + std::to_string(offset - line_start + 1) + ": " + what);
  } catch (const nlohmann::json::exception& e) {
    // Syntactically valid text the parser still rejects, e.g. a number out of double range
    // (out_of_range.406 for "1e999"): no byte offset is available.
    std::string what = e.what();
    const auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    throw ParseError(Location{source, -1, ""}, "invalid JSON: " + what);
  }
}

nlohmann::json load_json(const std::string& path) { return parse_json(io::read_file(path), path); }

void save_json(const std::string& path, const nlohmann::json& value) {
  io::write_file_atomic(path, value.dump(2) + "\n");
}

ConfigReader::ConfigReader(const nlohmann::json& object, std::string source, std::string path)
    : object_(object), source_(std::move(source)), path_(std::move(path)) {
  if (!object_.is_object()) {
    throw ConfigError(Location{source_, -1, ""},
                      (path_.empty() ? std::string("top level") : "'" + path_ + "'") + ": expected a JSON object, found " +
                          object_.type_name());
  }
}

bool ConfigReader::has(const std::string& key) const { return object_.contains(key); }

std::string ConfigReader::where(const std::string& key) const {
  return "'" + (path_.empty() ? key : path_ + "." + key) + "'";
}

const nlohmann::json& ConfigReader::fetch(const std::string& key, bool mark) {
  const auto it = object_.find(key);
  if (it == object_.end()) throw ConfigError(Location{source_, -1, ""}, "missing required key " + where(key));
  if (mark) used_.insert(key);
  return *it;
}

void ConfigReader::type_error(const std::string& key, const char* expected, const nlohmann::json& found) const {
  std::string shown = found.dump();
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  throw ConfigError(Location{source_, -1, ""},
                    "key " + where(key) + ": expected " + expected + ", found " + found.type_name() + " " + shown);
}

const nlohmann::json& ConfigReader::raw(const std::string& key) { return fetch(key, true); }

ConfigReader ConfigReader::child(const std::string& key) {
  const auto& v = fetch(key, true);
  if (!v.is_object()) type_error(key, "an object", v);
  return ConfigReader(v, source_, path_.empty() ? key : path_ + "." + key);
}

void ConfigReader::finish() const {
  std::string unknown;
  for (const auto& item : object_.items()) {
    if (used_.count(item.key()) == 0) unknown += (unknown.empty() ? "" : ", ") + where(item.key());
  }
  if (!unknown.empty()) throw ConfigError(Location{source_, -1, ""}, "unknown key(s) " + unknown);
}

}  // namespace strand
