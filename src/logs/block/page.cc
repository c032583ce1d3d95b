#include "logs/block/page.h"

#include <fmt/format.h>

#include "base/coding.h"
#include "logs/block/format.h"

namespace strata::logs::block {

namespace {

Status PageCorrupt(std::string_view what) {
  return Status::Corruption(fmt::format("log block page: {}", what));
}

// Calls fn(part_index, part) for the parts of `line`: split at the first `fields` spaces.
template <typename Fn>
uint32_t SplitLine(std::string_view line, uint32_t fields, Fn fn) {
  uint32_t j = 0;
  while (j < fields) {
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) break;
    fn(j++, line.substr(0, sp));
    line.remove_prefix(sp + 1);
  }
  fn(j, line);
  return j + 1;
}

}  // namespace

std::string EncodeTimestamps(std::span<const Entry> entries) {
  std::string out;
  int64_t prev = 0;
  for (const Entry& e : entries) {
    // Entries are sorted, so the deltas are small and never negative.
    PutUvarint(out, static_cast<uint64_t>(e.ts_ns) - static_cast<uint64_t>(prev));
    prev = e.ts_ns;
  }
  return out;
}

std::string EncodeBody(std::span<const Entry> entries, uint32_t fields) {
  std::string counts;
  std::vector<std::string> lens(fields + 1), bytes(fields + 1);
  for (const Entry& e : entries) {
    uint32_t parts = SplitLine(e.line, fields, [&](uint32_t j, std::string_view part) {
      PutUvarint(lens[j], part.size());
      bytes[j].append(part);
    });
    counts.push_back(static_cast<char>(parts));
  }
  std::string out = std::move(counts);
  for (const auto& l : lens) out += l;
  for (const auto& b : bytes) out += b;
  for (const Entry& e : entries) {
    PutUvarint(out, e.metadata.size());
    for (const auto& m : e.metadata) {
      PutLengthPrefixed(out, m.name);
      PutLengthPrefixed(out, m.value);
    }
  }
  return out;
}

Status DecodeTimestamps(std::string_view raw, uint32_t n, std::vector<int64_t>& out) {
  out.resize(n);
  ByteReader r(raw);
  uint64_t t = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t d = 0;
    if (!r.ReadUvarint(&d)) return PageCorrupt("truncated timestamps");
    t += d;  // wraps as the encoder's subtraction did
    out[i] = static_cast<int64_t>(t);
    if (i > 0 && out[i] < out[i - 1]) return PageCorrupt("timestamps out of order");
  }
  if (!r.empty()) return PageCorrupt("trailing timestamp bytes");
  return Status::Ok();
}

Status DecodeBody(std::string_view raw, std::span<const int64_t> ts, uint32_t fields, int64_t mint,
                  int64_t maxt, std::vector<Entry>& out) {
  const size_t n = ts.size();
  if (raw.size() < n) return PageCorrupt("truncated part counts");
  const std::string_view counts = raw.substr(0, n);
  for (char c : counts) {
    auto parts = static_cast<unsigned char>(c);
    if (parts == 0 || parts > fields + 1) return PageCorrupt("bad part count");
  }
  // First pass: where each column's lengths start, and its bytes. Nothing is allocated per
  // entry, so a page's claims cannot make the decoder allocate more than the page holds.
  ByteReader r(raw.substr(n));
  std::vector<ByteReader> lens;
  std::vector<uint64_t> column_bytes(fields + 1, 0);
  for (uint32_t j = 0; j <= fields; ++j) {
    lens.emplace_back(raw.substr(raw.size() - r.remaining()));
    for (size_t i = 0; i < n; ++i) {
      if (static_cast<unsigned char>(counts[i]) <= j) continue;
      uint64_t len = 0;
      if (!r.ReadUvarint(&len) || len > raw.size()) return PageCorrupt("bad part length");
      column_bytes[j] += len;
    }
  }
  std::vector<std::string_view> columns(fields + 1);
  for (uint32_t j = 0; j <= fields; ++j) {
    if (!r.ReadBytes(column_bytes[j], &columns[j])) return PageCorrupt("truncated part bytes");
  }
  const size_t first = out.size();
  auto fail = [&](std::string_view what) {
    out.resize(first);
    return PageCorrupt(what);
  };
  for (size_t i = 0; i < n; ++i) {
    auto parts = static_cast<unsigned char>(counts[i]);
    const bool keep = ts[i] >= mint && ts[i] <= maxt;
    Entry* e = nullptr;
    if (keep) {
      e = &out.emplace_back();
      e->ts_ns = ts[i];
    }
    for (uint32_t j = 0; j < parts; ++j) {
      uint64_t len = 0;
      (void)lens[j].ReadUvarint(&len);  // read once already in the first pass
      if (e != nullptr) {
        if (j > 0) e->line.push_back(' ');
        e->line.append(columns[j].substr(0, len));
      }
      columns[j].remove_prefix(len);
    }
    uint64_t nm = 0;
    if (!r.ReadUvarint(&nm) || nm > r.remaining()) return fail("bad metadata count");
    for (uint64_t k = 0; k < nm; ++k) {
      std::string_view name, value;
      if (!r.ReadLengthPrefixed(&name) || !r.ReadLengthPrefixed(&value)) {
        return fail("truncated metadata");
      }
      if (e != nullptr) e->metadata.push_back({std::string(name), std::string(value)});
    }
  }
  if (!r.empty()) return fail("trailing body bytes");
  return Status::Ok();
}

}  // namespace strata::logs::block
