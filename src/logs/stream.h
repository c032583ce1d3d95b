#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "index/symbols.h"

namespace strata::logs {

// A log entry as a query gets it.
struct Entry {
  int64_t ts_ns = 0;  // Unix nanoseconds
  std::string line;
  Labels metadata;  // structured metadata, in the order it was sent
  bool operator==(const Entry&) const = default;
};

// A stored run of a stream's entries, as an index knows it without reading the entries: a
// block page or a head chunk (Loki's index stats count chunks so).
struct Span {
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;  // of lines and structured metadata
};

// An entry as a reader holds it while visiting: views valid during the visit only.
struct EntryRef {
  int64_t ts_ns = 0;
  std::string_view line;
  std::span<const LabelView> metadata;
};
Entry ToEntry(const EntryRef& e);
// Called per entry by the visiting reads; an error stops the read and is returned by it.
using EntryVisitor = std::function<Status(const EntryRef&)>;

// Removes from `entries` (sorted by time) each entry identical in time, line and metadata to
// an earlier one, keeping the order of the rest.
void RemoveDuplicates(std::vector<Entry>& entries);

enum class AppendResult {
  kAppended,
  kDuplicate,  // the same timestamp, line and metadata are stored already (a retried push)
  kTooOld,     // older than the stream's newest entry by more than the out-of-order window
};

// Stream is one log stream in a head: its interned labels and its entries in chunks of about
// kChunkBytes. The open chunk keeps each entry's timestamp and offset beside the line and
// metadata bytes; a full chunk is closed: zstd-packed (timestamps, then the entries' bytes),
// which holds recent logs in a fraction of their size. Every chunk keeps a key per entry (a
// hash of timestamp, line and metadata: a hash map while open, sorted once closed), so a late
// entry is checked for an identical stored one in O(log n) per chunk of its time, however many
// entries share a timestamp; only a key that matches unpacks its chunk to compare the bytes.
// Identity fields are immutable; entry data is guarded by the head's lock for this stream (see
// Head). Never moves in memory.
class Stream {
 public:
  static constexpr size_t kChunkBytes = size_t{256} << 10;

  // A closed chunk's entries as last unpacked, kept by the caller across appends (a batch's
  // retried entries unpack their chunk once) or reads. Holds up to kChunkBytes and more.
  struct UnpackCache {
    uint32_t ref = 0;  // the stream and chunk unpacked: 0 for none
    uint64_t chunk = 0;
    std::vector<int64_t> ts;
    std::vector<uint32_t> offsets;
    std::string raw;  // the unpacked frame; the entries' bytes from data_begin
    size_t data_begin = 0;
  };

  Stream(uint32_t ref, uint64_t hash, std::span<const index::LabelSym> labels);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  uint32_t ref() const { return ref_; }
  uint64_t hash() const { return hash_; }
  std::span<const index::LabelSym> labels() const { return {labels_.get(), num_labels_}; }
  bool LabelsEqual(std::span<const LabelView> other) const {
    return index::LabelsEqual(labels(), other);
  }
  Labels OwnedLabels() const { return index::OwnedLabels(labels()); }

  // Appends an entry; entries up to `window_ns` older than the newest one are accepted.
  // `cache` holds a chunk unpacked to rule out a duplicate.
  AppendResult Append(int64_t ts_ns, std::string_view line, std::span<const LabelView> metadata,
                      int64_t window_ns, UnpackCache& cache);
  // Appends the entries with timestamps in [mint, maxt] to `out`, oldest first (entries with
  // equal timestamps in the order they arrived); without the sealed ones when they were
  // sealed by seal `shipped` or before (a block that holds them is visible).
  void Entries(int64_t mint, int64_t maxt, uint64_t shipped, std::vector<Entry>& out) const;
  // Appends a Span per chunk that meets [mint, maxt], but sealed ones as Entries leaves out.
  void Spans(int64_t mint, int64_t maxt, uint64_t shipped, std::vector<Span>& out) const;

  // Block cutting: Seal closes the chunks held now, so later entries go to new ones; the
  // sealed entries are written to a block and, once it is uploaded, dropped (DropSealed,
  // which returns the bytes freed). A block writer reads them in SealedBatches batches,
  // oldest first: one per chunk when the chunks follow each other in time, else one.
  // `seal` numbers the head's seals, increasing from 1.
  void Seal(uint64_t seal);
  bool has_sealed() const { return sealed_ > 0; }
  size_t SealedBatches() const;
  void SealedBatch(size_t k, std::vector<Entry>& out) const;
  size_t DropSealed();
  bool empty() const { return chunks_.empty(); }

  uint64_t num_entries() const { return num_entries_; }
  int64_t min_ts() const { return min_ts_; }
  int64_t max_ts() const { return max_ts_; }
  size_t MemoryBytes() const;

 private:
  struct Chunk {
    uint64_t seq = 0;  // numbers the stream's chunks, for UnpackCache
    uint32_t count = 0;
    uint64_t bytes = 0;  // of lines and metadata
    int64_t min_ts = INT64_MAX;
    int64_t max_ts = INT64_MIN;
    bool ordered = true;  // arrival order is time order
    bool closed = false;
    // Open: per entry its timestamp, where its bytes start in `data`, and its bytes (uvarint
    // length + line, uvarint count + metadata pairs); entry key -> entry index.
    std::vector<int64_t> ts;
    std::vector<uint32_t> offsets;
    std::string data;
    std::unordered_multimap<uint64_t, uint32_t> open_keys;
    // Closed: one zstd frame of the timestamps (zigzag varint deltas) and then `data` (empty:
    // the open form is kept); entry key -> entry index, sorted.
    std::string packed;
    std::vector<std::pair<uint64_t, uint32_t>> keys;
  };
  // A chunk's entries in place (open) or unpacked into a cache (closed).
  struct View {
    std::span<const int64_t> ts;
    std::span<const uint32_t> offsets;
    std::string_view data;
  };
  View ViewChunk(const Chunk& c, UnpackCache& cache) const;
  static Entry Decode(const View& v, size_t i);
  // Sorts a full chunk's keys and packs its entries (unless zstd fails: then they stay as
  // they are).
  static void Close(Chunk& c);
  // Appends the entries of chunks [first, last) in [mint, maxt] to `out`, oldest first.
  void EntriesOf(size_t first, size_t last, int64_t mint, int64_t maxt,
                 std::vector<Entry>& out) const;
  // The first chunk a read with `shipped` (Entries) sees.
  size_t FirstUnshipped(uint64_t shipped) const { return seal_ <= shipped ? sealed_ : 0; }
  // Whether entry i of `v` is exactly (line, metadata), compared in place.
  static bool Equals(const View& v, size_t i, std::string_view line,
                     std::span<const LabelView> metadata);
  // Whether an entry equal to (ts, line, metadata), whose key is `key`, is stored.
  bool Contains(int64_t ts_ns, uint64_t key, std::string_view line,
                std::span<const LabelView> metadata, UnpackCache& cache) const;

  const uint32_t ref_;
  const uint64_t hash_;
  const uint32_t num_labels_;
  const std::unique_ptr<index::LabelSym[]> labels_;
  std::vector<Chunk> chunks_;  // the last one is appended to, unless sealed or closed
  size_t sealed_ = 0;          // chunks_[0, sealed_) are sealed
  uint64_t seal_ = 0;          // by this seal
  uint64_t next_seq_ = 1;
  uint64_t num_entries_ = 0;
  int64_t min_ts_ = INT64_MAX;
  int64_t max_ts_ = INT64_MIN;  // the newest ever appended: the out-of-order window's anchor
};

}  // namespace strata::logs
