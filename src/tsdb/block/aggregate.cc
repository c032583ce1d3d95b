#include "tsdb/block/aggregate.h"

#include "base/coding.h"
#include "base/crc32c.h"
#include "tsdb/block/format.h"
#include "tsdb/chunkenc/xor.h"

namespace strata::tsdb::block {
namespace {

void PutXor(std::string& out, const Sample* begin, const Sample* end) {
  std::vector<uint8_t> chunk;
  chunkenc::XorAppender app(chunk);
  for (const Sample* s = begin; s != end; ++s) app.Append(s->t, s->v);
  PutUvarint(out, chunk.size());
  out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
}

}  // namespace

void EncodeAggregateRecord(const AggrSeries& a, size_t begin, size_t end, std::string& out) {
  out.push_back(static_cast<char>(kEncAggregate));
  for (const auto* v : {&a.count, &a.sum, &a.min, &a.max}) {
    PutXor(out, v->data() + begin, v->data() + end);
  }
  int64_t first_t = begin == 0 ? INT64_MIN : a.count[begin - 1].t;
  int64_t last_t = a.count[end - 1].t;
  const Sample* cb = a.counter.data();
  const Sample* ce = a.counter.data() + a.counter.size();
  while (cb != ce && cb->t <= first_t) ++cb;
  const Sample* cend = cb;
  while (cend != ce && cend->t <= last_t) ++cend;
  PutXor(out, cb, cend);
}

Status DecodeAggregateRecord(std::string_view record, AggrSeries& out) {
  if (record.size() < 5) return Status::Corruption("block: aggregate record too short");
  size_t body = record.size() - 4;
  if (Crc32c(record.data(), body) != LoadFixed32(record.data() + body)) {
    return Status::Corruption("block: aggregate chunk checksum mismatch");
  }
  if (static_cast<uint8_t>(record[0]) != kEncAggregate) {
    return Status::Corruption("block: not an aggregate chunk");
  }
  ByteReader r(record.substr(1, body - 1));
  size_t first = out.count.size();
  for (auto* v : {&out.count, &out.sum, &out.min, &out.max, &out.counter}) {
    std::string_view chunk;
    if (!r.ReadLengthPrefixed(&chunk)) return Status::Corruption("block: truncated aggregate");
    chunkenc::XorIterator it({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
    while (it.Next()) v->push_back({it.t(), it.v()});
    if (it.corrupt()) return Status::Corruption("block: malformed aggregate chunk");
  }
  size_t n = out.count.size() - first;
  if (out.sum.size() - first != n || out.min.size() - first != n || out.max.size() - first != n) {
    return Status::Corruption("block: aggregate chunks disagree in length");
  }
  if (!r.empty()) return Status::Corruption("block: trailing bytes in aggregate chunk");
  return Status::Ok();
}

void SelectAggregate(const AggrSeries& a, Aggr which, std::vector<Sample>& out) {
  switch (which) {
    case Aggr::kCount:
      out.insert(out.end(), a.count.begin(), a.count.end());
      return;
    case Aggr::kSum:
      out.insert(out.end(), a.sum.begin(), a.sum.end());
      return;
    case Aggr::kMin:
      out.insert(out.end(), a.min.begin(), a.min.end());
      return;
    case Aggr::kMax:
      out.insert(out.end(), a.max.begin(), a.max.end());
      return;
    case Aggr::kCounter:
      out.insert(out.end(), a.counter.begin(), a.counter.end());
      return;
    case Aggr::kAvg:
      for (size_t i = 0; i < a.count.size(); ++i) {
        out.push_back({a.count[i].t, a.sum[i].v / a.count[i].v});
      }
      return;
  }
}

}  // namespace strata::tsdb::block
