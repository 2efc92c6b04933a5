// Windows over long sequences: fixed length, fixed stride, coordinates recorded.
#pragma once

#include <cstdint>
#include <vector>

namespace strand::bio::io {

struct WindowOptions {
  int64_t window = 0;     ///< window length in bases (> 0)
  int64_t stride = 0;     ///< step between window starts; 0 = window (adjacent, no overlap)
  bool keep_last = true;  ///< keep the final window when it is shorter than `window`
};

/// A window [begin, end) of a sequence, 0-based.
struct Window {
  int64_t begin;
  int64_t end;
  bool operator==(const Window& o) const { return begin == o.begin && end == o.end; }
};

/// The windows of a sequence of `length` bases: starts 0, stride, 2*stride, ... while the window
/// still adds bases not covered by the previous one. The last window may be shorter (dropped
/// unless keep_last); a sequence shorter than the window gives one short window (or none).
/// Throws InputError for window <= 0 or a negative stride.
std::vector<Window> make_windows(int64_t length, const WindowOptions& options);

}  // namespace strand::bio::io
