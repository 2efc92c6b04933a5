#include "libseq/io/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>

#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/mmap_file.h"

namespace strand::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; the zero-copy reader needs a little-endian host");

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";

struct Dtype {
  const char* name;
  int bits;
  at::ScalarType torch;  // Undefined: no torch type in this build
};

// In the order of the reference implementation's Dtype enum (increasing alignment); the writer
// sorts by decreasing position, as the reference does, so every tensor starts aligned.
constexpr std::array<Dtype, 20> kDtypes{{
    {"BOOL", 8, at::kBool},
    {"F4", 4, at::ScalarType::Undefined},
    {"F6_E2M3", 6, at::ScalarType::Undefined},
    {"F6_E3M2", 6, at::ScalarType::Undefined},
    {"U8", 8, at::kByte},
    {"I8", 8, at::kChar},
    {"F8_E5M2", 8, at::ScalarType::Undefined},
    {"F8_E4M3", 8, at::ScalarType::Undefined},
    {"F8_E8M0", 8, at::ScalarType::Undefined},
    {"I16", 16, at::kShort},
    {"U16", 16, at::ScalarType::Undefined},
    {"F16", 16, at::kHalf},
    {"BF16", 16, at::kBFloat16},
    {"I32", 32, at::kInt},
    {"U32", 32, at::ScalarType::Undefined},
    {"F32", 32, at::kFloat},
    {"C64", 64, at::kComplexFloat},
    {"F64", 64, at::kDouble},
    {"I64", 64, at::kLong},
    {"U64", 64, at::ScalarType::Undefined},
}};

const Dtype* find_dtype(std::string_view name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

size_t dtype_rank(at::ScalarType t) {
  for (size_t i = 0; i < kDtypes.size(); ++i)
    if (kDtypes[i].torch == t) return i;
  STRAND_ASSERT(false, "dtype rank asked for a dtype without a safetensors name");
  return 0;
}

std::string record_of(const std::string& tensor) {
  return tensor.empty() ? std::string() : "tensor '" + tensor + "'";
}

template <typename... Args>
[[noreturn]] void parse_fail(const std::string& file, const std::string& tensor, Args&&... parts) {
  throw ParseError(Location{file, -1, record_of(tensor)}, detail::str(std::forward<Args>(parts)...));
}

template <typename... Args>
[[noreturn]] void input_fail(const std::string& file, const std::string& tensor, Args&&... parts) {
  throw InputError(Location{file, -1, record_of(tensor)}, detail::str(std::forward<Args>(parts)...));
}

// A short rendering of a JSON value for "found ..." in messages.
std::string brief(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// Where a duplicate key was found: the keys of the enclosing objects, outermost first.
struct Duplicate {
  std::vector<std::string> parents;
  std::string key;
};
using DuplicateHandler = std::function<void(const Duplicate&)>;

// Parses JSON and hands the first duplicate key, at any depth, to `on_duplicate`, which throws
// (nlohmann alone would keep the last value).
json parse_json_unique(const char* first, const char* last, const std::string& source,
                       const DuplicateHandler& on_duplicate) {
  struct Frame {
    std::set<std::string> keys;
    std::string current;
  };
  std::vector<Frame> stack;
  std::optional<Duplicate> duplicate;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        stack.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case json::parse_event_t::key:
        if (!stack.empty()) {
          const auto& key = parsed.get_ref<const std::string&>();
          if (!stack.back().keys.insert(key).second && !duplicate) {
            duplicate.emplace();
            for (size_t i = 0; i + 1 < stack.size(); ++i) duplicate->parents.push_back(stack[i].current);
            duplicate->key = key;
          }
          stack.back().current = key;
        }
        break;
      default:
        break;
    }
    return true;
  };
  // nlohmann's lexer ends the input at a NUL byte, which would silently drop the rest.
  if (const void* nul = std::memchr(first, '\0', static_cast<size_t>(last - first)))
    parse_fail(source, "", "invalid JSON: NUL byte at offset ",
               static_cast<const char*>(nul) - first, " (JSON text cannot contain one)");
  json value;
  try {
    value = json::parse(first, last, callback);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    const auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    parse_fail(source, "", "invalid JSON: ", what);
  }
  if (duplicate) {
    on_duplicate(*duplicate);
    STRAND_ASSERT(false, "duplicate-key handler returned");
  }
  return value;
}

