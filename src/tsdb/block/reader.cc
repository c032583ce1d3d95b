#include "tsdb/block/reader.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/mutex.h"
#include "tsdb/block/format.h"

namespace strata::tsdb::block {
namespace {

Status Corrupt(std::string_view what) {
  return Status::Corruption(fmt::format("block index: {}", what));
}

// Verifies the trailing CRC32C of a checksummed section; returns its body.
Result<std::string_view> Checked(std::string_view section, std::string_view what) {
  if (section.size() < 4) return Corrupt(fmt::format("{} truncated", what));
  size_t body = section.size() - 4;
  if (Crc32c(section.data(), body) != LoadFixed32(section.data() + body)) {
    return Corrupt(fmt::format("{} checksum mismatch", what));
  }
  return section.substr(0, body);
}

bool InFile(uint64_t off, uint64_t len, uint64_t size) {
  return off >= kFileHeaderSize && len <= size && off <= size - len;
}

// Postings lists this long are kept decoded (shorter ones decode in microseconds).
constexpr size_t kKeepDecodedEntries = 4096;

// Keeps the members of sorted `small` that are in sorted `large`, searching `large` from the
// last match on: a handful of ordinals against a list of every series costs a few lookups.
void IntersectInto(std::vector<uint32_t>& small, const std::vector<uint32_t>& large) {
  auto from = large.begin();
  size_t kept = 0;
  for (uint32_t o : small) {
    from = std::lower_bound(from, large.end(), o);
    if (from == large.end()) break;
    if (*from == o) small[kept++] = o;
  }
  small.resize(kept);
}

}  // namespace

RangeFetcher FetcherOver(std::string_view file) {
  return [file](std::span<const ByteRange> ranges) -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    out.reserve(ranges.size());
    for (const auto& r : ranges) {
      if (r.offset > file.size() || r.length > file.size() - r.offset) {
        return Corrupt("range outside the file");
      }
      out.emplace_back(file.substr(r.offset, r.length));
    }
    return out;
  };
}

Result<ShardIndex> ShardIndex::Parse(std::string_view ioi, uint64_t index_size) {
  ASSIGN_OR_RETURN(std::string_view framed, Checked(ioi, "index-of-index"));
  ByteReader head(framed);
  uint64_t raw_size = 0;
  if (!head.ReadUvarint(&raw_size) || raw_size > (1u << 30)) return Corrupt("bad ioi size");
  std::string raw(raw_size, '\0');
  std::string_view compressed(framed.data() + (framed.size() - head.remaining()), head.remaining());
  size_t n = ZSTD_decompress(raw.data(), raw.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(n) || n != raw_size) return Corrupt("index-of-index does not decompress");

  ShardIndex idx;
  ByteReader r(raw);
  uint64_t nsym = 0;
  if (!r.ReadUvarint(&nsym) || nsym > raw_size) return Corrupt("bad symbol count");
  idx.symbol_offsets_.reserve(nsym + 1);
  std::string_view prev;
  for (uint64_t i = 0; i < nsym; ++i) {
    std::string_view s;
    if (!r.ReadLengthPrefixed(&s)) return Corrupt("truncated symbols");
    if (i > 0 && !(prev < s)) return Corrupt("symbols not sorted");
    prev = s;
    idx.symbol_offsets_.push_back(static_cast<uint32_t>(idx.symbol_data_.size()));
    idx.symbol_data_.append(s);
  }
  idx.symbol_offsets_.push_back(static_cast<uint32_t>(idx.symbol_data_.size()));
  auto read_sym = [&](uint32_t* out) {
    uint64_t v = 0;
    if (!r.ReadUvarint(&v) || v >= nsym) return false;
    *out = static_cast<uint32_t>(v);
    return true;
  };
  uint64_t ntables = 0;
  if (!r.ReadUvarint(&ntables) || ntables > nsym) return Corrupt("bad label-name count");
  for (uint64_t t = 0; t < ntables; ++t) {
    Table table;
    uint64_t nblocks = 0;
    if (!read_sym(&table.name) || !r.ReadUvarint(&nblocks) || nblocks > raw_size) {
      return Corrupt("bad postings table header");
    }
    if (!idx.tables_.empty() && idx.tables_.back().name >= table.name) {
      return Corrupt("label names not sorted");
    }
    for (uint64_t b = 0; b < nblocks; ++b) {
      TableBlock blk{};
      if (!read_sym(&blk.first_value) || !r.ReadUvarint(&blk.offset) ||
          !r.ReadUvarint(&blk.length) || !InFile(blk.offset, blk.length, index_size)) {
        return Corrupt("bad postings table block");
      }
      if (!table.blocks.empty() && table.blocks.back().first_value >= blk.first_value) {
        return Corrupt("postings table blocks not sorted");
      }
      table.blocks.push_back(blk);
    }
    idx.tables_.push_back(std::move(table));
  }
  uint64_t ngroups = 0;
  if (!r.ReadUvarint(&idx.num_series_) || !r.ReadUvarint(&ngroups) ||
      ngroups != (idx.num_series_ + kSeriesPerGroup - 1) / kSeriesPerGroup) {
    return Corrupt("bad series group count");
  }
  for (uint64_t g = 0; g < ngroups; ++g) {
    ByteRange br;
    if (!r.ReadUvarint(&br.offset) || !r.ReadUvarint(&br.length) ||
        !InFile(br.offset, br.length, index_size)) {
      return Corrupt("bad series group");
    }
    idx.groups_.push_back(br);
  }
  if (!r.empty()) return Corrupt("trailing bytes in index-of-index");
  return idx;
}

