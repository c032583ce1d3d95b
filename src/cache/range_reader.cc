#include "cache/range_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "base/mutex.h"
#include "base/parallel.h"

namespace strata::cache {

namespace {

// A page's cache key names the page size too: pages of one object read at another size (a
// reader whose granularity changed) are other pages.
std::string PageKey(const std::string& key, uint64_t page_size, uint64_t page) {
  return fmt::format("{}@{}#{}", key, page_size, page);
}

}  // namespace

Result<std::vector<std::string>> ReadRanges(objstore::Bucket& bucket, PageCache& cache,
                                            const std::string& key, uint64_t object_size,
                                            std::span<const objstore::ByteRange> ranges,
                                            const RangeReadOptions& opts) {
  const uint64_t ps = opts.page_size;
  std::map<uint64_t, Page> pages;  // page number -> bytes
  for (const auto& r : ranges) {
    if (r.length == 0) continue;
    if (r.offset > object_size || r.length > object_size - r.offset) {
      return Status::Corruption(fmt::format("{}: range [{}, +{}) outside the file ({} bytes)", key,
                                            r.offset, r.length, object_size));
    }
    for (uint64_t p = r.offset / ps; p <= (r.offset + r.length - 1) / ps; ++p) pages[p];
  }
  // Missing pages, grouped into runs fetched with one GET each.
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // first page, last page
  const uint64_t gap_pages = opts.max_gap / ps;
  for (auto& [p, page] : pages) {
    page = cache.Get(PageKey(key, ps, p));
    // A cached page of the wrong size (a damaged disk cache) is fetched again.
    if (page && page->size() == std::min(ps, object_size - p * ps)) continue;
    page = nullptr;
    if (!runs.empty() && p - runs.back().second <= gap_pages + 1) {
      runs.back().second = p;
    } else {
      runs.emplace_back(p, p);
    }
  }
  Mutex mu;
  RETURN_IF_ERROR(RunConcurrently(runs.size(), opts.fetch_concurrency, [&](size_t i) -> Status {
    auto [first, last] = runs[i];
    uint64_t off = first * ps;
    uint64_t len = std::min((last + 1) * ps, object_size) - off;
    ASSIGN_OR_RETURN(std::string data, bucket.GetRange(key, off, len));
    if (data.size() != len) {
      return Status::Corruption(fmt::format("{}: shorter than its known size", key));
    }
    std::vector<std::pair<std::string, Page>> fetched;
    for (uint64_t p = first; p <= last; ++p) {
      uint64_t begin = (p - first) * ps;
      fetched.emplace_back(PageKey(key, ps, p), std::make_shared<const std::string>(
                                                    data.substr(begin, std::min(ps, len - begin))));
    }
    cache.Put(fetched);
    MutexLock lk(mu);
    for (uint64_t p = first; p <= last; ++p) pages[p] = fetched[p - first].second;
    return Status::Ok();
  }));
  std::vector<std::string> out;
  out.reserve(ranges.size());
  for (const auto& r : ranges) {
    std::string s;
    s.reserve(r.length);
    uint64_t pos = r.offset;
    uint64_t end = r.offset + r.length;
    while (pos < end) {
      const Page& page = pages.at(pos / ps);
      uint64_t in_page = pos % ps;
      uint64_t n = std::min(end - pos, page->size() - in_page);
      if (n == 0) return Status::Corruption(fmt::format("{}: short page", key));
      s.append(*page, in_page, n);
      pos += n;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace strata::cache