// A non-negative JSON integer; nullopt for anything else (negative, float, string, ...).
std::optional<uint64_t> as_count(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

SafetensorsTensorInfo parse_entry(const std::string& file, const std::string& name, const json& entry,
                                  uint64_t buffer_size) {
  if (!entry.is_object())
    parse_fail(file, name, "header entry must be an object with dtype, shape and data_offsets, found ",
               brief(entry));
  for (const auto& item : entry.items()) {
    const auto& key = item.key();
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      parse_fail(file, name, "unknown key '", key, "' (expected dtype, shape and data_offsets)");
  }
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) parse_fail(file, name, "missing key '", key, "'");

  SafetensorsTensorInfo info;
  const json& dtype = entry.at("dtype");
  if (!dtype.is_string()) parse_fail(file, name, "dtype must be a string, found ", brief(dtype));
  info.dtype = dtype.get<std::string>();
  const Dtype* d = find_dtype(info.dtype);
  if (d == nullptr)
    parse_fail(file, name, "unknown dtype '", info.dtype,
               "' (expected one of BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64, "
               "F8_E5M2, F8_E4M3, F8_E8M0, F4, F6_E2M3, F6_E3M2)");
  if (d->torch != at::ScalarType::Undefined) info.scalar_type = d->torch;

  const json& shape = entry.at("shape");
  if (!shape.is_array()) parse_fail(file, name, "shape must be an array, found ", brief(shape));
  uint64_t numel = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    const auto dim = as_count(shape[i]);
    if (!dim || *dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      parse_fail(file, name, "shape[", i, "] must be a non-negative integer, found ", brief(shape[i]));
    if (__builtin_mul_overflow(numel, *dim, &numel))
      parse_fail(file, name, "shape ", brief(shape), " has more elements than 64 bits can count");
    info.shape.push_back(static_cast<int64_t>(*dim));
  }
  if (numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    parse_fail(file, name, "shape ", brief(shape), " has more elements than 64 bits can count");
  uint64_t bits = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d->bits), &bits))
    parse_fail(file, name, "shape ", brief(shape), " of ", info.dtype, " needs more bytes than 64 bits can count");
  if (bits % 8 != 0)
    parse_fail(file, name, "shape ", brief(shape), " of ", info.dtype, " does not fill a whole number of bytes");

  const json& offsets = entry.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !as_count(offsets[0]) || !as_count(offsets[1]))
    parse_fail(file, name, "data_offsets must be two non-negative integers [begin, end], found ", brief(offsets));
  info.begin = *as_count(offsets[0]);
  info.end = *as_count(offsets[1]);
  if (info.end < info.begin)
    parse_fail(file, name, "data_offsets [", info.begin, ", ", info.end, "] end before they begin");
  if (info.end > buffer_size)
    parse_fail(file, name, "data_offsets [", info.begin, ", ", info.end, "] end past the ", buffer_size,
               "-byte data buffer");
  if (info.nbytes() != bits / 8)
    parse_fail(file, name, "data_offsets [", info.begin, ", ", info.end, "] hold ", info.nbytes(),
               " bytes but shape ", shape_str(info.shape), " of ", info.dtype, " needs ", bits / 8);
  return info;
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::optional<at::ScalarType> torch_dtype_from_safetensors(std::string_view dtype) {
  const Dtype* d = find_dtype(dtype);
  if (d == nullptr || d->torch == at::ScalarType::Undefined) return std::nullopt;
  return d->torch;
}

std::optional<std::string_view> safetensors_dtype_from_torch(at::ScalarType dtype) {
  for (const auto& d : kDtypes)
    if (d.torch == dtype && dtype != at::ScalarType::Undefined) return std::string_view(d.name);
  return std::nullopt;
}

int64_t SafetensorsTensorInfo::numel() const noexcept {
  int64_t n = 1;
  for (const int64_t s : shape) n *= s;
  return n;
}

