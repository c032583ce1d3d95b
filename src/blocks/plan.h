#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/math.h"

// Compaction planning over blocks of any signal: which blocks are superseded, which are past
// retention, which raw blocks merge next. Pure functions of the blocks' metadata; the
// signal's compactor does the jobs (tsdb/compact for metrics).
namespace strata::blocks {

// What planning needs of a block's meta.json.
struct BlockInfo {
  std::string id;
  int64_t min_time = 0;              // inclusive, ms
  int64_t max_time = 0;              // exclusive
  int level = 1;                     // 1 = cut from a head; each compaction adds one
  int64_t resolution_ms = 0;         // 0 = raw; else the downsampling interval
  std::vector<std::string> sources;  // sorted IDs of the level-1 blocks it holds
};

// The BlockInfo of a raw block whose meta.json gives its times in ns, both inclusive
// (`min_time_ns`, `max_time_ns`, `level`, `sources`: the log and trace blocks').
template <typename Meta>
BlockInfo InfoOfNanos(const Meta& m) {
  constexpr int64_t kNsPerMs = 1'000'000;
  return {m.id,
          FloorDiv(m.min_time_ns, kNsPerMs),
          FloorDiv(m.max_time_ns, kNsPerMs) + 1,
          m.level,
          0,
          m.sources};
}

// The blocks (indexes into `live`) whose sources a block of the same resolution and a higher
// level holds: what a compaction that uploaded its output but crashed before retiring its
// sources leaves behind.
std::vector<size_t> Superseded(std::span<const BlockInfo> live);

// The blocks (indexes) past retention at `now_ms`: `keep_ms(resolution)` is how long blocks of
// that resolution are kept after their end, 0 forever.
std::vector<size_t> Expired(std::span<const BlockInfo> live,
                            const std::function<int64_t(int64_t resolution_ms)>& keep_ms,
                            int64_t now_ms);

// The next merge of raw blocks: at least two that fall in one window aligned to
// ranges[1..] (the smallest range first), when the window is complete (a newer raw block ends
// after it) or its blocks overlap. Null when there is nothing to merge.
struct Merge {
  std::vector<size_t> blocks;  // indexes into `live`
  int64_t min_time = 0;
  int64_t max_time = 0;
};
std::optional<Merge> PlanMerge(std::span<const BlockInfo> live, std::span<const int64_t> ranges);

}  // namespace strata::blocks
