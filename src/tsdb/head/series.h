#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/sample.h"
#include "index/symbols.h"
#include "tsdb/chunkenc/histogram.h"
#include "tsdb/chunkenc/xor.h"

namespace strata::tsdb {

// Outcome of appending one sample to a series.
enum class AppendResult {
  kAppended,
  kDuplicate,           // same timestamp and same value bits: accepted silently (retries)
  kDuplicateTimestamp,  // same timestamp, different value
  kOutOfOrder,          // older than the newest sample and out-of-order ingestion is off
  kTooOld,              // older than the newest sample by more than the out-of-order window
};

// A completed, immutable Gorilla chunk.
struct ClosedChunk {
  int64_t min_t;
  int64_t max_t;
  uint32_t size;
  std::unique_ptr<uint8_t[]> data;
  std::span<const uint8_t> bytes() const { return {data.get(), size}; }
};

// MemSeries is one series in the head: its interned labels, closed chunks, the open chunk
// being appended to, and (with an out-of-order window) a sorted buffer of late samples.
// Identity fields are immutable after construction. Sample data is guarded by the head's
// stripe lock for this series: callers of Append, ForEachSample and the accessors of sample
// data must hold it. Owned by the Head; never moves in memory.
class MemSeries {
 public:
  MemSeries(uint32_t ref, uint64_t hash, std::span<const index::LabelSym> labels);
  MemSeries(const MemSeries&) = delete;
  MemSeries& operator=(const MemSeries&) = delete;

  uint32_t ref() const { return ref_; }
  uint64_t hash() const { return hash_; }
  std::span<const index::LabelSym> labels() const { return {labels_.get(), num_labels_}; }
  bool LabelsEqual(std::span<const LabelView> other) const {
    return index::LabelsEqual(labels(), other);
  }
  Labels OwnedLabels() const { return index::OwnedLabels(labels()); }
  // Whether an append by this process has been given these labels, so they passed its
  // label rules (ingest validation): an input with equal labels passes them too. A series
  // replayed from the WAL starts unchecked, as the rules may have changed since.
  bool labels_checked() const { return labels_checked_.load(std::memory_order_relaxed); }
  void set_labels_checked() { labels_checked_.store(true, std::memory_order_relaxed); }
  // Where the next append writes: the open chunk's header (its sample count) and last byte,
  // both null when no chunk is open. Addresses for a batch to prefetch ahead of its appends;
  // the caller holds the stripe lock.
  struct AppendSpots {
    const void* header = nullptr;
    const void* end = nullptr;
  };
  AppendSpots AppendPosition() const {
    if (head_chunk_.empty()) return {};
    return {head_chunk_.data(), &head_chunk_.back()};
  }

  // Appends (t, v). `ooo_window_ms` > 0 accepts samples up to that much older than the
  // newest one.
  AppendResult Append(int64_t t, double v, int64_t ooo_window_ms);
  // Appends a histogram sample, under the same rules as Append; a duplicate is an equal
  // histogram at the same time. Floats and histograms may alternate in one series.
  AppendResult AppendHistogram(int64_t t, std::shared_ptr<const histogram::FloatHistogram> h,
                               int64_t ooo_window_ms);
  // Installs a closed chunk read from a checkpoint; false if it overlaps existing data.
  bool AddClosedChunk(int64_t min_t, int64_t max_t, std::span<const uint8_t> bytes);

  // Calls fn for every sample in [mint, maxt] in timestamp order.
  void ForEachSample(int64_t mint, int64_t maxt,
                     const std::function<void(int64_t, double)>& fn) const;
  // Appends the samples in [mint, maxt] to `out`, in timestamp order (queries).
  void AppendSamples(int64_t mint, int64_t maxt, std::vector<Sample>& out) const;
  // Appends the histogram samples in [mint, maxt] to `out`, in timestamp order.
  void AppendHistograms(int64_t mint, int64_t maxt,
                        std::vector<histogram::HistogramSample>& out) const;
  // Calls fn(min_t, max_t, bytes) for every histogram chunk, the open one included
  // (checkpoints, block cuts).
  void ForEachHistogramChunk(
      const std::function<void(int64_t, int64_t, std::span<const uint8_t>)>& fn) const;
  // Late histogram samples (sorted), outside the chunks; null when there are none.
  const std::vector<histogram::HistogramSample>* ooo_histograms() const {
    return histograms_ && !histograms_->ooo.empty() ? &histograms_->ooo : nullptr;
  }
  // Calls fn(min_t, max_t, bytes) for every chunk including the open one (checkpoints).
  void ForEachChunk(
      const std::function<void(int64_t, int64_t, std::span<const uint8_t>)>& fn) const;
  const std::vector<Sample>* ooo_samples() const { return ooo_.get(); }

