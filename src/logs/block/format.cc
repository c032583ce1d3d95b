#include "logs/block/format.h"

#include <fmt/format.h>
#include <zstd.h>

#include <map>

#include "base/coding.h"
#include "base/json.h"
#include "base/ulid.h"
#include "blocks/meta_json.h"

namespace strata::logs::block {

namespace {

Status Corrupt(std::string_view what) {
  return Status::Corruption(fmt::format("log block index: {}", what));
}

}  // namespace

std::string EncodeIndex(const BlockIndex& idx) {
  // Label strings once each, referred to by number.
  std::map<std::string_view, uint64_t> symbols;
  for (const auto& s : idx.streams) {
    for (const auto& l : s.labels) {
      symbols.emplace(l.name, 0);
      symbols.emplace(l.value, 0);
    }
  }
  std::string raw;
  PutUvarint(raw, idx.fields);
  PutLengthPrefixed(raw, idx.dictionary);
  PutUvarint(raw, symbols.size());
  uint64_t n = 0;
  for (auto& [s, no] : symbols) {
    no = n++;
    PutLengthPrefixed(raw, s);
  }
  PutUvarint(raw, idx.streams.size());
  for (const auto& s : idx.streams) {
    PutUvarint(raw, s.labels.size());
    for (const auto& l : s.labels) {
      PutUvarint(raw, symbols[l.name]);
      PutUvarint(raw, symbols[l.value]);
    }
    PutUvarint(raw, s.num_pages);
  }
  // Differences wrap around in uint64, so any two timestamps have one.
  uint64_t prev = 0;
  for (const auto& p : idx.pages) {
    PutUvarint(raw, static_cast<uint64_t>(p.min_ts) - prev);
    prev = static_cast<uint64_t>(p.min_ts);
    PutUvarint(raw, static_cast<uint64_t>(p.max_ts) - static_cast<uint64_t>(p.min_ts));
    PutUvarint(raw, p.entries);
    PutUvarint(raw, p.line_bytes);
    PutUvarint(raw, p.ts_len);
    PutUvarint(raw, p.body_len);
    PutUvarint(raw, p.body_raw);
    PutUvarint(raw, p.meta_len);
    PutUvarint(raw, p.meta_raw);
    PutUvarint(raw, p.bloom_class);
  }
  std::string out(kIndexMagic, sizeof(kIndexMagic));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 6);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  size_t head = out.size();
  out.resize(head + ZSTD_compressBound(raw.size()));
  size_t len = ZSTD_compress2(cctx, out.data() + head, out.size() - head, raw.data(), raw.size());
  ZSTD_freeCCtx(cctx);
  out.resize(head + len);  // compressing into a buffer of the bound cannot fail
  return out;
}

