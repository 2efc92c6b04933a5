// Build identity, recorded in every output file's provenance.
#pragma once

namespace strand {
/// Semantic version of strand, e.g. "0.1.0".
const char* version();
/// Short git commit hash of the source tree at configure time ("unknown" outside a git checkout).
const char* git_hash();
}  // namespace strand
