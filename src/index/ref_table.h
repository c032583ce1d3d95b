#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <roaring/roaring.hh>
#include <unordered_map>

namespace strata::index {

// RefTable owns a head's series (any T with `uint32_t ref() const`) by ref. Refs are handed out in
// increasing order and never reused, and series leave the head when their samples are in blocks, so
// the live refs thin out over time: the table keeps pages of 1024 slots that hold at least one
// series, and nothing for the gaps between them. Not thread-safe: the Head guards it with its index
// lock.
template <typename T>
class RefTable {
 public:
  T* Get(uint32_t ref) const {
    auto it = pages_.find(ref >> kPageBits);
    return it == pages_.end() ? nullptr : it->second->slots[ref & kPageMask].get();
  }

  // Calls fn(T*) for each ref of `refs` that holds a series, in ref order.
  template <typename Fn>
  void ForEach(const Roaring& refs, Fn&& fn) const {
    uint32_t page_no = UINT32_MAX;
    const Page* page = nullptr;
    for (uint32_t r : refs) {
      if (r >> kPageBits != page_no) {
        page_no = r >> kPageBits;
        auto it = pages_.find(page_no);
        page = it == pages_.end() ? nullptr : it->second.get();
      }
      if (page != nullptr && page->slots[r & kPageMask]) fn(page->slots[r & kPageMask].get());
    }
  }

  // Stores `s` under its ref, which must be free.
  void Put(std::unique_ptr<T> s) {
    auto& page = pages_[s->ref() >> kPageBits];
    if (!page) page = std::make_unique<Page>();
    ++page->used;
    page->slots[s->ref() & kPageMask] = std::move(s);
  }

  // Takes the series with `ref` out of the table (nullptr if there is none).
  std::unique_ptr<T> Take(uint32_t ref) {
    auto it = pages_.find(ref >> kPageBits);
    if (it == pages_.end()) return nullptr;
    std::unique_ptr<T> s = std::move(it->second->slots[ref & kPageMask]);
    if (s && --it->second->used == 0) pages_.erase(it);
    return s;
  }

  size_t MemoryBytes() const { return pages_.size() * (sizeof(Page) + 4 * sizeof(void*)); }

 private:
  static constexpr int kPageBits = 10;
  static constexpr uint32_t kPageMask = (1u << kPageBits) - 1;
  struct Page {
    std::array<std::unique_ptr<T>, size_t{1} << kPageBits> slots;
    uint32_t used = 0;
  };
  std::unordered_map<uint32_t, std::unique_ptr<Page>> pages_;
};

}  // namespace strata::index
