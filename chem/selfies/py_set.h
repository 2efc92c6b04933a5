// The iteration order of a CPython 3.11 `set` of non-negative ints (internal to chem/selfies).
//
// The selfies reference picks the next unmatched node of its Kekulé matching with set.pop(), so
// the Kekulé structure it writes, and hence the SELFIES string, depends on where CPython's hash
// table keeps each int. This models that table: open addressing over a power-of-two table
// (smallest 8), hash(i) = i, runs of 9 linear probes then perturbed jumps, growth to the smallest
// power of two above 4x the used count once the table is 3/5 full, removal leaving a dummy slot,
// and pop() scanning from a finger just past the last popped slot (Objects/setobject.c).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace strand::chem::selfies::detail {

class PySet {
 public:
  PySet() : table_(kMinSize) {}

  bool empty() const { return used_ == 0; }

  void add(int64_t key) {
    const size_t slot = find(key);
    if (table_[slot].state == State::Active) return;
    // Only fresh inserts happen in selfies (the set is built once, then only shrinks), so the slot
    // found is the first empty one of the probe sequence.
    table_[slot] = {key, State::Active};
    ++fill_;
    ++used_;
    if (fill_ * 5 >= mask() * 3) resize(used_ > 50000 ? used_ * 2 : used_ * 4);
  }

  void discard(int64_t key) {
    const size_t slot = find(key);
    if (table_[slot].state != State::Active) return;
    table_[slot].state = State::Dummy;
    --used_;
  }

  /// Removes and returns the element set.pop() would return. The set must not be empty.
  int64_t pop() {
    size_t i = finger_ & mask();
    while (table_[i].state != State::Active) i = i == mask() ? 0 : i + 1;
    table_[i].state = State::Dummy;
    --used_;
    finger_ = i + 1;
    return table_[i].key;
  }

 private:
  enum class State : uint8_t { Empty, Active, Dummy };
  struct Entry {
    int64_t key = 0;
    State state = State::Empty;
  };
  static constexpr size_t kMinSize = 8;
  static constexpr size_t kLinearProbes = 9;
  static constexpr unsigned kPerturbShift = 5;

  size_t mask() const { return table_.size() - 1; }

  /// The slot holding `key`, or the empty slot that ends its probe sequence.
  size_t find(int64_t key) const {
    const size_t m = mask();
    auto perturb = static_cast<size_t>(key);
    size_t i = perturb & m;
    while (true) {
      const size_t probes = i + kLinearProbes <= m ? kLinearProbes : 0;
      for (size_t j = i; j <= i + probes; ++j) {
        const Entry& e = table_[j];
        if (e.state == State::Empty) return j;
        if (e.state == State::Active && e.key == key) return j;
      }
      perturb >>= kPerturbShift;
      i = (i * 5 + 1 + perturb) & m;
    }
  }

  void resize(size_t min_used) {
    size_t size = kMinSize;
    while (size <= min_used) size <<= 1;
    std::vector<Entry> old(size);
    old.swap(table_);
    fill_ = used_;
    for (const Entry& e : old)
      if (e.state == State::Active) table_[find(e.key)] = e;  // clean insert: no dummies yet
  }

  std::vector<Entry> table_;
  size_t fill_ = 0;
  size_t used_ = 0;
  size_t finger_ = 0;
};

}  // namespace strand::chem::selfies::detail