size_t ShardIndex::MemoryBytes() const {
  size_t n = symbol_data_.capacity() + symbol_offsets_.capacity() * 4 +
             groups_.capacity() * sizeof(ByteRange);
  {
    MutexLock lk(decoded_->mu);
    n += decoded_->bytes;
  }
  for (const auto& t : tables_) n += sizeof(Table) + t.blocks.capacity() * sizeof(TableBlock);
  return n;
}

const ShardIndex::Table* ShardIndex::FindTable(std::string_view name) const {
  auto it =
      std::lower_bound(tables_.begin(), tables_.end(), name,
                       [&](const Table& t, std::string_view n) { return Symbol(t.name) < n; });
  if (it == tables_.end() || Symbol(it->name) != name) return nullptr;
  return &*it;
}

Result<std::vector<ShardIndex::ListRef>> ShardIndex::ReadTable(const Table& t,
                                                               std::span<const size_t> blocks,
                                                               const RangeFetcher& index) const {
  std::vector<ByteRange> ranges;
  ranges.reserve(blocks.size());
  for (size_t b : blocks) ranges.push_back({t.blocks[b].offset, t.blocks[b].length});
  ASSIGN_OR_RETURN(std::vector<std::string> data, index(ranges));
  std::vector<ListRef> out;
  for (const auto& d : data) {
    ASSIGN_OR_RETURN(std::string_view body, Checked(d, "postings table"));
    ByteReader r(body);
    uint64_t n = 0;
    if (!r.ReadUvarint(&n) || n > kPostingsPerBlock) return Corrupt("bad postings table block");
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t v = 0;
      ListRef ref{};
      if (!r.ReadUvarint(&v) || v + 1 >= symbol_offsets_.size() ||
          !r.ReadUvarint(&ref.range.offset) || !r.ReadUvarint(&ref.range.length)) {
        return Corrupt("bad postings table entry");
      }
      ref.value = static_cast<uint32_t>(v);
      out.push_back(ref);
    }
  }
  return out;
}

Result<ShardIndex::List> ShardIndex::DecodeList(std::string_view data) const {
  ASSIGN_OR_RETURN(std::string_view body, Checked(data, "postings list"));
  ByteReader r(body);
  uint64_t n = 0;
  if (!r.ReadUvarint(&n) || n > num_series_) return Corrupt("bad postings list");
  auto out = std::make_shared<std::vector<uint32_t>>();
  out->reserve(n);
  uint64_t cur = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta = 0;
    if (!r.ReadUvarint(&delta)) return Corrupt("truncated postings list");
    cur += delta;
    if (cur >= num_series_ || (i > 0 && delta == 0)) return Corrupt("bad postings entry");
    out->push_back(static_cast<uint32_t>(cur));
  }
  return List(std::move(out));
}