  // Drops chunks (the open one included) and late samples that end before `t`: their
  // samples are in an uploaded block. Returns the bytes freed.
  size_t TruncateBefore(int64_t t);

  bool empty() const {
    return num_samples_in_head_chunk() == 0 && chunks_.empty() && !ooo_ && !histograms_;
  }
  size_t MemoryBytes() const;

 private:
  int num_samples_in_head_chunk() const { return app_ ? app_->num_samples() : 0; }
  // Calls fn(t, v) for the samples in [mint, maxt], merging the out-of-order buffer in.
  template <typename Fn>
  void VisitSamples(int64_t mint, int64_t maxt, Fn&& fn) const;
  void CutChunk();
  bool HasSampleAt(int64_t t, double* v) const;
  bool HasHistogramAt(int64_t t) const;

  const uint32_t ref_;
  const uint64_t hash_;
  const uint16_t num_labels_;
  std::atomic<bool> labels_checked_{false};  // set without the stripe lock (Db::Append)
  const std::unique_ptr<index::LabelSym[]> labels_;

  int64_t head_min_t_ = 0;  // first sample of the open chunk
  int64_t max_t_ = INT64_MIN;
  std::vector<ClosedChunk> chunks_;
  std::vector<uint8_t> head_chunk_;
  std::optional<chunkenc::XorAppender> app_;  // appends into head_chunk_ while it is open
  std::unique_ptr<std::vector<Sample>> ooo_;  // late samples, sorted, only when present
  // Histogram samples, only when present: chunks as the float samples have (one bucket
  // layout per chunk), and late ones kept decoded.
  struct HistogramStore {
    std::vector<ClosedChunk> closed;
    std::vector<uint8_t> open;
    std::optional<chunkenc::FloatHistogramAppender> app;  // appends into `open`
    int64_t open_min_t = 0;
    std::vector<histogram::HistogramSample> ooo;  // sorted
    bool empty() const { return closed.empty() && !app && ooo.empty(); }
  };
  void CutHistogramChunk();
  std::unique_ptr<HistogramStore> histograms_;
};

template <typename Fn>
void MemSeries::VisitSamples(int64_t mint, int64_t maxt, Fn&& fn) const {
  const std::vector<Sample>* ooo = ooo_.get();
  size_t oi = 0;
  if (ooo) {
    oi = static_cast<size_t>(std::lower_bound(ooo->begin(), ooo->end(), mint,
                                              [](const Sample& s, int64_t x) { return s.t < x; }) -
                             ooo->begin());
  }
  // Emits late samples that sort before `t`, merging them into the in-order stream.
  auto flush_ooo_before = [&](int64_t t) {
    while (ooo && oi < ooo->size() && (*ooo)[oi].t < t && (*ooo)[oi].t <= maxt) {
      fn((*ooo)[oi].t, (*ooo)[oi].v);
      ++oi;
    }
  };
  auto scan = [&](std::span<const uint8_t> bytes) {
    chunkenc::XorIterator it(bytes);
    while (it.Next()) {
      if (it.t() > maxt) break;
      if (it.t() < mint) continue;
      flush_ooo_before(it.t());
      fn(it.t(), it.v());
    }
  };
  for (const auto& c : chunks_) {
    if (c.max_t < mint || c.min_t > maxt) continue;
    scan(c.bytes());
  }
  if (app_ && head_min_t_ <= maxt) scan(head_chunk_);
  flush_ooo_before(INT64_MAX);
}

}  // namespace strata::tsdb
