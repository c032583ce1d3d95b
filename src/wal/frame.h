#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "wal/format.h"

// Frames: how records of any owner are written to a WAL (docs/format/wal.md).
namespace strata::wal {

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

}  // namespace strata::wal
