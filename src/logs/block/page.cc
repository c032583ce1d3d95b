#include "logs/block/page.h"

#include <fmt/format.h>

#include "base/coding.h"
#include "logs/block/format.h"

namespace strata::logs::block {

namespace {

Status PageCorrupt(std::string_view what) {
  return Status::Corruption(fmt::format("log block page: {}", what));
}

// A line's part-count byte: the count in the low bits, and this flag when the last part holds
// a newline, so it is stored length-prefixed after the columns instead of '\n'-terminated.
constexpr unsigned char kEscapedLast = 0x80;

// Calls fn(part_index, part, last) for the parts of `line`: split at the first `fields` spaces.
template <typename Fn>
uint32_t SplitLine(std::string_view line, uint32_t fields, Fn fn) {
  uint32_t j = 0;
  while (j < fields) {
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) break;
    fn(j++, line.substr(0, sp), false);
    line.remove_prefix(sp + 1);
  }
  fn(j, line, true);
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
  std::string counts, escaped;
  std::vector<std::string> columns(fields + 1);
  for (const Entry& e : entries) {
    bool flagged = false;
    uint32_t parts = SplitLine(e.line, fields, [&](uint32_t j, std::string_view part, bool last) {
      if (!last) {
        columns[j].append(part).push_back(' ');
      } else if (part.find('\n') == std::string_view::npos) {
        columns[j].append(part).push_back('\n');
      } else {
        flagged = true;
        PutLengthPrefixed(escaped, part);
      }
    });
    counts.push_back(static_cast<char>(parts | (flagged ? kEscapedLast : 0)));
  }
  std::string out = std::move(counts);
  for (const auto& c : columns) out += c;
  out += escaped;
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
    uint32_t parts = static_cast<unsigned char>(c) & ~uint32_t{kEscapedLast};
    if (parts == 0 || parts > fields + 1) return PageCorrupt("bad part count");
  }
  // First pass: where each column starts, found by counting its terminators. Nothing is
  // allocated per entry, so a page's claims cannot make the decoder allocate more than the
  // page holds.
  std::string_view rest = raw.substr(n);
  std::vector<std::string_view> columns(fields + 1);
  for (uint32_t j = 0; j <= fields; ++j) {
    size_t len = 0;
    for (size_t i = 0; i < n; ++i) {
      auto c = static_cast<unsigned char>(counts[i]);
      uint32_t parts = c & ~uint32_t{kEscapedLast};
      if (parts <= j || (parts == j + 1 && (c & kEscapedLast) != 0)) continue;
      const char term = parts == j + 1 ? '\n' : ' ';
      size_t at = rest.find(term, len);
      if (at == std::string_view::npos) return PageCorrupt("truncated part bytes");
      len = at + 1;
    }
    columns[j] = rest.substr(0, len);
    rest.remove_prefix(len);
  }
  ByteReader r(rest);
  const size_t first = out.size();
  auto fail = [&](std::string_view what) {
    out.resize(first);
    return PageCorrupt(what);
  };
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(counts[i]);
    uint32_t parts = c & ~uint32_t{kEscapedLast};
    const bool keep = ts[i] >= mint && ts[i] <= maxt;
    Entry* e = nullptr;
    if (keep) {
      e = &out.emplace_back();
      e->ts_ns = ts[i];
    }
    for (uint32_t j = 0; j < parts; ++j) {
      std::string_view part;
      if (j + 1 == parts && (c & kEscapedLast) != 0) {
        if (!r.ReadLengthPrefixed(&part)) return fail("truncated escaped part");
      } else {
        // Found in the first pass: the terminator is there.
        size_t at = columns[j].find(j + 1 == parts ? '\n' : ' ');
        part = columns[j].substr(0, at);
        columns[j].remove_prefix(at + 1);
      }
      if (e != nullptr) {
        if (j > 0) e->line.push_back(' ');
        e->line.append(part);
      }
    }
  }
  size_t kept = first;
  for (size_t i = 0; i < n; ++i) {
    Entry* e = ts[i] >= mint && ts[i] <= maxt ? &out[kept++] : nullptr;
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
