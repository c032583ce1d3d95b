// libFuzzer target: everything that reads a trace block from a bucket (meta.json, the index
// with its trace-ID filter, the pages). The input's lines become traces (the line is the
// trace's data, its ID derived from the line and its number); the block is written with the
// real writer, then the input's first bytes pick bytes of its files to damage before every
// trace and some absent IDs are looked up, and the block is scanned. Without damage, every
// trace must come back as written, no absent ID may be found, and a scan yields each trace
// once, as does a compaction's cursor.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "objstore/memory_bucket.h"
#include "testing/temp_dir.h"
#include "traces/block/format.h"
#include "traces/block/reader.h"
#include "traces/block/writer.h"

namespace {

using namespace strata;
using namespace strata::traces;

std::string IdOf(std::string_view text, uint64_t n) {
  const XXH128_hash_t h = XXH3_128bits_withSeed(text.data(), text.size(), n);
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i) {
    id[i] = static_cast<char>(h.high64 >> (56 - 8 * i));
    id[8 + i] = static_cast<char>(h.low64 >> (56 - 8 * i));
  }
  return id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint32_t damage = static_cast<uint8_t>(in[0]);  // how many bytes to change
  const uint32_t seed = static_cast<uint8_t>(in[1]) | (uint32_t{static_cast<uint8_t>(in[2])} << 8);
  std::map<std::string, std::string> traces;
  std::string_view text = in.substr(3);
  for (uint64_t n = 0; !text.empty(); ++n) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    traces[IdOf(line, n)] = std::string(line);
  }

  static testing::TempDir dir("trace-block-fuzz");
  block::WriterOptions opts;
  opts.page_bytes = 64 + seed % 512;  // many pages
  auto w = block::BlockWriter::Create(dir.path() + "/b", opts);
  if (!w.ok()) abort();
  for (const auto& [id, trace] : traces) {
    if (!(*w)->Add(id, trace, trace.size() % 7, 1, 2).ok()) abort();
  }
  auto meta = (*w)->Finish();
  if (!meta.ok()) abort();
  auto bucket = std::make_shared<objstore::MemoryBucket>();
  const std::string root = "t/traces/";
  if (!blocks::UploadBlock(*bucket, root, meta->id, dir.path() + "/b", block::BlockWriter::Files(),
                           block::EncodeMeta(*meta))
           .ok()) {
    abort();
  }
  const std::string prefix = blocks::BlockPrefix(root, meta->id);
  const char* files[] = {block::kIndexFile, block::kDataFile};
  uint32_t x = seed * 2654435761u + 1;
  for (uint32_t i = 0; i < damage % 8; ++i) {
    x = x * 1664525u + 1013904223u;
    std::string key = prefix + files[x % 2];
    auto obj = bucket->Get(key);
    if (!obj.ok() || obj->empty()) continue;
    x = x * 1664525u + 1013904223u;
    (*obj)[x % obj->size()] ^= static_cast<char>(1 + (x >> 24) % 255);
    (void)bucket->Put(key, *obj);
  }
  auto decoded = block::DecodeMeta(block::EncodeMeta(*meta));
  if (!decoded.ok() || *decoded != *meta) abort();

  cache::PageCache cache(1 << 20, nullptr, nullptr);
  block::BlockReader reader(bucket, prefix, *meta, cache, cache::RangeReadOptions{});
  const bool intact = damage % 8 == 0;
  for (const auto& [id, trace] : traces) {
    auto found = reader.FindTrace(id, nullptr);
    if (!intact) continue;
    if (!found.ok() || !found->has_value() || **found != trace) abort();
  }
  for (uint64_t n = 0; n < 4; ++n) {
    const std::string absent = IdOf("absent", n + seed);
    if (traces.count(absent)) continue;
    auto found = reader.FindTrace(absent, nullptr);
    if (intact && (!found.ok() || found->has_value())) abort();
  }
  // A scan (search) yields each trace once, in ID order, as written.
  std::map<std::string, std::string> scanned;
  Status st = reader.ForEachTrace(
      [&](std::string_view id, std::string_view data) {
        if (!scanned.emplace(std::string(id), std::string(data)).second) abort();
        return Status::Ok();
      },
      nullptr);
  if (intact && (!st.ok() || scanned != traces)) abort();
  // A compaction's cursor (reads of any size, pages read once) yields the same.
  block::TraceCursor cursor(reader, 1 + seed % 4096);
  std::map<std::string, std::string> merged;
  uint64_t bytes_read = 0;
  for (;;) {
    auto more = cursor.Next(&bytes_read);
    if (!more.ok()) {
      if (intact) abort();
      break;
    }
    if (!*more) break;
    if (!merged.emplace(std::string(cursor.id()), std::string(cursor.traces_data())).second) {
      abort();
    }
  }
  if (intact && (merged != traces || bytes_read != meta->data_bytes)) abort();
  return 0;
}
