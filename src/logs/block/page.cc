#include "logs/block/page.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/coding.h"
#include "base/find.h"
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
  for (const auto& c : columns) PutUvarint(out, c.size());
  for (const auto& c : columns) out += c;
  out += escaped;
  return out;
}

std::string EncodeMetadata(std::span<const Entry> entries) {
  if (std::all_of(entries.begin(), entries.end(),
                  [](const Entry& e) { return e.metadata.empty(); })) {
    return {};
  }
  std::string out;
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

Status VisitPage(std::span<const int64_t> ts, std::optional<std::string_view> body,
                 std::string_view metadata, uint32_t fields, int64_t mint, int64_t maxt,
                 std::span<const std::string> needles, const EntryVisitor& fn) {
  const size_t n = ts.size();
  std::string_view counts;
  std::vector<std::string_view> columns(fields + 1);
  ByteReader esc("");
  std::vector<NeedleFinder> finders(needles.begin(), needles.end());
  if (body) {
    std::string_view raw = *body;
    if (raw.size() < n) return PageCorrupt("truncated part counts");
    counts = raw.substr(0, n);
    for (char c : counts) {
      uint32_t parts = static_cast<unsigned char>(c) & ~uint32_t{kEscapedLast};
      if (parts == 0 || parts > fields + 1) return PageCorrupt("bad part count");
    }
    ByteReader r(raw.substr(n));
    std::vector<uint64_t> lens(fields + 1);
    for (auto& len : lens) {
      if (!r.ReadUvarint(&len)) return PageCorrupt("bad column length");
    }
    const size_t text_at = raw.size() - r.remaining();
    for (uint32_t j = 0; j <= fields; ++j) {
      if (!r.ReadBytes(lens[j], &columns[j])) return PageCorrupt("truncated column");
    }
    esc = r;  // the escaped parts
    // A needle without spaces and newlines lies within one part of a line, so it is in the
    // parts' bytes if any line holds it: one search over the page rules most pages out.
    std::string_view text = raw.substr(text_at);
    for (const NeedleFinder& f : finders) {
      if (f.needle().find_first_of(" \n") == std::string::npos &&
          f.Find(text) == std::string_view::npos) {
        return Status::Ok();
      }
    }
  } else if (!needles.empty()) {
    return Status::InvalidArgument("log page: needles without lines");
  }
  ByteReader meta(metadata);
  std::string line;
  std::vector<LabelView> md;
  for (size_t i = 0; i < n; ++i) {
    line.clear();
    if (body) {
      auto c = static_cast<unsigned char>(counts[i]);
      uint32_t parts = c & ~uint32_t{kEscapedLast};
      for (uint32_t j = 0; j < parts; ++j) {
        std::string_view part;
        if (j + 1 == parts && (c & kEscapedLast) != 0) {
          if (!esc.ReadLengthPrefixed(&part)) return PageCorrupt("truncated escaped part");
        } else {
          size_t at = columns[j].find(j + 1 == parts ? '\n' : ' ');
          if (at == std::string_view::npos) return PageCorrupt("truncated part bytes");
          part = columns[j].substr(0, at);
          columns[j].remove_prefix(at + 1);
        }
        if (j > 0) line.push_back(' ');
        line.append(part);
      }
    }
    md.clear();
    if (!metadata.empty()) {
      uint64_t nm = 0;
      if (!meta.ReadUvarint(&nm) || nm > meta.remaining()) return PageCorrupt("bad metadata count");
      for (uint64_t k = 0; k < nm; ++k) {
        LabelView& m = md.emplace_back();
        if (!meta.ReadLengthPrefixed(&m.name) || !meta.ReadLengthPrefixed(&m.value)) {
          return PageCorrupt("truncated metadata");
        }
      }
    }
    if (ts[i] < mint || ts[i] > maxt) continue;
    if (std::all_of(finders.begin(), finders.end(), [&](const NeedleFinder& f) {
          return f.Find(line) != std::string_view::npos;
        })) {
      RETURN_IF_ERROR(fn(EntryRef{ts[i], line, md}));
    }
  }
  for (const auto& col : columns) {
    if (!col.empty()) return PageCorrupt("trailing part bytes");
  }
  if (!esc.empty()) return PageCorrupt("trailing body bytes");
  if (!meta.empty()) return PageCorrupt("trailing metadata bytes");
  return Status::Ok();
}

}  // namespace strata::logs::block