struct SafetensorsFile::State {
  std::shared_ptr<MappedFile> map;
  uint64_t data_offset = 0;
  std::map<std::string, SafetensorsTensorInfo> tensors;
  std::vector<std::string> names;
  std::map<std::string, std::string> metadata;
};

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto state = std::make_shared<State>();
  state->map = MappedFile::open(path);
  const uint64_t file_size = state->map->size();
  const uint8_t* bytes = state->map->data();

  if (file_size < 8)
    parse_fail(path, "", "file is ", file_size, " bytes, shorter than the 8-byte header length");
  const uint64_t header_len = read_le64(bytes);
  if (header_len > kSafetensorsMaxHeaderBytes)
    parse_fail(path, "", "header length ", header_len, " exceeds the limit of ", kSafetensorsMaxHeaderBytes,
               " bytes");
  if (header_len > file_size - 8)
    parse_fail(path, "", "header length ", header_len, " runs past the end of the file (", file_size,
               " bytes, so at most ", file_size - 8, " header bytes)");
  const char* header = reinterpret_cast<const char*>(bytes + 8);
  if (header_len == 0) parse_fail(path, "", "header length is 0; expected a JSON object");
  if (header[0] != '{') {
    char found[8];
    std::snprintf(found, sizeof found, "0x%02x", static_cast<unsigned>(bytes[8]));
    parse_fail(path, "", "header must be a JSON object starting with '{', found byte ", found);
  }
  state->data_offset = 8 + header_len;
  const uint64_t buffer_size = file_size - state->data_offset;

  const json root = parse_json_unique(header, header + header_len, path, [&](const Duplicate& d) {
    if (d.parents.empty()) parse_fail(path, d.key, "tensor name appears twice in the header");
    if (d.parents.front() == kMetadataKey) parse_fail(path, "", "__metadata__ key '", d.key, "' appears twice");
    parse_fail(path, d.parents.front(), "key '", d.key, "' appears twice in the entry");
  });
  if (!root.is_object()) parse_fail(path, "", "header must be a JSON object, found ", brief(root));

  for (const auto& item : root.items()) {
    const std::string& name = item.key();
    if (name == kMetadataKey) {
      if (!item.value().is_object())
        parse_fail(path, "", "__metadata__ must be an object of strings, found ", brief(item.value()));
      for (const auto& kv : item.value().items()) {
        if (!kv.value().is_string())
          parse_fail(path, "", "__metadata__ value of '", kv.key(), "' must be a string, found ", brief(kv.value()));
        state->metadata.emplace(kv.key(), kv.value().get<std::string>());
      }
      continue;
    }
    state->tensors.emplace(name, parse_entry(path, name, item.value(), buffer_size));
    state->names.push_back(name);
  }

  // The reference reader requires the tensors to tile the buffer: no overlap, no hole, no tail.
  std::vector<const std::pair<const std::string, SafetensorsTensorInfo>*> order;
  order.reserve(state->tensors.size());
  for (const auto& entry : state->tensors) order.push_back(&entry);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return std::make_pair(a->second.begin, a->second.end) < std::make_pair(b->second.begin, b->second.end);
  });
  uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto* entry : order) {
    const auto& info = entry->second;
    if (info.begin < covered)
      parse_fail(path, entry->first, "data_offsets [", info.begin, ", ", info.end, "] overlap tensor '", *previous,
                 "', which ends at ", covered);
    if (info.begin > covered)
      parse_fail(path, entry->first, "data_offsets [", info.begin, ", ", info.end, "] leave bytes [", covered, ", ",
                 info.begin, ") of the data buffer unused (tensors must cover it without gaps)");
    covered = info.end;
    previous = &entry->first;
  }
  if (covered != buffer_size)
    parse_fail(path, "", "bytes [", covered, ", ", buffer_size,
               ") at the end of the data buffer belong to no tensor (tensors must cover it exactly)");

  std::sort(state->names.begin(), state->names.end());
  return SafetensorsFile(std::move(state));
}

