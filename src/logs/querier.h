#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/status.h"
#include "logs/stream.h"
#include "query/queryable.h"

namespace strata::logs {

class Head;

// The streams a Select found: labels up front, entries read on demand one stream at a time,
// so a query holds only the stream it is working on. Entries() may be called concurrently for
// different streams. Valid while the Querier that made it lives.
class StreamSet {
 public:
  virtual ~StreamSet() = default;
  virtual size_t size() const = 0;
  virtual const Labels& labels(size_t i) const = 0;
  // Replaces `out` with stream i's entries in the selected range, oldest first; an error
  // when stored data cannot be read.
  virtual Status Entries(size_t i, std::vector<Entry>& out) const = 0;
  // Visits stream i's entries in the selected range, oldest first, as Entries() has them
  // (or fewer: entries lacking one of the Select's line_contains hints may be left out).
  // Without `lines` the caller looks at times and structured metadata only (counting lines),
  // and a set may visit entries with empty lines, leaving the text unread. The default reads
  // Entries() first; sets that can do better stream them.
  virtual Status Visit(size_t i, bool lines, const EntryVisitor& fn) const;
  // Times no entry of stream i lies outside, if the set knows them cheaply (a merge streams
  // sources whose bounds do not overlap instead of reading them whole); by default none.
  virtual std::pair<int64_t, int64_t> Bounds(size_t) const { return {INT64_MIN, INT64_MAX}; }
  // Appends the spans of stream i that meet the selected range, whole (a span may reach
  // past the range: index/stats and index/volume prorate them). The default makes a span
  // of each entry, read through Entries().
  virtual Status Spans(size_t i, std::vector<Span>& out) const;
};

// What a Select may use to read less.
struct SelectHints {
  // Substrings every line the caller keeps contains: entries known to lack one may be left
  // out (a block skips the pages whose blooms rule one out).
  std::vector<std::string> line_contains;
};

// Querier reads the log streams of one tenant. LogQL and the Loki API see storage only
// through it. Times are Unix nanoseconds, ranges inclusive. Thread-safe.
class Querier {
 public:
  virtual ~Querier() = default;
  // Streams matching all matchers that have entries in [mint, maxt], sorted by labels.
  virtual Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher> matchers, int64_t mint,
                                                    int64_t maxt,
                                                    const SelectHints& hints) const = 0;
  // Sorted label names, or values of `name`, of the streams matching `matchers` (all streams
  // when empty) that have entries in [mint, maxt].
  virtual Result<std::vector<std::string>> LabelNames(std::span<const Matcher> matchers,
                                                      int64_t mint, int64_t maxt) const = 0;
  virtual Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                       std::span<const Matcher> matchers,
                                                       int64_t mint, int64_t maxt) const = 0;
};

// A querier over one tenant's head; `head` outlives it. It leaves out the entries sealed by
// seal `shipped` or before: a block that holds them is visible (Db::shipped_seal).
std::unique_ptr<Querier> NewHeadQuerier(const Head& head, uint64_t shipped = 0);
// A querier over nothing: a tenant that never sent logs.
std::unique_ptr<Querier> NewEmptyQuerier();
// A querier over several (the head, blocks): streams with equal labels are one stream, their
// entries merged by time; an entry identical in time, line and metadata to one before it
// from another source (a block cut the head had not dropped yet, a cut repeated after a
// crash) is returned once.
std::unique_ptr<Querier> NewMergeQuerier(std::vector<std::unique_ptr<Querier>> queriers);

using Queryable = query::BasicQueryable<Querier>;

}  // namespace strata::logs
