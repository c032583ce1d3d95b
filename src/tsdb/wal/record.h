#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "tsdb/wal/format.h"

// Payload encodings of WAL records (docs/format/wal.md). Encoders append to a caller-owned
// buffer; decoders borrow from the payload and validate every length.
namespace strata::wal {

struct RefSeries {
  uint32_t ref;
  std::vector<LabelView> labels;
};
struct RefSample {
  uint32_t ref;
  int64_t t;
  double v;
};
struct RefMetadata {
  std::string_view family;
  uint8_t type;
  std::string_view unit;
  std::string_view help;
};
struct RefChunk {
  uint32_t ref;
  int64_t min_t;
  int64_t max_t;
  std::string_view data;
};

// Appends one framed record (header + payload) to `out`.
void AppendFrame(std::string& out, RecordType type, std::string_view payload);

// RecordBuilder collects entries of one record type and frames them into records of about
// kTargetRecordSize bytes, so no record approaches kMaxRecordSize however large the batch.
// Borrows `out`, which must outlive it. Not thread-safe.
class RecordBuilder {
 public:
  static constexpr size_t kTargetRecordSize = 1 << 20;
  RecordBuilder(RecordType type, std::string& out) : type_(type), out_(out) {}
  ~RecordBuilder() { Flush(); }
  // The payload to append one entry to; call EndEntry after each entry.
  std::string& payload() { return payload_; }
  void EndEntry() {
    if (payload_.size() >= kTargetRecordSize) Flush();
  }
  void Flush() {
    if (payload_.empty()) return;
    AppendFrame(out_, type_, payload_);
    payload_.clear();
  }

 private:
  RecordType type_;
  std::string& out_;
  std::string payload_;
};

void EncodeSeries(std::string& out, uint32_t ref, std::span<const LabelView> labels);
void EncodeSample(std::string& out, const RefSample& s);
void EncodeMetadata(std::string& out, const RefMetadata& m);
void EncodeChunk(std::string& out, const RefChunk& c);

// Each decoder appends every entry of the payload to `out` and fails with kCorruption on
// malformed input.
Status DecodeSeries(std::string_view payload, std::vector<RefSeries>& out);
Status DecodeSamples(std::string_view payload, std::vector<RefSample>& out);
Status DecodeMetadata(std::string_view payload, std::vector<RefMetadata>& out);
Status DecodeChunks(std::string_view payload, std::vector<RefChunk>& out);

}  // namespace strata::wal
