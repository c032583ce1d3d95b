#include "blocks/plan.h"

#include <algorithm>
#include <climits>
#include <map>

#include "base/math.h"

namespace strata::blocks {

std::vector<size_t> Superseded(std::span<const BlockInfo> live) {
  std::vector<size_t> out;
  for (size_t i = 0; i < live.size(); ++i) {
    const BlockInfo& b = live[i];
    for (const BlockInfo& other : live) {
      if (&other == &b || other.resolution_ms != b.resolution_ms || other.level <= b.level) {
        continue;
      }
      if (std::includes(other.sources.begin(), other.sources.end(), b.sources.begin(),
                        b.sources.end())) {
        out.push_back(i);
        break;
      }
    }
  }
  return out;
}

std::vector<size_t> Expired(std::span<const BlockInfo> live,
                            const std::function<int64_t(int64_t resolution_ms)>& keep_ms,
                            int64_t now_ms) {
  std::vector<size_t> out;
  for (size_t i = 0; i < live.size(); ++i) {
    int64_t keep = keep_ms(live[i].resolution_ms);
    if (keep > 0 && live[i].max_time < now_ms - keep) out.push_back(i);
  }
  return out;
}

std::optional<Merge> PlanMerge(std::span<const BlockInfo> live, std::span<const int64_t> ranges) {
  int64_t newest = INT64_MIN;
  for (const BlockInfo& b : live) {
    if (b.resolution_ms == 0) newest = std::max(newest, b.max_time);
  }
  for (size_t r = 1; r < ranges.size(); ++r) {
    const int64_t range = ranges[r];
    std::map<int64_t, std::vector<size_t>> windows;
    for (size_t i = 0; i < live.size(); ++i) {
      const BlockInfo& b = live[i];
      if (b.resolution_ms != 0) continue;
      int64_t w = FloorDiv(b.min_time, range);
      if (b.max_time > (w + 1) * range) continue;  // larger than this range
      windows[w].push_back(i);
    }
    for (const auto& [w, members] : windows) {
      bool complete = (w + 1) * range <= newest;
      bool overlapping = false;
      for (size_t i = 0; i < members.size(); ++i) {
        for (size_t j = i + 1; j < members.size(); ++j) {
          const BlockInfo& a = live[members[i]];
          const BlockInfo& b = live[members[j]];
          overlapping = overlapping || (a.min_time < b.max_time && b.min_time < a.max_time);
        }
      }
      if (members.size() < 2 || (!complete && !overlapping)) continue;
      Merge m{members, INT64_MAX, INT64_MIN};
      for (size_t i : members) {
        m.min_time = std::min(m.min_time, live[i].min_time);
        m.max_time = std::max(m.max_time, live[i].max_time);
      }
      return m;
    }
  }
  return std::nullopt;
}

}  // namespace strata::blocks
