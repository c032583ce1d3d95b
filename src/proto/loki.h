#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"

namespace strata::proto {

// Loki's push API (POST /loki/api/v1/push): logproto.PushRequest, snappy-compressed protobuf,
// or its JSON form. docs/format/loki-push.md describes both.
struct LokiCounts {
  uint64_t entries = 0;
  uint64_t line_bytes = 0;
};

// One log entry of a decoded push. `line` and the structured metadata point into the request
// buffer, which must outlive the decoded form.
struct LokiEntry {
  int64_t ts_ns = 0;  // Unix nanoseconds
  std::string_view line;
  uint32_t metadata_begin = 0;  // this entry's pairs: LokiPush::metadata[begin, begin + count)
  uint32_t metadata_count = 0;
};

struct LokiStream {
  Labels labels;  // parsed from Loki's text form, sorted
  std::vector<LokiEntry> entries;
};

// A decoded PushRequest. Streams stay in request order, entries in stream order (a stream's
// label set may repeat across streams, as Loki allows).
struct LokiPush {
  std::vector<LokiStream> streams;
  std::vector<LabelView> metadata;  // every entry's structured metadata, entry after entry

  std::span<const LabelView> MetadataOf(const LokiEntry& e) const {
    return std::span<const LabelView>(metadata).subspan(e.metadata_begin, e.metadata_count);
  }
};

// Decodes a serialized PushRequest: every stream has a parseable, non-empty label set, entries
// have valid timestamps, nothing is truncated; InvalidArgument naming the problem otherwise.
Result<LokiPush> DecodeLokiPush(std::string_view data);

// Checks a serialized PushRequest as DecodeLokiPush does; counts entries and line bytes.
Result<LokiCounts> ScanLokiPush(std::string_view data);

// Transcodes the JSON form ({"streams":[{"stream":{...},"values":[["<ns>","<line>"(,{...})]]}]})
// into a serialized PushRequest.
Result<std::string> LokiJsonToProtobuf(std::string_view json);

// Writes a serialized PushRequest stream by stream: AddEntry appends to the stream begun last.
class LokiPushBuilder {
 public:
  // `labels`: sorted, valid Loki labels (written in Loki's text form).
  void BeginStream(const Labels& labels);
  void AddEntry(int64_t ts_ns, std::string_view line,
                std::span<const LabelView> structured_metadata = {});
  // The request; the builder is empty afterwards.
  std::string Finish();

 private:
  void EndStream();
  std::string out_, stream_, entry_, scratch_;
  bool open_ = false;
};

// Loki's text form of a sorted label set: {a="x", b="y"} with Go-quoted values.
std::string FormatLokiLabels(const Labels& labels);

// Parses a stream's label set as Loki writes it: {name="value", ...} with Go-quoted values.
Result<Labels> ParseLokiLabels(std::string_view s);

}  // namespace strata::proto
