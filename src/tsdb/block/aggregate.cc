#include "tsdb/block/aggregate.h"

#include <algorithm>
#include <span>

#include "base/coding.h"
#include "base/crc32c.h"
#include "tsdb/block/format.h"
#include "tsdb/block/writer.h"
#include "tsdb/chunkenc/packed.h"
#include "tsdb/chunkenc/xor.h"

namespace strata::tsdb::block {
namespace {

// Appends one aggregate chunk, length-prefixed: kEncPacked and a packed chunk where the
// samples allow it (finite values, increasing timestamps), else kEncXor and an XOR chunk.
void PutChunk(std::string& out, std::span<const Sample> samples) {
  std::string chunk;
  bool increasing =
      std::adjacent_find(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
        return b.t <= a.t;
      }) == samples.end();
  if (increasing && chunkenc::CanPack(samples)) {
    chunk.push_back(static_cast<char>(kEncPacked));
    chunkenc::EncodePacked(samples, chunk);
  } else {
    std::vector<uint8_t> xor_chunk;
    chunkenc::XorAppender app(xor_chunk);
    for (const Sample& s : samples) app.Append(s.t, s.v);
    chunk.push_back(static_cast<char>(kEncXor));
    chunk.append(reinterpret_cast<const char*>(xor_chunk.data()), xor_chunk.size());
  }
  PutUvarint(out, chunk.size());
  out += chunk;
}

}  // namespace

void EncodeAggregateRecord(const AggrSeries& a, size_t begin, size_t end, std::string& out) {
  out.push_back(static_cast<char>(kEncAggregateTagged));
  for (const auto* v : {&a.count, &a.sum, &a.min, &a.max}) {
    PutChunk(out, std::span(*v).subspan(begin, end - begin));
  }
  int64_t first_t = begin == 0 ? INT64_MIN : a.count[begin - 1].t;
  int64_t last_t = a.count[end - 1].t;
  auto cb = std::find_if(a.counter.begin(), a.counter.end(),
                         [&](const Sample& s) { return s.t > first_t; });
  auto ce = std::find_if(cb, a.counter.end(), [&](const Sample& s) { return s.t > last_t; });
  PutChunk(out, std::span(cb, ce));
}

namespace {

// The five chunks of an aggregate record, checksum and encoding checked.
struct AggregateChunks {
  std::string_view chunks[5];
  bool tagged;  // each chunk led by its encoding byte (else XOR without one)
};

Status SplitAggregateRecord(std::string_view record, AggregateChunks& out) {
  if (record.size() < 5) return Status::Corruption("block: aggregate record too short");
  size_t body = record.size() - 4;
  if (Crc32c(record.data(), body) != LoadFixed32(record.data() + body)) {
    return Status::Corruption("block: aggregate chunk checksum mismatch");
  }
  out.tagged = static_cast<uint8_t>(record[0]) == kEncAggregateTagged;
  if (!out.tagged && static_cast<uint8_t>(record[0]) != kEncAggregate) {
    return Status::Corruption("block: not an aggregate chunk");
  }
  ByteReader r(record.substr(1, body - 1));
  for (auto& chunk : out.chunks) {
    if (!r.ReadLengthPrefixed(&chunk)) return Status::Corruption("block: truncated aggregate");
  }
  if (!r.empty()) return Status::Corruption("block: trailing bytes in aggregate chunk");
  return Status::Ok();
}

Status DecodeOne(const AggregateChunks& rec, Aggr which, std::vector<Sample>& out) {
  std::string_view chunk = rec.chunks[static_cast<int>(which)];
  if (rec.tagged) return DecodeChunk(chunk, out);
  // Encoding 2: XOR chunks without their encoding byte (old blocks only).
  std::string tagged(1, static_cast<char>(kEncXor));
  tagged += chunk;
  return DecodeChunk(tagged, out);
}

}  // namespace

Status DecodeAggregateRecord(std::string_view record, AggrSeries& out) {
  AggregateChunks rec;
  RETURN_IF_ERROR(SplitAggregateRecord(record, rec));
  size_t first = out.count.size();
  std::vector<Sample>* dest[5] = {&out.count, &out.sum, &out.min, &out.max, &out.counter};
  for (int i = 0; i < 5; ++i) RETURN_IF_ERROR(DecodeOne(rec, static_cast<Aggr>(i), *dest[i]));
  size_t n = out.count.size() - first;
  if (out.sum.size() - first != n || out.min.size() - first != n || out.max.size() - first != n) {
    return Status::Corruption("block: aggregate chunks disagree in length");
  }
  return Status::Ok();
}

Status DecodeAggregate(std::string_view record, Aggr which, std::vector<Sample>& out) {
  AggregateChunks rec;
  RETURN_IF_ERROR(SplitAggregateRecord(record, rec));
  static_assert(static_cast<int>(Aggr::kCounter) == 4, "chunks are in Aggr order");
  if (which != Aggr::kAvg) return DecodeOne(rec, which, out);
  std::vector<Sample> count;
  std::vector<Sample> sum;
  RETURN_IF_ERROR(DecodeOne(rec, Aggr::kCount, count));
  RETURN_IF_ERROR(DecodeOne(rec, Aggr::kSum, sum));
  if (count.size() != sum.size()) {
    return Status::Corruption("block: aggregate chunks disagree in length");
  }
  for (size_t i = 0; i < count.size(); ++i) out.push_back({count[i].t, sum[i].v / count[i].v});
  return Status::Ok();
}

}  // namespace strata::tsdb::block