Result<BlockIndex> DecodeIndex(std::string_view file, uint64_t data_bytes) {
  if (file.size() < sizeof(kIndexMagic) ||
      file.substr(0, sizeof(kIndexMagic)) != std::string_view(kIndexMagic, sizeof(kIndexMagic))) {
    return Corrupt("bad magic");
  }
  file.remove_prefix(sizeof(kIndexMagic));
  unsigned long long raw_size = ZSTD_getFrameContentSize(file.data(), file.size());
  if (raw_size == ZSTD_CONTENTSIZE_ERROR || raw_size == ZSTD_CONTENTSIZE_UNKNOWN ||
      raw_size > kMaxIndexRawBytes || raw_size > kMaxIndexRatio * file.size() + 4096) {
    return Corrupt("not a zstd frame of a known size within bounds");
  }
  std::string raw(raw_size, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), file.data(), file.size());
  if (ZSTD_isError(n) || n != raw_size) return Corrupt("does not decompress");

  ByteReader r(raw);
  BlockIndex idx;
  uint64_t fields = 0, nsym = 0, nstreams = 0;
  std::string_view dict;
  if (!r.ReadUvarint(&fields) || fields > kMaxFields || !r.ReadLengthPrefixed(&dict) ||
      !r.ReadUvarint(&nsym) || nsym > r.remaining()) {  // a symbol takes a byte at least
    return Corrupt("bad header");
  }
  idx.fields = static_cast<uint32_t>(fields);
  idx.dictionary = dict;
  std::vector<std::string_view> symbols(nsym);
  for (auto& s : symbols) {
    if (!r.ReadLengthPrefixed(&s)) return Corrupt("truncated symbols");
  }
  // A stream takes 2 bytes at least, a label 2, a page 7: counts are bounded by what is left.
  if (!r.ReadUvarint(&nstreams) || nstreams > r.remaining() / 2) {
    return Corrupt("bad stream count");
  }
  idx.streams.resize(nstreams);
  uint64_t pages = 0;
  for (auto& s : idx.streams) {
    uint64_t nl = 0, np = 0;
    if (!r.ReadUvarint(&nl) || nl > r.remaining() / 2) return Corrupt("bad label count");
    for (uint64_t i = 0; i < nl; ++i) {
      uint64_t a = 0, b = 0;
      if (!r.ReadUvarint(&a) || !r.ReadUvarint(&b) || a >= nsym || b >= nsym) {
        return Corrupt("bad label symbol");
      }
      s.labels.push_back({std::string(symbols[a]), std::string(symbols[b])});
      if (i > 0 && !(s.labels[i - 1].name < s.labels[i].name)) return Corrupt("labels unsorted");
    }
    if (!r.ReadUvarint(&np) || np == 0 || np > r.remaining() / 7) {
      return Corrupt("bad page count");
    }
    s.first_page = static_cast<uint32_t>(pages);
    s.num_pages = static_cast<uint32_t>(np);
    pages += np;
    if (pages > UINT32_MAX) return Corrupt("too many pages");
  }
  for (size_t i = 1; i < idx.streams.size(); ++i) {
    if (!(idx.streams[i - 1].labels < idx.streams[i].labels)) return Corrupt("streams unsorted");
  }
  if (pages > r.remaining() / 7) return Corrupt("truncated pages");
  idx.pages.resize(pages);
  uint64_t prev = 0;
  uint64_t offset = 0;
  for (auto& p : idx.pages) {
    uint64_t delta = 0, span = 0, entries = 0, ts_len = 0, body_len = 0, meta_len = 0;
    uint64_t bloom_class = 0;
    if (!r.ReadUvarint(&delta) || !r.ReadUvarint(&span) || !r.ReadUvarint(&entries) ||
        !r.ReadUvarint(&p.line_bytes) || !r.ReadUvarint(&ts_len) || !r.ReadUvarint(&body_len) ||
        !r.ReadUvarint(&p.body_raw) || !r.ReadUvarint(&meta_len) || !r.ReadUvarint(&p.meta_raw) ||
        !r.ReadUvarint(&bloom_class)) {
      return Corrupt("truncated page");
    }
    prev += delta;
    p.min_ts = static_cast<int64_t>(prev);
    p.max_ts = static_cast<int64_t>(prev + span);
    if (p.max_ts < p.min_ts) return Corrupt("page times out of order");
    if (entries == 0 || entries > kMaxPageEntries || p.body_raw > kMaxPageRawBytes ||
        p.line_bytes > p.body_raw || ts_len > kMaxPageRawBytes || body_len > kMaxPageRawBytes ||
        meta_len > kMaxPageRawBytes || p.meta_raw > kMaxPageRawBytes ||
        (meta_len == 0) != (p.meta_raw == 0) || bloom_class > kMaxBloomClass) {
      return Corrupt("page out of bounds");
    }
    p.entries = static_cast<uint32_t>(entries);
    p.ts_len = static_cast<uint32_t>(ts_len);
    p.body_len = static_cast<uint32_t>(body_len);
    p.meta_len = static_cast<uint32_t>(meta_len);
    p.bloom_class = static_cast<uint32_t>(bloom_class);
    p.offset = offset;
    offset += ts_len + meta_len + body_len;
    if (offset > data_bytes) return Corrupt("pages beyond the data file");
  }
  if (!r.empty()) return Corrupt("trailing bytes");
  return idx;
}

