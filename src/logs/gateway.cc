#include "logs/gateway.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "base/mutex.h"
#include "base/signal.h"
#include "base/thread_annotations.h"
#include "blocks/lifecycle.h"
#include "logs/block/bloom.h"

namespace strata::logs {

namespace {

// Pages sorted by number; null: every page.
using PageSet = std::shared_ptr<const std::vector<uint32_t>>;

class BlockStreamSet : public StreamSet {
 public:
  BlockStreamSet(std::shared_ptr<block::BlockReader> reader,
                 std::shared_ptr<const block::LoadedIndex> index, std::vector<size_t> streams,
                 int64_t mint, int64_t maxt, PageSet holding, std::vector<std::string> needles)
      : reader_(std::move(reader)),
        index_(std::move(index)),
        streams_(std::move(streams)),
        mint_(mint),
        maxt_(maxt),
        holding_(std::move(holding)),
        needles_(std::move(needles)) {}

  size_t size() const override { return streams_.size(); }
  const Labels& labels(size_t i) const override {
    return index_->index.streams[streams_[i]].labels;
  }
  Status Entries(size_t i, std::vector<Entry>& out) const override {
    out.clear();
    ASSIGN_OR_RETURN(auto pages, Pages(i));
    if (pages.empty()) return Status::Ok();
    return reader_->ReadEntries(*index_, pages, mint_, maxt_, out);
  }
  Status Visit(size_t i, bool lines, const EntryVisitor& fn) const override {
    ASSIGN_OR_RETURN(auto pages, Pages(i));
    return reader_->VisitEntries(*index_, pages, mint_, maxt_, needles_, lines, fn);
  }
  Status Spans(size_t i, std::vector<Span>& out) const override {
    const block::BlockIndex& idx = index_->index;
    const block::StreamInfo& st = idx.streams[streams_[i]];
    for (uint32_t p = st.first_page; p < st.first_page + st.num_pages; ++p) {
      const block::PageInfo& pi = idx.pages[p];
      if (pi.max_ts < mint_ || pi.min_ts > maxt_) continue;
      out.push_back({pi.min_ts, pi.max_ts, pi.entries, pi.line_bytes + pi.meta_raw});
    }
    return Status::Ok();
  }
  // From the index: the stream's pages that meet the range.
  std::pair<int64_t, int64_t> Bounds(size_t i) const override {
    const block::BlockIndex& idx = index_->index;
    const block::StreamInfo& st = idx.streams[streams_[i]];
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint32_t p = st.first_page; p < st.first_page + st.num_pages; ++p) {
      if (idx.pages[p].max_ts < mint_ || idx.pages[p].min_ts > maxt_) continue;
      lo = std::min(lo, idx.pages[p].min_ts);
      hi = std::max(hi, idx.pages[p].max_ts);
    }
    return {std::max(lo, mint_), std::min(hi, maxt_)};
  }

 private:
  // The stream's pages in [mint_, maxt_] (that may hold the needles).
  Result<std::vector<uint32_t>> Pages(size_t i) const {
    ASSIGN_OR_RETURN(auto pages, reader_->Pages(*index_, streams_[i], mint_, maxt_, {}));
    if (holding_ != nullptr) {
      std::erase_if(pages, [&](uint32_t p) {
        return !std::binary_search(holding_->begin(), holding_->end(), p);
      });
    }
    return pages;
  }

  const std::shared_ptr<block::BlockReader> reader_;
  const std::shared_ptr<const block::LoadedIndex> index_;
  const std::vector<size_t> streams_;
  const int64_t mint_, maxt_;
  const PageSet holding_;
  const std::vector<std::string> needles_;
};

class BlockQuerier : public Querier {
 public:
  BlockQuerier(std::shared_ptr<block::BlockReader> reader, int64_t mint, int64_t maxt)
      : reader_(std::move(reader)), mint_(mint), maxt_(maxt) {}

  Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher> matchers, int64_t mint,
                                            int64_t maxt, const SelectHints& hints) const override {
    ASSIGN_OR_RETURN(auto index, reader_->Index());
    PageSet holding;
    if (!hints.line_contains.empty()) {
      // Pages outside the querier's range (not asked for by queries) are looked up alone.
      const bool inside = mint >= mint_ && maxt <= maxt_;
      ASSIGN_OR_RETURN(holding, inside
                                    ? Holding(index, matchers, hints.line_contains)
                                    : Compute(*index, matchers, hints.line_contains, mint, maxt));
    }
    auto streams = Matching(*index, matchers, mint, maxt);
    return std::unique_ptr<StreamSet>(
        std::make_unique<BlockStreamSet>(reader_, std::move(index), std::move(streams), mint, maxt,
                                         std::move(holding), hints.line_contains));
  }