const std::string& SafetensorsFile::path() const noexcept { return state_->map->path(); }
const std::vector<std::string>& SafetensorsFile::names() const noexcept { return state_->names; }
size_t SafetensorsFile::size() const noexcept { return state_->tensors.size(); }
bool SafetensorsFile::contains(const std::string& name) const { return state_->tensors.count(name) != 0; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const noexcept { return state_->metadata; }
std::string_view SafetensorsFile::bytes() const noexcept { return state_->map->bytes(); }
uint64_t SafetensorsFile::data_offset() const noexcept { return state_->data_offset; }

const SafetensorsTensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto it = state_->tensors.find(name);
  if (it == state_->tensors.end())
    input_fail(path(), name, "no such tensor in the file (it holds ", state_->tensors.size(), " tensors)");
  return it->second;
}

at::Tensor SafetensorsFile::tensor(const std::string& name, const SafetensorsLoadOptions& options) const {
  const SafetensorsTensorInfo& ti = info(name);
  if (!ti.scalar_type)
    throw UnsupportedError(format_location(Location{path(), -1, record_of(name)},
                                           "dtype " + ti.dtype + " has no torch type in this build"));
  uint8_t* data = state_->map->mutable_data() + state_->data_offset + ti.begin;
  const size_t nbytes = static_cast<size_t>(ti.nbytes());
  if (*ti.scalar_type == at::kBool) {
    const auto* bad = std::find_if(data, data + nbytes, [](uint8_t b) { return b > 1; });
    if (bad != data + nbytes)
      parse_fail(path(), name, "BOOL element ", bad - data, " is byte ", static_cast<int>(*bad),
                 " (expected 0 or 1)");
  }
  const auto dtype = at::TensorOptions().dtype(*ti.scalar_type);
  const size_t item = c10::elementSize(*ti.scalar_type);
  if (options.copy || reinterpret_cast<uintptr_t>(data) % item != 0) {
    at::Tensor out = at::empty(ti.shape, dtype);
    if (nbytes > 0) std::memcpy(out.data_ptr(), data, nbytes);
    return out;
  }
  std::shared_ptr<MappedFile> keep = state_->map;
  return at::from_blob(data, ti.shape, [keep](void*) {}, dtype);
}

std::map<std::string, at::Tensor> SafetensorsFile::tensors(const SafetensorsLoadOptions& options) const {
  std::map<std::string, at::Tensor> out;
  for (const auto& name : state_->names) out.emplace(name, tensor(name, options));
  return out;
}

std::map<std::string, at::Tensor> load_safetensors(const std::string& path, const SafetensorsLoadOptions& options) {
  return SafetensorsFile::open(path).tensors(options);
}

namespace {

struct Planned {
  const std::string* name;
  const at::Tensor* tensor;
  size_t rank;
  uint64_t nbytes;
};

std::string json_string(const std::string& s, const std::string& path, const std::string& what) {
  try {
    return json(s).dump();
  } catch (const json::type_error&) {
    input_fail(path, "", what, " is not valid UTF-8");
  }
}

struct Plan {
  std::vector<Planned> order;
  std::string header;  // padded JSON
};

Plan plan_file(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
               const std::map<std::string, std::string>& metadata) {
  Plan plan;
  for (const auto& [name, t] : tensors) {
    if (name == kMetadataKey) input_fail(path, name, "cannot save: the name is reserved for the metadata map");
    if (!t.defined()) input_fail(path, name, "cannot save an undefined tensor");
    if (t.layout() != at::kStrided)
      input_fail(path, name, "cannot save a tensor with layout ", t.layout(), " (only dense tensors)");
    if (!safetensors_dtype_from_torch(t.scalar_type()))
      input_fail(path, name, "cannot save dtype ", t.scalar_type(), ": safetensors has no such type");
    plan.order.push_back({&name, &t, dtype_rank(t.scalar_type()),
                          static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.element_size())});
  }
  std::stable_sort(plan.order.begin(), plan.order.end(),
                   [](const Planned& a, const Planned& b) { return a.rank > b.rank; });

