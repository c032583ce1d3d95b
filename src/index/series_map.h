#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/labels.h"

namespace strata::index {

// SeriesMap finds series (metric series, log streams: any T with
// `bool LabelsEqual(std::span<const LabelView>) const`) by label-set hash in an open-addressing
// table (linear probing) that stores each hash inline, so a lookup usually costs one cache
// miss for the slot and one for the series. Series with colliding hashes simply occupy further
// slots and are told apart by comparing labels. Not thread-safe: its owner guards it.
template <typename T>
class SeriesMap {
 public:
  T* Find(uint64_t hash, std::span<const LabelView> labels) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.series == nullptr) return nullptr;
      if (s.hash == hash && s.series->LabelsEqual(labels)) return s.series;
    }
  }

  // Starts fetching the slot where a lookup of `hash` begins, so that a batch of lookups
  // waits for its cache misses together rather than one after another.
  void PrefetchSlot(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }
  // The first series stored under `hash`, its labels not compared (nullptr if there is none):
  // the likely answer of Find, whose memory a batch can fetch before comparing labels.
  T* FirstWithHash(uint64_t hash) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.series == nullptr || s.hash == hash) return s.series;
    }
  }

  // Adds a series that Find did not return.
  void Insert(uint64_t hash, T* series) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    Place(hash, series);
    ++size_;
  }

  // Removes `series`, which must be in the map under `hash`. Later entries of its probe run
  // move back into the gap (backward-shift deletion), so no tombstones are needed.
  void Erase(uint64_t hash, const T* series) {
    size_t hole = hash & mask_;
    while (slots_[hole].series != series) hole = (hole + 1) & mask_;
    for (size_t j = (hole + 1) & mask_; slots_[j].series != nullptr; j = (j + 1) & mask_) {
      // The entry at j may fill the hole unless its home slot lies cyclically in (hole, j].
      size_t home = slots_[j].hash & mask_;
      bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
  }

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t hash = 0;
    T* series = nullptr;
  };

  void Place(uint64_t hash, T* series) {
    size_t i = hash & mask_;
    while (slots_[i].series != nullptr) i = (i + 1) & mask_;
    slots_[i] = {hash, series};
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.series != nullptr) Place(s.hash, s.series);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace strata::index