BloomLayout MakeBloomLayout(const BlockIndex& index) {
  BloomLayout l;
  l.rank.reserve(index.pages.size());
  for (const auto& p : index.pages) l.rank.push_back(l.pages[p.bloom_class]++);
  for (uint32_t c = 0; c <= kMaxBloomClass; ++c) {
    l.offset[c] = l.bytes;
    l.bytes += uint64_t{BloomClassBlocks(c)} * l.pages[c] * kBloomBlockBytes;
  }
  return l;
}

std::string EncodeMeta(const BlockMeta& m) {
  JsonWriter w;
  w.BeginObject();
  w.Key("version").Int(m.version);
  w.Key("signal").String("logs");
  w.Key("id").String(m.id);
  w.Key("minTimeNs").Int(m.min_time_ns);
  w.Key("maxTimeNs").Int(m.max_time_ns);
  w.Key("stats").BeginObject();
  w.Key("numStreams").Int(static_cast<int64_t>(m.num_streams));
  w.Key("numEntries").Int(static_cast<int64_t>(m.num_entries));
  w.Key("numPages").Int(static_cast<int64_t>(m.num_pages));
  w.Key("lineBytes").Int(static_cast<int64_t>(m.line_bytes));
  w.EndObject();
  w.Key("files").BeginObject();
  w.Key(kIndexFile).Int(static_cast<int64_t>(m.index_bytes));
  w.Key(kDataFile).Int(static_cast<int64_t>(m.data_bytes));
  w.Key(kBloomsFile).Int(static_cast<int64_t>(m.blooms_bytes));
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
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    return MetaError(fmt::format("unsupported version {}", version));
  }
  m.version = static_cast<int>(version);
  std::string_view signal, id;
  RETURN_IF_ERROR(MetaGet(root, "signal", signal));
  if (signal != "logs") return MetaError(fmt::format("signal \"{}\" is not logs", signal));
  RETURN_IF_ERROR(MetaGet(root, "id", id));
  if (!IsUlid(id)) return MetaError(fmt::format("id \"{}\" is not a ULID", id));
  m.id = id;
  RETURN_IF_ERROR(MetaGet(root, "minTimeNs", m.min_time_ns));
  RETURN_IF_ERROR(MetaGet(root, "maxTimeNs", m.max_time_ns));
  if (m.max_time_ns < m.min_time_ns) return MetaError("maxTimeNs before minTimeNs");
  simdjson::dom::object stats, files;
  RETURN_IF_ERROR(MetaGet(root, "stats", stats));
  RETURN_IF_ERROR(MetaGetU64(stats, "numStreams", m.num_streams));
  RETURN_IF_ERROR(MetaGetU64(stats, "numEntries", m.num_entries));
  RETURN_IF_ERROR(MetaGetU64(stats, "numPages", m.num_pages));
  RETURN_IF_ERROR(MetaGetU64(stats, "lineBytes", m.line_bytes));
  RETURN_IF_ERROR(MetaGet(root, "files", files));
  RETURN_IF_ERROR(MetaGetU64(files, kIndexFile, m.index_bytes));
  RETURN_IF_ERROR(MetaGetU64(files, kDataFile, m.data_bytes));
  RETURN_IF_ERROR(MetaGetU64(files, kBloomsFile, m.blooms_bytes));
  if (m.index_bytes > kMaxIndexRawBytes) return MetaError("index larger than 2GiB");
  RETURN_IF_ERROR(blocks::ReadCompaction(root, m.level, m.sources));
  return m;
}

}  // namespace strata::logs::block
