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

namespace {

// The five XOR chunks of an aggregate record, checksum and encoding checked.
Status SplitAggregateRecord(std::string_view record, std::string_view (&chunks)[5]) {
  if (record.size() < 5) return Status::Corruption("block: aggregate record too short");
  size_t body = record.size() - 4;
  if (Crc32c(record.data(), body) != LoadFixed32(record.data() + body)) {
    return Status::Corruption("block: aggregate chunk checksum mismatch");
  }
  if (static_cast<uint8_t>(record[0]) != kEncAggregate) {
    return Status::Corruption("block: not an aggregate chunk");
  }
  ByteReader r(record.substr(1, body - 1));
  for (auto& chunk : chunks) {
    if (!r.ReadLengthPrefixed(&chunk)) return Status::Corruption("block: truncated aggregate");
  }
  if (!r.empty()) return Status::Corruption("block: trailing bytes in aggregate chunk");
  return Status::Ok();
}

Status DecodeXor(std::string_view chunk, std::vector<Sample>& out) {
  chunkenc::XorIterator it({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
  while (it.Next()) out.push_back({it.t(), it.v()});
  if (it.corrupt()) return Status::Corruption("block: malformed aggregate chunk");
  return Status::Ok();
}

}  // namespace

Status DecodeAggregateRecord(std::string_view record, AggrSeries& out) {
  std::string_view chunks[5];
  RETURN_IF_ERROR(SplitAggregateRecord(record, chunks));
  size_t first = out.count.size();
  std::vector<Sample>* dest[5] = {&out.count, &out.sum, &out.min, &out.max, &out.counter};
  for (int i = 0; i < 5; ++i) RETURN_IF_ERROR(DecodeXor(chunks[i], *dest[i]));
  size_t n = out.count.size() - first;
  if (out.sum.size() - first != n || out.min.size() - first != n || out.max.size() - first != n) {
    return Status::Corruption("block: aggregate chunks disagree in length");
  }
  return Status::Ok();
}

Status DecodeAggregate(std::string_view record, Aggr which, std::vector<Sample>& out) {
  std::string_view chunks[5];
  RETURN_IF_ERROR(SplitAggregateRecord(record, chunks));
  static_assert(static_cast<int>(Aggr::kCounter) == 4, "chunks are in Aggr order");
  if (which != Aggr::kAvg) return DecodeXor(chunks[static_cast<int>(which)], out);
  std::vector<Sample> count;
  std::vector<Sample> sum;
  RETURN_IF_ERROR(DecodeXor(chunks[static_cast<int>(Aggr::kCount)], count));
  RETURN_IF_ERROR(DecodeXor(chunks[static_cast<int>(Aggr::kSum)], sum));
  if (count.size() != sum.size()) {
    return Status::Corruption("block: aggregate chunks disagree in length");
  }
  for (size_t i = 0; i < count.size(); ++i) out.push_back({count[i].t, sum[i].v / count[i].v});
  return Status::Ok();
}

}  // namespace strata::tsdb::block
