#include "bio/annotation/near_identity.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "libseq/core/error.h"

namespace strand::bio::annotation {
namespace {

uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string upper(const std::string& s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Sorted distinct k-mer codes of an upper-case sequence. k <= 8 packs the bytes exactly; longer
// k-mers are hashed (FNV-1a then mixed; a collision would only merge two k-mers).
std::vector<uint64_t> kmer_set(const std::string& s, int k) {
  std::vector<uint64_t> out;
  const auto K = static_cast<size_t>(k);
  if (s.size() < K) return out;
  out.reserve(s.size() - K + 1);
  for (size_t i = 0; i + K <= s.size(); ++i) {
    uint64_t code = 0;
    if (k <= 8) {
      for (size_t j = 0; j < K; ++j) code = (code << 8) | static_cast<unsigned char>(s[i + j]);
    } else {
      code = 0xcbf29ce484222325ULL;
      for (size_t j = 0; j < K; ++j) code = (code ^ static_cast<unsigned char>(s[i + j])) * 0x100000001b3ULL;
      code = mix64(code);
    }
    out.push_back(code);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

double jaccard_sets(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

struct UnionFind {
  std::vector<int64_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int64_t find(int64_t x) {
    while (parent[static_cast<size_t>(x)] != x) {
      parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
      x = parent[static_cast<size_t>(x)];
    }
    return x;
  }
  // The smaller index becomes the root, so a root is always its component's first member.
  void unite(int64_t a, int64_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);
    parent[static_cast<size_t>(b)] = a;
  }
};

}  // namespace

double kmer_jaccard(const std::string& a, const std::string& b, int k) {
  STRAND_CHECK(k >= 1 && k <= 32, "k-mer length must be 1..32 (got ", k, ")");
  const std::string ua = upper(a), ub = upper(b);
  const auto sa = kmer_set(ua, k), sb = kmer_set(ub, k);
  if (sa.empty() || sb.empty()) return ua == ub ? 1.0 : 0.0;
  return jaccard_sets(sa, sb);
}

std::vector<int64_t> near_identity_groups(const std::vector<std::string>& sequences,
                                          const NearIdentityOptions& options) {
  STRAND_CHECK(options.k >= 1 && options.k <= 32, "near-identity k-mer length must be 1..32 (got ", options.k, ")");
  STRAND_CHECK(options.min_jaccard > 0 && options.min_jaccard <= 1, "near-identity Jaccard threshold must be in (0, 1] (got ",
               options.min_jaccard, ")");
  STRAND_CHECK(options.bands >= 1 && options.rows >= 1 && options.bands * options.rows <= 1024,
               "near-identity LSH needs bands >= 1, rows >= 1 and bands x rows <= 1024 (got ", options.bands, " x ",
               options.rows, ")");
  const size_t n = sequences.size();
  UnionFind uf(n);
  std::vector<std::vector<uint64_t>> sets(n);
  {
    std::unordered_map<std::string, int64_t> first;
    for (size_t i = 0; i < n; ++i) {
      std::string u = upper(sequences[i]);
      sets[i] = kmer_set(u, options.k);
      const auto [it, fresh] = first.emplace(std::move(u), static_cast<int64_t>(i));
      if (!fresh) uf.unite(it->second, static_cast<int64_t>(i));
    }
  }
  const int hashes = options.bands * options.rows;
  std::vector<uint64_t> salts(static_cast<size_t>(hashes));
  for (int h = 0; h < hashes; ++h) salts[static_cast<size_t>(h)] = mix64(0x5eed0000ULL + static_cast<uint64_t>(h));
  std::vector<uint64_t> sketch(n * static_cast<size_t>(hashes), std::numeric_limits<uint64_t>::max());
  for (size_t i = 0; i < n; ++i) {
    uint64_t* row = sketch.data() + i * static_cast<size_t>(hashes);
    for (const uint64_t x : sets[i])
      for (int h = 0; h < hashes; ++h) row[h] = std::min(row[h], mix64(x ^ salts[static_cast<size_t>(h)]));
  }
  auto check = [&](int64_t a, int64_t b) {
    if (uf.find(a) == uf.find(b)) return;
    const auto& sa = sets[static_cast<size_t>(a)];
    const auto& sb = sets[static_cast<size_t>(b)];
    const double lo = static_cast<double>(std::min(sa.size(), sb.size()));
    const double hi = static_cast<double>(std::max(sa.size(), sb.size()));
    if (lo < options.min_jaccard * hi) return;  // J <= |small| / |large|
    if (jaccard_sets(sa, sb) >= options.min_jaccard) uf.unite(a, b);
  };
  std::vector<std::pair<uint64_t, int64_t>> keys;
  keys.reserve(n);
  for (int b = 0; b < options.bands; ++b) {
    keys.clear();
    for (size_t i = 0; i < n; ++i) {
      if (sets[i].empty()) continue;
      uint64_t key = mix64(static_cast<uint64_t>(b));
      for (int r = 0; r < options.rows; ++r)
        key = mix64(key ^ sketch[i * static_cast<size_t>(hashes) + static_cast<size_t>(b * options.rows + r)]);
      keys.emplace_back(key, static_cast<int64_t>(i));
    }
    std::sort(keys.begin(), keys.end());
    for (size_t s = 0; s < keys.size();) {
      size_t e = s + 1;
      while (e < keys.size() && keys[e].first == keys[s].first) ++e;
      for (size_t i = s + 1; i < e; ++i) {
        check(keys[s].second, keys[i].second);
        check(keys[i - 1].second, keys[i].second);
      }
      s = e;
    }
  }
  std::vector<int64_t> group(n);
  for (size_t i = 0; i < n; ++i) group[i] = uf.find(static_cast<int64_t>(i));
  return group;
}

}  // namespace strand::bio::annotation
