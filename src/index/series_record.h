#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/coding.h"
#include "base/labels.h"
#include "base/status.h"

// The payload that gives a head's series (metric series, log streams) their refs in a WAL:
// per series, uvarint ref, uvarint label count, then each name and value length-prefixed
// (docs/format/wal.md). Encoders append to a caller-owned buffer; the decoder borrows from the
// payload and validates every length.
namespace strata::index {

struct RefSeries {
  uint32_t ref;
  std::vector<LabelView> labels;
};

// A label list as WAL records keep it (series labels, log entries' metadata, exemplars'
// labels): uvarint count, then each name and value length-prefixed.
void PutLabelList(std::string& out, std::span<const LabelView> labels);
// Appends the list at `r` to `out`, borrowing from the payload; false on malformed input.
bool ReadLabelList(ByteReader& r, std::vector<LabelView>& out);

void EncodeSeries(std::string& out, uint32_t ref, std::span<const LabelView> labels);
// Appends every series of the payload to `out`; kCorruption naming `what` on malformed input.
Status DecodeSeries(std::string_view payload, std::vector<RefSeries>& out,
                    std::string_view what = "series");

// Replays the series records of a WAL into a head (a metrics or log head: anything with
// GetOrCreate(hash, labels, bool* created, std::optional<uint32_t> ref) and ByRef) and finds
// the series the other records name by ref. A series that left the head and came back got a
// new ref; until the checkpoint that follows its removal is written, both its old and its new
// record are in the log, so a record for labels the head holds under another ref makes that
// ref an alias. kCorruption for a ref that belongs to other labels or is implausibly large.
template <typename Head, typename Series>
class SeriesReplay {
 public:
  explicit SeriesReplay(Head& head) : head_(head) {}

  Status Apply(std::string_view payload, std::string_view what = "series") {
    std::vector<RefSeries> series;
    RETURN_IF_ERROR(DecodeSeries(payload, series, what));
    for (const auto& s : series) {
      bool created;
      Series* got = head_.GetOrCreate(HashLabels(s.labels), s.labels, &created, s.ref);
      if (got == nullptr) {
        return Status::Corruption(
            fmt::format("{} ref {} is reused or implausibly large", what, s.ref));
      }
      if (got->ref() != s.ref) aliases_[s.ref] = got->ref();
    }
    return Status::Ok();
  }

  // The series a record of the log names by `ref`, or nullptr.
  Series* ByRef(uint32_t ref) const {
    auto it = aliases_.find(ref);
    return head_.ByRef(it == aliases_.end() ? ref : it->second);
  }

 private:
  Head& head_;
  std::unordered_map<uint32_t, uint32_t> aliases_;  // logged ref -> the head's ref
};

}  // namespace strata::index