  Result<std::vector<std::string>> LabelNames(std::span<const Matcher> matchers, int64_t mint,
                                              int64_t maxt) const override {
    ASSIGN_OR_RETURN(auto index, reader_->Index());
    std::set<std::string> names;
    for (size_t s : Matching(*index, matchers, mint, maxt)) {
      for (const auto& l : index->index.streams[s].labels) names.insert(l.name);
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               std::span<const Matcher> matchers, int64_t mint,
                                               int64_t maxt) const override {
    ASSIGN_OR_RETURN(auto index, reader_->Index());
    std::set<std::string> values;
    for (size_t s : Matching(*index, matchers, mint, maxt)) {
      for (const auto& l : index->index.streams[s].labels) {
        if (l.name == name) values.insert(l.value);
      }
    }
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  // The pages of the matching streams in the querier's range that may hold every needle.
  // Worked out once per querier for all of them, whatever the ranges selected later (a log
  // query reads its range in windows, newest first): one bloom range per feature and size
  // class, not one per stream and window.
  Result<PageSet> Holding(const std::shared_ptr<const block::LoadedIndex>& index,
                          std::span<const Matcher> matchers,
                          const std::vector<std::string>& needles) const {
    std::string key;
    for (const auto& m : matchers) key += m.ToString() + '\x1f';
    for (const auto& n : needles) key += n + '\x1e';
    {
      MutexLock lk(mu_);
      if (auto it = holding_.find(key); it != holding_.end()) return it->second;
    }
    ASSIGN_OR_RETURN(PageSet set, Compute(*index, matchers, needles, mint_, maxt_));
    MutexLock lk(mu_);
    return holding_.emplace(std::move(key), std::move(set)).first->second;
  }

  // The pages of the matching streams in [mint, maxt] that may hold every needle.
  Result<PageSet> Compute(const block::LoadedIndex& index, std::span<const Matcher> matchers,
                          const std::vector<std::string>& needles, int64_t mint,
                          int64_t maxt) const {
    std::vector<uint64_t> features;
    for (const auto& needle : needles) {
      block::AppendFeatures(
          features,
          block::NeedleFeatures(needle, block::FiltersShortNumbers(reader_->meta().version)));
    }
    std::vector<uint32_t> pages;
    for (size_t s : Matching(index, matchers, mint, maxt)) {
      ASSIGN_OR_RETURN(auto in_range, reader_->Pages(index, s, mint, maxt, {}));
      pages.insert(pages.end(), in_range.begin(), in_range.end());
    }
    ASSIGN_OR_RETURN(auto held, reader_->Holding(index, std::move(pages), features));
    return std::make_shared<const std::vector<uint32_t>>(std::move(held));
  }

  // The streams whose labels match and which have a page in [mint, maxt].
  static std::vector<size_t> Matching(const block::LoadedIndex& loaded,
                                      std::span<const Matcher> matchers, int64_t mint,
                                      int64_t maxt) {
    const block::BlockIndex& idx = loaded.index;
    std::vector<size_t> out;
    for (size_t s = 0; s < idx.streams.size(); ++s) {
      const auto& st = idx.streams[s];
      if (!MatchesAll(matchers, st.labels)) continue;
      for (uint32_t p = st.first_page; p < st.first_page + st.num_pages; ++p) {
        if (idx.pages[p].max_ts >= mint && idx.pages[p].min_ts <= maxt) {
          out.push_back(s);
          break;
        }
      }
    }
    return out;
  }

  const std::shared_ptr<block::BlockReader> reader_;
  const int64_t mint_, maxt_;
  mutable Mutex mu_;
  // By matchers and needles.
  mutable std::map<std::string, PageSet> holding_ GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Querier> NewBlockQuerier(std::shared_ptr<block::BlockReader> reader,
                                         int64_t mint_ns, int64_t maxt_ns) {
  return std::make_unique<BlockQuerier>(std::move(reader), mint_ns, maxt_ns);
}

std::shared_ptr<block::BlockReader> Gateway::Open(const std::string& tenant,
                                                  const std::shared_ptr<objstore::Bucket>& bucket,
                                                  block::BlockMeta meta) const {
  std::string prefix = blocks::BlockPrefix(blocks::BlocksRoot(tenant, Signal::kLogs), meta.id);
  return std::make_shared<block::BlockReader>(bucket, std::move(prefix), std::move(meta), cache_,
                                              opts_);
}

Status Gateway::Sync(const std::string& tenant) {
  auto bucket = bucket_for_(tenant);
  return blocks_.SyncWithBucket(
      tenant, *bucket, blocks::BlocksRoot(tenant, Signal::kLogs), "log",
      [&](const std::string& id,
          std::string_view json) -> Result<std::shared_ptr<block::BlockReader>> {
        ASSIGN_OR_RETURN(block::BlockMeta meta, block::DecodeMeta(json));
        if (meta.id != id) return Status::Corruption("id differs from its directory");
        return Open(tenant, bucket, std::move(meta));
      });
}

void Gateway::AddBlock(const std::string& tenant, const block::BlockMeta& meta) {
  blocks_.Add(tenant, meta.id, Open(tenant, bucket_for_(tenant), meta));
}

std::unique_ptr<Querier> Gateway::TenantQuerier(const std::string& tenant, int64_t mint_ns,
                                                int64_t maxt_ns) const {
  std::vector<std::unique_ptr<Querier>> queriers;
  for (auto& r : blocks_.Of(tenant)) {
    if (r->meta().max_time_ns < mint_ns || r->meta().min_time_ns > maxt_ns) continue;
    queriers.push_back(NewBlockQuerier(std::move(r), mint_ns, maxt_ns));
  }
  if (queriers.empty()) return NewEmptyQuerier();
  return NewMergeQuerier(std::move(queriers));
}

std::vector<block::BlockMeta> Gateway::Blocks(const std::string& tenant) const {
  std::vector<block::BlockMeta> out;
  for (const auto& r : blocks_.Of(tenant)) out.push_back(r->meta());
  return out;
}

void Gateway::EvictIndexes(int64_t now_ms, int64_t idle_ms, uint64_t max_bytes) {
  blocks_.EvictIndexes(now_ms, idle_ms, max_bytes);
}

}  // namespace strata::logs
