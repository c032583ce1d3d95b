#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "wal/format.h"

namespace strata::wal {

std::string SegmentName(uint32_t n);
// Segment numbers in `dir`, ascending; other files are ignored.
Result<std::vector<uint32_t>> ListSegments(const std::string& dir);
// The newest complete checkpoint in `dir`: its number (the last segment it covers).
Result<std::optional<uint32_t>> LatestCheckpoint(const std::string& dir);
std::string CheckpointDirName(uint32_t n);

// Outcome of scanning one segment's bytes.
struct ScanResult {
  size_t valid_bytes = 0;  // bytes up to the end of the last intact record
  std::string problem;     // empty if the whole buffer was intact
};

// Calls `fn(type, payload)` for each intact frame in `data`, in order, stopping at the first
// torn or corrupt frame (types 1..max_type are valid) or when `fn` fails (its error becomes
// the problem).
ScanResult ScanFrames(std::string_view data, uint8_t max_type,
                      const std::function<Status(RecordType, std::string_view)>& fn);

}  // namespace strata::wal
