// Groups of identical and near-identical sequences, used as leakage units when a task is split:
// two sequences that share most of their k-mers must not land in different splits.
//
// Rule: sequences are linked when they are identical (case-insensitive) or when the Jaccard index
// of their k-mer sets is at least `min_jaccard`; groups are the connected components. With random
// substitutions at identity p, the expected k-mer Jaccard is p^k / (2 - p^k), so k = 5 and 0.5
// link proteins above about 92 % identity over their whole length, k = 7 nucleotides above about
// 94 %. Candidate pairs come from MinHash locality-sensitive hashing (Broder 1997; banding as in
// Leskovec, Rajaraman & Ullman, Mining of Massive Datasets, ch. 3): `bands` bands of `rows`
// min-hashes each; a pair sharing a band is verified with the exact Jaccard index. A pair at
// Jaccard J is found with probability 1 - (1 - J^rows)^bands (0.99 at J = 0.5 with 16 x 2), so
// a near-identical pair is missed rarely, and only when no chain of other near-identical pairs
// links it. Within a band bucket each member is checked against the first member and its
// predecessor, which keeps the cost linear in the bucket size.
//
// The result is a deterministic function of the input (fixed hash functions, no seed). Sequences
// shorter than k are grouped only with identical sequences. Thread-safe (pure function).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strand::bio::annotation {

struct NearIdentityOptions {
  int k = 5;                 ///< k-mer length (1..32)
  double min_jaccard = 0.5;  ///< link threshold on the k-mer Jaccard index, in (0, 1]
  int bands = 16;            ///< LSH bands
  int rows = 2;              ///< min-hashes per band
};

/// One group id per sequence: the index of the first sequence of its group, so ids are stable
/// under the input order. Throws InputError for options out of range.
std::vector<int64_t> near_identity_groups(const std::vector<std::string>& sequences,
                                          const NearIdentityOptions& options = {});

/// Exact Jaccard index of the k-mer sets of two sequences (case-insensitive); 1 when both are
/// shorter than k and identical, 0 when only one is. Exposed for tests.
double kmer_jaccard(const std::string& a, const std::string& b, int k);

}  // namespace strand::bio::annotation
