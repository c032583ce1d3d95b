#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/status.h"
#include "logs/stream.h"
#include "query/queryable.h"

namespace strata::logs {

class Head;
class Storage;

// The streams a Select found: labels up front, entries read on demand one stream at a time,
// so a query holds only the stream it is working on. Entries() may be called concurrently for
// different streams. Valid while the Querier that made it lives.
class StreamSet {
 public:
  virtual ~StreamSet() = default;
  virtual size_t size() const = 0;
  virtual const Labels& labels(size_t i) const = 0;
  // Replaces `out` with stream i's entries in the selected range, oldest first.
  virtual void Entries(size_t i, std::vector<Entry>& out) const = 0;
};

// Querier reads the log streams of one tenant. LogQL and the Loki API see storage only
// through it. Times are Unix nanoseconds, ranges inclusive. Thread-safe.
class Querier {
 public:
  virtual ~Querier() = default;
  // Streams matching all matchers that have entries in [mint, maxt], sorted by labels.
  virtual Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher> matchers, int64_t mint,
                                                    int64_t maxt) const = 0;
  // Sorted label names, or values of `name`, of the streams matching `matchers` (all streams
  // when empty) that have entries in [mint, maxt].
  virtual Result<std::vector<std::string>> LabelNames(std::span<const Matcher> matchers,
                                                      int64_t mint, int64_t maxt) const = 0;
  virtual Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                       std::span<const Matcher> matchers,
                                                       int64_t mint, int64_t maxt) const = 0;
};

// A querier over one tenant's head; `head` outlives it.
std::unique_ptr<Querier> NewHeadQuerier(const Head& head);
// A querier over nothing: a tenant that never sent logs.
std::unique_ptr<Querier> NewEmptyQuerier();

using Queryable = query::BasicQueryable<Querier>;

// The log Queryable of `strata serve`: each tenant's head in the log Storage. Without
// storage, queries are refused with kUnavailable. Thread-safe.
class StorageQueryable : public Queryable {
 public:
  // Must outlive this object or be detached (null) first.
  void SetStorage(const Storage* storage) { storage_.store(storage, std::memory_order_release); }
  Result<std::unique_ptr<Querier>> TenantQuerier(const std::string& tenant,
                                                 const query::ReadHints& hints) const override;

 private:
  std::atomic<const Storage*> storage_{nullptr};
};

}  // namespace strata::logs
