// libFuzzer target: everything that reads a log block from a bucket (meta.json, the index,
// the blooms, the pages' timestamp and body frames). The input's lines become a block's
// entries (one stream per '\x01'-separated part, structured metadata after a '\x02'); the
// block is written with the real writer, then the input's last bytes pick bytes of its files
// to damage before every stream is read back. Without damage, what is read must equal what
// was written.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "logs/block/format.h"
#include "logs/block/writer.h"
#include "logs/gateway.h"
#include "objstore/memory_bucket.h"
#include "testing/temp_dir.h"

namespace {

using namespace strata;
using namespace strata::logs;

std::map<Labels, std::vector<Entry>> StreamsOf(std::string_view text) {
  std::map<Labels, std::vector<Entry>> out;
  int64_t ts = 1'000;
  int n = 0;
  while (!text.empty()) {
    size_t end = text.find('\x01');
    std::string_view part = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    auto& entries = out[Labels{{"n", std::to_string(n++)}}];
    while (!part.empty()) {
      size_t nl = part.find('\n');
      std::string_view line = part.substr(0, nl);
      part = nl == std::string_view::npos ? std::string_view() : part.substr(nl + 1);
      Entry e;
      e.ts_ns = ts;
      ts += static_cast<unsigned char>(line.empty() ? 0 : line[0]) % 3;  // repeats, gaps
      size_t md = line.find('\x02');
      e.line = std::string(line.substr(0, md));
      if (md != std::string_view::npos) e.metadata = {{"k", std::string(line.substr(md + 1))}};
      entries.push_back(std::move(e));
    }
  }
  std::erase_if(out, [](const auto& kv) { return kv.second.empty(); });
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint32_t damage = static_cast<uint8_t>(in[0]);  // how many bytes to change
  const uint32_t seed = static_cast<uint8_t>(in[1]) | (uint32_t{static_cast<uint8_t>(in[2])} << 8);
  auto streams = StreamsOf(in.substr(3));
  if (streams.empty()) return 0;

  static testing::TempDir dir("log-block-fuzz");
  block::WriterOptions opts;
  opts.page_bytes = 256;  // many pages
  opts.max_page_features = 64;
  opts.dict_train_bytes = (seed & 1) ? 1024 : 0;
  auto w = block::BlockWriter::Create(dir.path() + "/b", opts);
  if (!w.ok()) abort();
  for (const auto& [labels, entries] : streams) {
    if (!(*w)->AddStream(labels, entries).ok()) abort();
  }
  auto meta = (*w)->Finish();
  if (!meta.ok()) abort();
  auto bucket = std::make_shared<objstore::MemoryBucket>();
  const std::string root = "t/logs/";
  if (!blocks::UploadBlock(*bucket, root, meta->id, dir.path() + "/b", block::BlockWriter::Files(),
                           block::EncodeMeta(*meta))
           .ok()) {
    abort();
  }
  const std::string prefix = blocks::BlockPrefix(root, meta->id);
  const char* files[] = {block::kIndexFile, block::kDataFile, block::kBloomsFile};
  uint32_t x = seed * 2654435761u + 1;
  for (uint32_t i = 0; i < damage % 8; ++i) {
    x = x * 1664525u + 1013904223u;
    std::string key = prefix + files[x % 3];
    auto obj = bucket->Get(key);
    if (!obj.ok() || obj->empty()) continue;
    x = x * 1664525u + 1013904223u;
    (*obj)[x % obj->size()] ^= static_cast<char>(1 + (x >> 24) % 255);
    (void)bucket->Put(key, *obj);
  }
  (void)block::DecodeMeta(block::EncodeMeta(*meta));

  cache::PageCache cache(1 << 20, nullptr, nullptr);
  auto reader =
      std::make_shared<block::BlockReader>(bucket, prefix, *meta, cache, cache::RangeReadOptions{});
  auto q = NewBlockQuerier(reader);
  SelectHints hints;
  if (seed & 2) hints.line_contains = {streams.begin()->second.front().line};
  auto set = q->Select({}, INT64_MIN, INT64_MAX, hints);
  if (!set.ok()) {
    if (damage % 8 == 0) abort();
    return 0;
  }
  for (size_t i = 0; i < (*set)->size(); ++i) {
    std::vector<Entry> got, visited;
    Status st = (*set)->Entries(i, got);
    // Visiting, with the lines or times and metadata alone: what Entries() gives, with the
    // needle applied (and empty lines without them).
    const bool lines = hints.line_contains.empty() ? (seed & 4) != 0 : true;
    Status vst = (*set)->Visit(i, lines, [&](const EntryRef& e) {
      visited.push_back(ToEntry(e));
      return Status::Ok();
    });
    if (damage % 8 != 0) continue;
    if (!vst.ok()) abort();
    {
      std::vector<Entry> expect = got;
      for (auto& e : expect) {
        if (!lines) e.line.clear();
      }
      if (!hints.line_contains.empty()) {
        std::erase_if(expect, [&](const Entry& e) {
          return e.line.find(hints.line_contains[0]) == std::string::npos;
        });
      }
      if (visited != expect) abort();
    }
    // Intact: every entry comes back (the needle hint may only leave out lines without it).
    const auto& want = streams.at((*set)->labels(i));
    if (!st.ok()) abort();
    if (hints.line_contains.empty() && got != want) abort();
    for (const auto& e : want) {
      if (!hints.line_contains.empty() &&
          e.line.find(hints.line_contains[0]) != std::string::npos &&
          std::find(got.begin(), got.end(), e) == got.end()) {
        abort();
      }
    }
  }
  return 0;
}
