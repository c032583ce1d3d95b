// libFuzzer target: the columnar trace page codec (traces/block/columns.h). The input after its
// first byte is a page's traces, each a 16-byte ID, a 2-byte little-endian length and that
// many bytes of TracesData (so spans can carry their trace's ID and land in the columns). The
// page is encoded and must decode back to exactly its entries; then the first byte picks how
// many bytes of the encoded page to damage, and decoding the damaged page must give either
// kCorruption or entries of the page's size. Decoding through a search's filter
// (traces/search_filter.h) gives some of the entries, in order, or kCorruption when damaged;
// so does one counting metrics, which reads the page twice.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/coding.h"
#include "traceql/metrics.h"
#include "traceql/parser.h"
#include "traceql/prefilter.h"
#include "traces/block/columns.h"
#include "traces/search_filter.h"

using namespace strata;
using namespace strata::traces::block;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint32_t damage = static_cast<uint8_t>(in[0]) % 4;
  in.remove_prefix(1);
  std::string entries;
  while (in.size() >= 18) {
    const size_t n = static_cast<uint8_t>(in[16]) | (size_t{static_cast<uint8_t>(in[17])} << 8);
    const std::string_view id = in.substr(0, 16);
    in.remove_prefix(18);
    const std::string_view trace = in.substr(0, n);
    in.remove_prefix(trace.size());
    entries += id;
    PutLengthPrefixed(entries, trace);
  }
  static ZSTD_CCtx* cctx = ZSTD_createCCtx();
  auto page = EncodeColumnarPage(entries, cctx, 1);
  if (!page.ok()) abort();
  auto back = DecodeColumnarPage(*page, entries.size());
  if (!back.ok() || *back != entries) abort();
  // Conditions on names, span and resource attributes of each type.
  static const auto* query = new auto(*traceql::Parse(
      R"({ name = "a" || span.b =~ "c.*" || resource.d > 1 || .e = true || duration > 2ms })"));
  static const auto* prefilter = new auto(traceql::PrefilterOf((*query)->pipeline));
  traces::QueryFilter filter(*prefilter, std::nullopt);
  auto some = DecodeColumnarPage(*page, entries.size(), &filter);
  if (!some.ok()) abort();
  for (ByteReader all(entries), kept(*some); !kept.empty();) {
    std::string_view id, trace, want_id, want;
    if (!kept.ReadBytes(16, &id) || !kept.ReadLengthPrefixed(&trace)) abort();
    do {
      if (!all.ReadBytes(16, &want_id) || !all.ReadLengthPrefixed(&want)) abort();
    } while (want_id != id || want != trace);
  }

  std::string damaged = *page;
  uint32_t x = static_cast<uint32_t>(entries.size()) * 2654435761u + 1;
  for (uint32_t i = 0; i < damage && !damaged.empty(); ++i) {
    x = x * 1664525u + 1013904223u;
    damaged[x % damaged.size()] ^= static_cast<char>(1 + (x >> 24) % 255);
  }
  auto got = DecodeColumnarPage(damaged, entries.size());
  if (got.ok() ? got->size() != entries.size() : got.status().code() != Status::Code::kCorruption) {
    abort();
  }
  got = DecodeColumnarPage(damaged, entries.size(), &filter);
  if (!got.ok() && got.status().code() != Status::Code::kCorruption) abort();
  // A filter counting metrics reads the page twice: the columns it needs, then all of it.
  static const auto* metrics =
      new auto(*traceql::Parse(R"({ name = "a" || span.b > 1 } | rate() by (resource.c, .d))"));
  static const auto* counted = new auto(traceql::PrefilterOf(*(*metrics)->metrics));
  traceql::MetricsEvaluator eval(*(*metrics)->metrics, traceql::Intervals::Instant(0, INT64_MAX),
                                 100);
  traces::QueryFilter counting(*counted, std::nullopt);
  counting.CountInto(*(*metrics)->metrics, eval);
  for (const std::string* p : {&*page, &damaged}) {
    got = DecodeColumnarPage(*p, entries.size(), &counting);
    if (!got.ok() && (p == &*page || got.status().code() != Status::Code::kCorruption)) abort();
  }
  return 0;
}
