// libFuzzer target: everything that decodes block bytes read from a bucket: meta.json, chunk
// records (XOR, packed, aggregates), and index files through the index-of-index. Also checks
// that packed encoding round-trips any samples it accepts, bit for bit.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/matcher.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/block/meta.h"
#include "tsdb/block/reader.h"
#include "tsdb/block/writer.h"
#include "tsdb/chunkenc/packed.h"

namespace {

using namespace strata;
using namespace strata::tsdb::block;

void FuzzIndex(std::string_view data) {
  if (data.size() < 8) return;
  uint32_t a;
  uint32_t b;
  std::memcpy(&a, data.data() + data.size() - 8, 4);
  std::memcpy(&b, data.data() + data.size() - 4, 4);
  std::string_view file = data.substr(0, data.size() - 8);
  if (file.empty()) return;
  uint64_t off = a % file.size();
  uint64_t len = b % (file.size() - off + 1);
  auto idx = ShardIndex::Parse(file.substr(off, len), file.size());
  if (!idx.ok()) return;
  RangeFetcher fetch = FetcherOver(file);
  for (const auto& name : idx->LabelNames()) {
    (void)idx->LabelValues(name, fetch);
    for (auto type : {Matcher::Type::kEqual, Matcher::Type::kNotEqual, Matcher::Type::kRegex}) {
      std::vector<Matcher> ms = {
          Matcher::Make(type, name, type == Matcher::Type::kRegex ? "a.*" : "x").value()};
      (void)idx->Postings(ms, fetch);
    }
  }
  std::vector<uint32_t> all(std::min<size_t>(idx->num_series(), 4096));
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  (void)idx->Series(all, INT64_MIN, INT64_MAX, 0, true, fetch);
}

void FuzzPackedRoundTrip(std::string_view data) {
  std::vector<Sample> samples;
  int64_t t = 0;
  for (size_t i = 0; i + 16 <= data.size() && samples.size() < 600; i += 16) {
    int64_t dt;
    double v;
    std::memcpy(&dt, data.data() + i, 8);
    std::memcpy(&v, data.data() + i + 8, 8);
    t += 1 + static_cast<int64_t>(static_cast<uint64_t>(dt) % 100000);
    samples.push_back({t, v});
  }
  if (!chunkenc::CanPack(samples)) return;
  std::string enc;
  chunkenc::EncodePacked(samples, enc);
  std::vector<Sample> back;
  if (!chunkenc::DecodePacked(enc, back).ok() || back.size() != samples.size()) std::abort();
  for (size_t i = 0; i < samples.size(); ++i) {
    if (back[i].t != samples[i].t ||
        std::bit_cast<uint64_t>(back[i].v) != std::bit_cast<uint64_t>(samples[i].v)) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  switch (bytes[0] % 5) {  // NOLINT(bugprone-switch-missing-default-case): % 5 has 5 cases
    case 0:
      (void)DecodeMeta(data);
      break;
    case 1: {
      // As read, and with a valid CRC32C appended, so the decoders behind the check are
      // reached too.
      std::string sealed(data);
      PutFixed32(sealed, Crc32c(sealed.data(), sealed.size()));
      for (std::string_view record : {data, std::string_view(sealed)}) {
        std::vector<Sample> out;
        (void)DecodeChunkRecord(record, out);
        AggrSeries a;
        (void)DecodeAggregateRecord(record, a);
        out.clear();
        (void)DecodeAggregate(record, Aggr::kAvg, out);
      }
      break;
    }
    case 2: {
      std::vector<Sample> out;
      (void)chunkenc::DecodePacked(data, out);
      break;
    }
    case 3:
      FuzzIndex(data);
      break;
    case 4:
      FuzzPackedRoundTrip(data);
      break;
  }
  return 0;
}