Result<ShardIndex::List> ShardIndex::MatchingPostings(const Table& t, const Matcher& m, bool invert,
                                                      const RangeFetcher& index) const {
  std::vector<size_t> blocks;
  if (m.type() == Matcher::Type::kEqual && !invert) {
    // One block can hold the value: the last whose first value is <= it.
    auto it = std::upper_bound(
        t.blocks.begin(), t.blocks.end(), std::string_view(m.value()),
        [&](std::string_view v, const TableBlock& b) { return v < Symbol(b.first_value); });
    if (it == t.blocks.begin()) return std::make_shared<const std::vector<uint32_t>>();
    blocks.push_back(static_cast<size_t>(it - t.blocks.begin()) - 1);
  } else {
    for (size_t b = 0; b < t.blocks.size(); ++b) blocks.push_back(b);
  }
  ASSIGN_OR_RETURN(std::vector<ListRef> refs, ReadTable(t, blocks, index));
  // Matched outside the lock: a regex over a table of many values takes a while.
  std::erase_if(refs, [&](const ListRef& ref) { return m.Matches(Symbol(ref.value)) == invert; });
  std::vector<List> lists;
  std::vector<ByteRange> missing;
  {
    MutexLock lk(decoded_->mu);
    for (const auto& ref : refs) {
      auto it = decoded_->lists.find(ref.range.offset);
      if (it != decoded_->lists.end()) {
        lists.push_back(it->second);
      } else {
        missing.push_back(ref.range);
      }
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> data, index(missing));
  for (size_t i = 0; i < data.size(); ++i) {
    ASSIGN_OR_RETURN(List list, DecodeList(data[i]));
    if (list->size() >= kKeepDecodedEntries) {
      size_t bytes = list->size() * sizeof(uint32_t);
      MutexLock lk(decoded_->mu);
      if (decoded_->bytes + bytes <= num_series_ * 16 &&
          decoded_->lists.emplace(missing[i].offset, list).second) {
        decoded_->bytes += bytes;
      }
    }
    lists.push_back(std::move(list));
  }
  if (lists.empty()) return std::make_shared<const std::vector<uint32_t>>();
  if (lists.size() == 1) return lists[0];
  auto out = std::make_shared<std::vector<uint32_t>>();
  for (const auto& l : lists) out->insert(out->end(), l->begin(), l->end());
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return List(std::move(out));
}

Result<std::vector<uint32_t>> ShardIndex::Postings(std::span<const Matcher> matchers,
                                                   const RangeFetcher& index) const {
  // Matchers that exclude series without the label first: their lists are intersected from
  // the shortest on, and the full ordinal list is never built for the usual selectors. A
  // matcher whose label no series has matches none of them.
  std::vector<List> sets;
  std::vector<const Matcher*> others;  // match series without the label too
  for (const auto& m : matchers) {
    const Table* t = FindTable(m.name());
    if (m.Matches("")) {
      if (t) others.push_back(&m);
      continue;
    }
    if (!t) return std::vector<uint32_t>{};
    ASSIGN_OR_RETURN(List set, MatchingPostings(*t, m, false, index));
    if (set->empty()) return std::vector<uint32_t>{};
    sets.push_back(std::move(set));
  }
  std::vector<uint32_t> result;
  if (sets.empty()) {
    result.resize(num_series_);
    for (size_t i = 0; i < num_series_; ++i) result[i] = static_cast<uint32_t>(i);
  } else {
    std::sort(sets.begin(), sets.end(),
              [](const List& a, const List& b) { return a->size() < b->size(); });
    result = *sets[0];
    for (size_t k = 1; k < sets.size() && !result.empty(); ++k) IntersectInto(result, *sets[k]);
  }
  // Series without the label match too: remove those whose value does not match.
  for (const Matcher* m : others) {
    if (result.empty()) break;
    ASSIGN_OR_RETURN(List excluded, MatchingPostings(*FindTable(m->name()), *m, true, index));
    std::vector<uint32_t> kept;
    std::set_difference(result.begin(), result.end(), excluded->begin(), excluded->end(),
                        std::back_inserter(kept));
    result = std::move(kept);
  }
  return result;
}

Result<std::vector<SeriesRef>> ShardIndex::Series(std::span<const uint32_t> ordinals, int64_t mint,
                                                  int64_t maxt, int64_t block_min_time,
                                                  bool keep_empty,
                                                  const RangeFetcher& index) const {
  std::vector<ByteRange> ranges;
  std::vector<size_t> group_ids;
  for (uint32_t o : ordinals) {
    if (o >= num_series_) return Corrupt("series ordinal out of range");
    size_t g = o / kSeriesPerGroup;
    if (group_ids.empty() || group_ids.back() != g) {
      group_ids.push_back(g);
      ranges.push_back(groups_[g]);
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> data, index(ranges));
  std::vector<SeriesRef> out;
  size_t next = 0;  // position in ordinals
  for (size_t gi = 0; gi < group_ids.size(); ++gi) {
    ASSIGN_OR_RETURN(std::string_view body, Checked(data[gi], "series group"));
    ByteReader r(body);
    size_t first = group_ids[gi] * kSeriesPerGroup;
    size_t count = std::min<size_t>(kSeriesPerGroup, num_series_ - first);
    for (size_t i = first; i < first + count; ++i) {
      bool wanted = next < ordinals.size() && ordinals[next] == i;
      SeriesRef s;
      uint64_t nlabels = 0;
      if (!r.ReadUvarint(&nlabels) || nlabels > kMaxLabelsPerSeries) return Corrupt("bad series");
      for (uint64_t l = 0; l < nlabels; ++l) {
        uint64_t ns = 0;
        uint64_t vs = 0;
        if (!r.ReadUvarint(&ns) || !r.ReadUvarint(&vs) || ns + 1 >= symbol_offsets_.size() ||
            vs + 1 >= symbol_offsets_.size()) {
          return Corrupt("bad series label");
        }
        if (wanted) {
          s.labels.push_back({std::string(Symbol(static_cast<uint32_t>(ns))),
                              std::string(Symbol(static_cast<uint32_t>(vs)))});
        }
      }
      uint64_t nchunks = 0;
      if (!r.ReadUvarint(&nchunks) || nchunks > body.size()) return Corrupt("bad chunk count");
      int64_t prev_t = block_min_time;
      uint64_t prev_end = 0;
      for (uint64_t c = 0; c < nchunks; ++c) {
        int64_t dmin = 0;
        uint64_t span = 0;
        int64_t doff = 0;
        uint64_t len = 0;
        if (!r.ReadVarint(&dmin) || !r.ReadUvarint(&span) || !r.ReadVarint(&doff) ||
            !r.ReadUvarint(&len) || len > (1u << 30)) {
          return Corrupt("bad chunk ref");
        }
        ChunkRef ref{prev_t + dmin, prev_t + dmin + static_cast<int64_t>(span),
                     prev_end + static_cast<uint64_t>(doff), static_cast<uint32_t>(len)};
        prev_t = ref.max_t;
        prev_end = ref.offset + ref.length;
        if (wanted && ref.max_t >= mint && ref.min_t <= maxt) s.chunks.push_back(ref);
      }
      if (wanted) {
        ++next;
        if (keep_empty || !s.chunks.empty()) out.push_back(std::move(s));
      }
    }
    if (!r.empty()) return Corrupt("trailing bytes in series group");
  }
  return out;
}

std::vector<std::string> ShardIndex::LabelNames() const {
  std::vector<std::string> out;
  out.reserve(tables_.size());
  for (const auto& t : tables_) out.emplace_back(Symbol(t.name));
  return out;
}

Result<std::vector<std::string>> ShardIndex::LabelValues(std::string_view name,
                                                         const RangeFetcher& index) const {
  const Table* t = FindTable(name);
  if (!t) return std::vector<std::string>{};
  std::vector<size_t> blocks(t->blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) blocks[b] = b;
  ASSIGN_OR_RETURN(std::vector<ListRef> refs, ReadTable(*t, blocks, index));
  std::vector<std::string> out;
  out.reserve(refs.size());
  for (const auto& ref : refs) out.emplace_back(Symbol(ref.value));
  return out;
}

}  // namespace strata::tsdb::block