  std::string& h = plan.header;
  h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) h += ',';
      first = false;
      h += json_string(key, path, "metadata key '" + key + "'");
      h += ':';
      h += json_string(value, path, "metadata value of '" + key + "'");
    }
    h += '}';
  }
  uint64_t offset = 0;
  for (const auto& p : plan.order) {
    if (h.size() > 1) h += ',';
    h += json_string(*p.name, path, "tensor name '" + *p.name + "'");
    h += ":{\"dtype\":\"";
    h += *safetensors_dtype_from_torch(p.tensor->scalar_type());
    h += "\",\"shape\":[";
    for (int64_t i = 0; i < p.tensor->dim(); ++i) h += (i ? "," : "") + std::to_string(p.tensor->size(i));
    h += "],\"data_offsets\":[" + std::to_string(offset) + ',' + std::to_string(offset + p.nbytes) + "]}";
    offset += p.nbytes;
  }
  h += '}';
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > kSafetensorsMaxHeaderBytes)
    input_fail(path, "", "cannot save: the header would be ", h.size(), " bytes, over the limit of ",
               kSafetensorsMaxHeaderBytes);
  return plan;
}

void write_plan(const std::string& path, const Plan& plan) {
  AtomicFile out(path);
  std::array<char, 8> len{};
  for (size_t i = 0; i < 8; ++i) len[i] = static_cast<char>((plan.header.size() >> (8 * i)) & 0xff);
  out.write(len.data(), len.size());
  out.write(plan.header);
  for (const auto& p : plan.order) {
    at::Tensor t = p.tensor->detach();
    if (t.is_conj()) t = t.resolve_conj();
    if (t.is_neg()) t = t.resolve_neg();
    t = t.to(at::kCPU).contiguous();
    STRAND_ASSERT(static_cast<uint64_t>(t.nbytes()) == p.nbytes, "tensor '", *p.name, "' changed size while saving");
    out.write(t.data_ptr(), p.nbytes);
  }
  out.commit();
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_plan(path, plan_file(path, tensors, metadata));
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  const std::string text = read_file(path);
  const json root = parse_json_unique(text.data(), text.data() + text.size(), path, [&](const Duplicate& d) {
    if (d.parents.size() == 1 && d.parents.front() == "weight_map")
      parse_fail(path, d.key, "tensor appears twice in \"weight_map\"");
    std::string where;
    for (const auto& p : d.parents) where += "\"" + p + "\".";
    parse_fail(path, "", "duplicate key ", where, "\"", d.key, "\"");
  });
  if (!root.is_object()) parse_fail(path, "", "index must be a JSON object, found ", brief(root));
  SafetensorsIndex index;
  index.path = path;
  if (root.contains("metadata")) {
    const json& meta = root.at("metadata");
    if (!meta.is_object()) parse_fail(path, "", "\"metadata\" must be an object, found ", brief(meta));
    if (meta.contains("total_size")) index.total_size = as_count(meta.at("total_size"));
  }
  if (!root.contains("weight_map")) parse_fail(path, "", "missing key \"weight_map\"");
  const json& map = root.at("weight_map");
  if (!map.is_object()) parse_fail(path, "", "\"weight_map\" must be an object, found ", brief(map));
  for (const auto& item : map.items()) {
    const std::string& name = item.key();
    if (!item.value().is_string())
      parse_fail(path, name, "shard file must be a string, found ", brief(item.value()));
    const std::string shard = item.value().get<std::string>();
    const fs::path p(shard);
    bool dotdot = false;
    for (const auto& part : p) dotdot = dotdot || part == "..";
    if (shard.empty() || p.is_absolute() || dotdot)
      parse_fail(path, name, "shard file '", shard,
                 "' must be a relative name inside the index's directory (no '..', not absolute)");
    index.weight_map.emplace(name, shard);
  }
  return index;
}

std::map<std::string, at::Tensor> load_sharded(const std::string& index_or_dir, const SafetensorsLoadOptions& options) {
  const std::string index_path =
      fs::is_directory(index_or_dir) ? (fs::path(index_or_dir) / kSafetensorsIndexName).string() : index_or_dir;
  const SafetensorsIndex index = read_safetensors_index(index_path);
  const fs::path dir = fs::path(index_path).parent_path();

  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : index.weight_map) by_shard[shard].push_back(name);

  std::map<std::string, at::Tensor> out;
  for (const auto& [shard, names] : by_shard) {
    const std::string shard_path = (dir / shard).string();
    if (!fs::exists(shard_path))
      parse_fail(index_path, names.front(), "shard '", shard, "' does not exist (looked for ", shard_path, ")");
    const SafetensorsFile file = SafetensorsFile::open(shard_path);
    for (const auto& name : names)
      if (!file.contains(name)) parse_fail(index_path, name, "not found in shard '", shard, "'");
    for (const auto& name : file.names()) {
      const auto it = index.weight_map.find(name);
      if (it == index.weight_map.end() || it->second != shard)
        parse_fail(index_path, name, "shard '", shard, "' holds this tensor but the index ",
                   it == index.weight_map.end() ? std::string("does not list it")
                                                : "assigns it to '" + it->second + "'");
    }
    for (const auto& name : names) out.emplace(name, file.tensor(name, options));
  }
  return out;
}

