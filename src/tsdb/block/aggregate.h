#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/sample.h"
#include "base/status.h"

namespace strata::tsdb::block {

inline constexpr int64_t kRes5m = 300'000;
inline constexpr int64_t kRes1h = 3'600'000;

// The aggregates a downsampled series keeps per window: sample count, sum, min, max, and a
// reset-adjusted counter (its first raw sample, then the running total at each window's last
// sample), so rate() and increase() stay right. count/sum/min/max share timestamps (each
// window's last sample time).
struct AggrSeries {
  std::vector<Sample> count;
  std::vector<Sample> sum;
  std::vector<Sample> min;
  std::vector<Sample> max;
  std::vector<Sample> counter;
  bool empty() const { return count.empty(); }
};

// Which aggregate a query reads from downsampled data.
enum class Aggr { kCount, kSum, kMin, kMax, kCounter, kAvg };

// Appends an aggregate chunk record without its trailing CRC32C (the writer adds it): the
// encoding byte and five length-prefixed XOR chunks for windows [begin, end) of `a`. The
// counter samples after the previous window and up to the last one go with it.
void EncodeAggregateRecord(const AggrSeries& a, size_t begin, size_t end, std::string& out);
// Decodes one aggregate record into `out`, appending.
Status DecodeAggregateRecord(std::string_view record, AggrSeries& out);
// Decodes only the aggregate a query reads (kAvg: sum / count) as plain samples, appending
// to `out`: the other chunks of the record are skipped, not decoded.
Status DecodeAggregate(std::string_view record, Aggr which, std::vector<Sample>& out);

}  // namespace strata::tsdb::block
