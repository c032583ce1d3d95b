// libFuzzer target: everything that decodes block bytes read from a bucket: meta.json, chunk
// records (XOR, packed, aggregates, native histograms), and index files through the
// index-of-index. Also checks that packed and histogram encodings round-trip what they take,
// bit for bit.
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
#include "tsdb/chunkenc/histogram.h"
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

// Histograms of one layout made from the input, through a histogram chunk and back: every
// value, the hint and the layout come back bit for bit; a raw decode of the input as a chunk
// must stay within bounds.
void FuzzHistogramChunk(std::string_view data) {
  std::vector<uint8_t> raw(data.begin(), data.end());
  chunkenc::FloatHistogramIterator any(raw);
  while (any.Next()) {
  }
  if (data.size() < 2) return;
  histogram::FloatHistogram layout;
  layout.schema = static_cast<int32_t>(static_cast<uint8_t>(data[0]) % 13) - 4;
  size_t buckets = static_cast<uint8_t>(data[1]) % 8;
  layout.positive_spans = {{-1, static_cast<uint32_t>(buckets)}};
  std::vector<histogram::HistogramSample> in;
  int64_t t = 0;
  for (size_t i = 2; i + 8 * (4 + buckets) <= data.size() && in.size() < 200;
       i += 8 * (4 + buckets)) {
    auto h = std::make_shared<histogram::FloatHistogram>(layout);
    auto at = [&](size_t k) {
      double v;
      std::memcpy(&v, data.data() + i + 8 * k, 8);
      return v;
    };
    uint64_t dt;
    std::memcpy(&dt, data.data() + i, 8);
    t += 1 + static_cast<int64_t>(dt % 100000);
    h->hint = static_cast<histogram::ResetHint>(dt >> 62);
    h->count = at(1);
    h->zero_count = at(2);
    h->sum = at(3);
    for (size_t b = 0; b < buckets; ++b) h->positive_buckets.push_back(at(4 + b));
    in.push_back({t, std::move(h)});
  }
  if (in.empty()) return;
  std::vector<uint8_t> chunk;
  chunkenc::FloatHistogramAppender app(chunk, *in[0].h);
  for (const auto& s : in) {
    if (!app.Append(s.t, *s.h)) std::abort();
  }
  chunkenc::FloatHistogramIterator it(chunk);
  for (const auto& s : in) {
    if (!it.Next() || it.t() != s.t || !it.h().Equals(*s.h) || it.h().hint != s.h->hint) {
      std::abort();
    }
  }
  if (it.Next() || it.corrupt()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  switch (bytes[0] % 6) {  // NOLINT(bugprone-switch-missing-default-case): % 6 has 6 cases
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
        std::vector<histogram::HistogramSample> histograms;
        (void)DecodeChunkRecord(record, &out, &histograms);
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
    case 5:
      FuzzHistogramChunk(data);
      break;
  }
  return 0;
}