namespace {

bool is_shard_name(const std::string& n) {
  // model-00001-of-00003.safetensors
  if (n.size() != 32 || n.compare(0, 6, "model-") != 0 || n.compare(11, 4, "-of-") != 0 ||
      n.compare(20, 12, ".safetensors") != 0)
    return false;
  for (size_t i : {6, 7, 8, 9, 10, 15, 16, 17, 18, 19})
    if (n[i] < '0' || n[i] > '9') return false;
  return true;
}

std::string shard_name(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i, n);
  return buf;
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  if (ec) throw IoError("cannot remove '" + p.string() + "': " + ec.message());
}

}  // namespace

std::vector<std::string> save_sharded(const std::string& dir, const std::map<std::string, at::Tensor>& tensors,
                                      uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata) {
  STRAND_CHECK(max_shard_bytes > 0, "save_sharded: max_shard_bytes must be positive");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create directory '" + dir + "': " + ec.message());

  // Hugging Face's split: in order, open a new shard when the next tensor would overflow the
  // current one; a tensor over the limit gets its own shard, placed where it was met.
  std::vector<std::map<std::string, at::Tensor>> shards;
  std::map<std::string, at::Tensor> current;
  uint64_t current_bytes = 0;
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) {
    const uint64_t bytes =
        t.defined() ? static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.element_size()) : 0;
    total += bytes;
    if (bytes > max_shard_bytes) {
      shards.push_back({{name, t}});
      continue;
    }
    if (bytes > max_shard_bytes - current_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.emplace(name, t);
    current_bytes += bytes;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));

  const fs::path root(dir);
  const size_t n = shards.size();
  std::vector<std::string> names;
  std::vector<Plan> plans;
  for (size_t i = 0; i < n; ++i) {
    names.push_back(n == 1 ? std::string(kSafetensorsFileName) : shard_name(i + 1, n));
    plans.push_back(plan_file((root / names.back()).string(), shards[i], metadata));
  }

  const fs::path index_path = root / kSafetensorsIndexName;
  remove_file(index_path);
  std::vector<std::string> written;
  for (size_t i = 0; i < n; ++i) {
    written.push_back((root / names[i]).string());
    write_plan(written.back(), plans[i]);
  }
  if (n > 1) {
    json weight_map = json::object();
    for (size_t i = 0; i < n; ++i)
      for (const auto& entry : shards[i]) weight_map[entry.first] = names[i];
    const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_file_atomic(index_path.string(), index.dump(2) + "\n");
    written.push_back(index_path.string());
  }

  const std::set<std::string> keep(names.begin(), names.end());
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string file = entry.path().filename().string();
    if (keep.count(file)) continue;
    if (is_shard_name(file) || (n > 1 && file == kSafetensorsFileName)) remove_file(entry.path());
  }
  return written;
}

std::map<std::string, at::Tensor> load_weights(const std::string& path, const SafetensorsLoadOptions& options) {
  if (fs::is_directory(path)) {
    const fs::path single = fs::path(path) / kSafetensorsFileName;
    if (fs::exists(single)) return load_safetensors(single.string(), options);
    const fs::path index = fs::path(path) / kSafetensorsIndexName;
    if (fs::exists(index)) return load_sharded(index.string(), options);
    input_fail(path, "", "directory holds neither ", kSafetensorsFileName, " nor ", kSafetensorsIndexName);
  }
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return load_sharded(path, options);
  return load_safetensors(path, options);
}

}  // namespace strand::io
