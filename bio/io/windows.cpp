#include "bio/io/windows.h"

#include <algorithm>

#include "libseq/core/error.h"

namespace strand::bio::io {

std::vector<Window> make_windows(int64_t length, const WindowOptions& o) {
  STRAND_CHECK(o.window > 0, "window length must be positive (got ", o.window, ")");
  STRAND_CHECK(o.stride >= 0, "window stride must not be negative (got ", o.stride, ")");
  const int64_t stride = o.stride > 0 ? o.stride : o.window;
  std::vector<Window> out;
  for (int64_t start = 0; start < length; start += stride) {
    const int64_t end = std::min(length, start + o.window);
    if (end - start < o.window && !o.keep_last) break;
    out.push_back({start, end});
    if (end == length) break;
  }
  return out;
}

}  // namespace strand::bio::io
