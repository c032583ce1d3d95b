#include "traces/block/format.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/json.h"
#include "base/ulid.h"
#include "blocks/bloom.h"
#include "blocks/meta_json.h"
#include "proto/otlp_traces.h"

namespace strata::traces::block {

namespace {

// Version 1 held a bloom filter where version 2 holds fingerprints; both are read.
constexpr uint8_t kIndexVersion = 2;

Status IndexError(std::string_view what) {
  return Status::Corruption(fmt::format("trace block index: {}", what));
}

}  // namespace

uint64_t TraceIdFeature(std::string_view trace_id) {
  return XXH3_64bits_withSeed(trace_id.data(), trace_id.size(), 4);
}

uint32_t TraceIdFingerprint(std::string_view trace_id) {
  return static_cast<uint32_t>(TraceIdFeature(trace_id) >> 32);
}

bool BlockIndex::MayHold(std::string_view trace_id) const {
  if (bloom.empty()) {
    return std::binary_search(fingerprints.begin(), fingerprints.end(),
                              TraceIdFingerprint(trace_id));
  }
  const auto blocks = static_cast<uint32_t>(bloom.size() / blocks::kBloomBlockBytes);
  const uint64_t f = TraceIdFeature(trace_id);
  return blocks::BloomBlockHas(
      reinterpret_cast<const uint8_t*>(bloom.data()) +
          size_t{blocks::BloomBlockOf(f, blocks)} * blocks::kBloomBlockBytes,
      f);
}

int64_t BlockIndex::PageOf(std::string_view trace_id) const {
  auto it = std::lower_bound(pages.begin(), pages.end(), trace_id,
                             [](const PageInfo& p, std::string_view id) { return p.last_id < id; });
  if (it == pages.end() || trace_id < it->first_id) return -1;
  return it - pages.begin();
}

std::string EncodeIndex(const BlockIndex& index) {
  std::string out(kIndexMagic, sizeof(kIndexMagic));
  out.push_back(static_cast<char>(kIndexVersion));
  PutUvarint(out, index.pages.size());
  for (const PageInfo& p : index.pages) {
    out += p.first_id;
    out += p.last_id;
    PutUvarint(out, p.offset);
    PutUvarint(out, p.length);
    PutUvarint(out, p.raw_length);
    PutUvarint(out, p.traces);
  }
  PutUvarint(out, index.fingerprints.size());
  uint32_t prev = 0;
  for (uint32_t f : index.fingerprints) {
    PutUvarint(out, f - prev);
    prev = f;
  }
  PutFixed32(out, Crc32c(out));
  return out;
}

Result<BlockIndex> DecodeIndex(std::string_view data) {
  if (data.size() < sizeof(kIndexMagic) + 1 + 4) return IndexError("too short");
  if (data.substr(0, sizeof(kIndexMagic)) != std::string_view(kIndexMagic, sizeof(kIndexMagic))) {
    return IndexError("bad magic");
  }
  const std::string_view body = data.substr(0, data.size() - 4);
  ByteReader crc(data.substr(data.size() - 4));
  uint32_t want = 0;
  crc.ReadFixed32(&want);
  if (Crc32c(body) != want) return IndexError("checksum mismatch");
  const auto version = static_cast<uint8_t>(body[sizeof(kIndexMagic)]);
  if (version < 1 || version > kIndexVersion) {
    return IndexError(fmt::format("unsupported version {}", version));
  }
  ByteReader r(body.substr(sizeof(kIndexMagic) + 1));
  BlockIndex index;
  uint64_t pages = 0;
  // A page takes at least 36 bytes: two IDs and four varints.
  if (!r.ReadUvarint(&pages) || pages > r.remaining() / 36) return IndexError("bad page count");
  index.pages.resize(pages);
  uint64_t next_offset = 0, traces_in_pages = 0;
  for (uint64_t i = 0; i < pages; ++i) {
    PageInfo& p = index.pages[i];
    std::string_view first, last;
    uint64_t traces = 0;
    if (!r.ReadBytes(proto::kTraceIdSize, &first) || !r.ReadBytes(proto::kTraceIdSize, &last) ||
        !r.ReadUvarint(&p.offset) || !r.ReadUvarint(&p.length) || !r.ReadUvarint(&p.raw_length) ||
        !r.ReadUvarint(&traces)) {
      return IndexError(fmt::format("page {} truncated", i));
    }
    p.first_id = first;
    p.last_id = last;
    p.traces = static_cast<uint32_t>(traces);
    if (traces == 0 || traces > UINT32_MAX || last < first ||
        (i > 0 && first <= index.pages[i - 1].last_id) || p.offset != next_offset ||
        p.raw_length > kMaxPageRawBytes) {
      return IndexError(fmt::format("page {} is inconsistent", i));
    }
    next_offset = p.offset + p.length;
    traces_in_pages += traces;
  }
  if (version >= 2) {
    uint64_t count = 0;
    // A fingerprint takes at least one byte.
    if (!r.ReadUvarint(&count) || count != traces_in_pages || count > r.remaining()) {
      return IndexError("bad fingerprint count");
    }
    index.fingerprints.resize(count);
    uint64_t f = 0;
    for (uint32_t& out : index.fingerprints) {
      uint64_t delta = 0;
      if (!r.ReadUvarint(&delta) || delta > UINT32_MAX - f) return IndexError("bad fingerprints");
      f += delta;
      out = static_cast<uint32_t>(f);
    }
    if (!r.empty()) return IndexError("bytes after the fingerprints");
    return index;
  }
  uint64_t blocks = 0;
  std::string_view bloom;
  if (!r.ReadUvarint(&blocks) || blocks > r.remaining() / blocks::kBloomBlockBytes ||
      !r.ReadBytes(blocks * blocks::kBloomBlockBytes, &bloom) || !r.empty()) {
    return IndexError("bad bloom filter");
  }
  index.bloom = bloom;
  return index;
}

std::string EncodeMeta(const BlockMeta& m) {
  JsonWriter w;
  w.BeginObject();
  w.Key("version").Int(m.version);
  w.Key("signal").String("traces");
  w.Key("id").String(m.id);
  w.Key("minTimeNs").Int(m.min_time_ns);
  w.Key("maxTimeNs").Int(m.max_time_ns);
  w.Key("stats").BeginObject();
  w.Key("numTraces").Int(static_cast<int64_t>(m.num_traces));
  w.Key("numSpans").Int(static_cast<int64_t>(m.num_spans));
  w.Key("numPages").Int(static_cast<int64_t>(m.num_pages));
  w.Key("traceBytes").Int(static_cast<int64_t>(m.trace_bytes));
  w.EndObject();
  w.Key("files").BeginObject();
  w.Key(kIndexFile).Int(static_cast<int64_t>(m.index_bytes));
  w.Key(kDataFile).Int(static_cast<int64_t>(m.data_bytes));
  w.EndObject();
  blocks::WriteCompaction(w, m.level, m.sources);
  w.EndObject();
  w.str().push_back('\n');
  return std::move(w.str());
}

Result<BlockMeta> DecodeMeta(std::string_view json) {
  using blocks::MetaError;
  using blocks::MetaGet;
  using blocks::MetaGetU64;
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  RETURN_IF_ERROR(blocks::MetaParse(parser, json, root));
  BlockMeta m;
  int64_t version = 0;
  RETURN_IF_ERROR(MetaGet(root, "version", version));
  if (version < kMinFormatVersion || version > kFormatVersion) {
    return MetaError(fmt::format("unsupported version {}", version));
  }
  m.version = static_cast<int>(version);
  std::string_view signal, id;
  RETURN_IF_ERROR(MetaGet(root, "signal", signal));
  if (signal != "traces") return MetaError(fmt::format("signal \"{}\" is not traces", signal));
  RETURN_IF_ERROR(MetaGet(root, "id", id));
  if (!IsUlid(id)) return MetaError(fmt::format("id \"{}\" is not a ULID", id));
  m.id = id;
  RETURN_IF_ERROR(MetaGet(root, "minTimeNs", m.min_time_ns));
  RETURN_IF_ERROR(MetaGet(root, "maxTimeNs", m.max_time_ns));
  if (m.max_time_ns < m.min_time_ns) return MetaError("maxTimeNs before minTimeNs");
  simdjson::dom::object stats, files;
  RETURN_IF_ERROR(MetaGet(root, "stats", stats));
  RETURN_IF_ERROR(MetaGetU64(stats, "numTraces", m.num_traces));
  RETURN_IF_ERROR(MetaGetU64(stats, "numSpans", m.num_spans));
  RETURN_IF_ERROR(MetaGetU64(stats, "numPages", m.num_pages));
  RETURN_IF_ERROR(MetaGetU64(stats, "traceBytes", m.trace_bytes));
  RETURN_IF_ERROR(MetaGet(root, "files", files));
  RETURN_IF_ERROR(MetaGetU64(files, kIndexFile, m.index_bytes));
  RETURN_IF_ERROR(MetaGetU64(files, kDataFile, m.data_bytes));
  if (m.index_bytes > kMaxIndexBytes) return MetaError("index larger than 1GiB");
  RETURN_IF_ERROR(blocks::ReadCompaction(root, m.level, m.sources));
  return m;
}

}  // namespace strata::traces::block
