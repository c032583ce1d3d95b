#include "wal/segment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "base/coding.h"
#include "base/crc32c.h"

namespace strata::wal {
namespace fs = std::filesystem;

std::string SegmentName(uint32_t n) { return fmt::format("{:0{}}", n, kSegmentNameDigits); }
std::string CheckpointDirName(uint32_t n) { return kCheckpointPrefix + SegmentName(n); }

namespace {

std::optional<uint32_t> ParseNumber(std::string_view s) {
  if (s.size() != kSegmentNameDigits) return std::nullopt;
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

Result<std::vector<uint32_t>> ListSegments(const std::string& dir) {
  std::error_code ec;
  std::vector<uint32_t> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    if (auto n = ParseNumber(e.path().filename().string())) out.push_back(*n);
  }
  if (ec) return Status::IOError(fmt::format("listing {}: {}", dir, ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<uint32_t>> LatestCheckpoint(const std::string& dir) {
  std::error_code ec;
  std::optional<uint32_t> best;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory() || !name.starts_with(kCheckpointPrefix)) continue;
    auto n = ParseNumber(std::string_view(name).substr(std::strlen(kCheckpointPrefix)));
    if (n && (!best || *n > *best)) best = n;  // ".tmp" leftovers do not parse
  }
  if (ec) return Status::IOError(fmt::format("listing {}: {}", dir, ec.message()));
  return best;
}

ScanResult ScanFrames(std::string_view data, uint8_t max_type,
                      const std::function<Status(RecordType, std::string_view)>& fn) {
  ScanResult res;
  size_t off = 0;
  while (off < data.size()) {
    if (data.size() - off < kFrameHeaderSize) {
      res.problem = fmt::format("torn record header at offset {}", off);
      break;
    }
    uint32_t len = LoadFixed32(data.data() + off);
    uint32_t crc = LoadFixed32(data.data() + off + 4);
    auto type = static_cast<uint8_t>(data[off + 8]);
    if (type == 0 || type > max_type || len > kMaxRecordSize) {
      res.problem = fmt::format("invalid record header at offset {}", off);
      break;
    }
    if (data.size() - off - kFrameHeaderSize < len) {
      res.problem = fmt::format("torn record at offset {} ({} of {} payload bytes)", off,
                                data.size() - off - kFrameHeaderSize, len);
      break;
    }
    std::string_view payload = data.substr(off + kFrameHeaderSize, len);
    if (Crc32cExtend(Crc32c(data.data() + off + 8, 1), payload.data(), payload.size()) != crc) {
      res.problem = fmt::format("checksum mismatch in record at offset {}", off);
      break;
    }
    Status st = fn(type, payload);
    if (!st.ok()) {
      res.problem = fmt::format("record at offset {}: {}", off, st.message());
      break;
    }
    off += kFrameHeaderSize + len;
    res.valid_bytes = off;
  }
  return res;
}

}  // namespace strata::wal
