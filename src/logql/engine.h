#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "logql/ast.h"
#include "logs/querier.h"
#include "promql/engine.h"

namespace strata::logql {

struct LogQueryParams {
  int64_t start_ns = 0;  // inclusive
  int64_t end_ns = 0;    // exclusive, as Loki's query_range
  bool forward = false;  // oldest first; Loki's default is backward (newest first)
  size_t limit = 100;
  // At most one entry per interval (Loki's `interval`): an entry is returned only when it is
  // at least this long after (before, backward) the one returned before it. 0: every entry.
  int64_t interval_ns = 0;
};

struct LogLine {
  int64_t ts_ns = 0;
  std::string line;
  Labels metadata;  // structured metadata
  Labels parsed;    // labels the pipeline added (with __error__ when it failed)
};

struct LogStream {
  Labels labels;  // every label of the entries (stream, metadata, parsed), as Loki answers
  Labels stream;  // the stream's own labels (the categorize-labels response form)
  std::vector<LogLine> entries;  // in the query's direction
};

struct LogQueryResult {
  std::vector<LogStream> streams;  // sorted by labels
  uint64_t entries_scanned = 0;
  uint64_t bytes_scanned = 0;
};

// Engine evaluates LogQL. Log queries select entries through the pipeline, newest (or oldest)
// first up to the limit; metric queries are PromQL expressions over the series that the range
// aggregations extract from the logs, so the PromQL evaluator does the stepping, vector
// aggregation, binary operators and label_replace with LogQL's semantics. Thread-safe.
class Engine {
 public:
  explicit Engine(promql::EngineOptions opts = {});

  Result<LogQueryResult> SelectLogs(const logs::Querier& q, const LogExpr& e,
                                    const LogQueryParams& p,
                                    const promql::QueryControl& ctl = {}) const;

  // Metric queries; times in milliseconds as PromQL's.
  Result<promql::QueryResult> Instant(const logs::Querier& q, const Expr& e, int64_t t_ms,
                                      const promql::QueryControl& ctl = {}) const;
  Result<promql::QueryResult> Range(const logs::Querier& q, const Expr& e, int64_t start_ms,
                                    int64_t end_ms, int64_t step_ms,
                                    const promql::QueryControl& ctl = {}) const;

  const promql::Engine& promql() const { return promql_; }

 private:
  promql::Engine promql_;
};

}  // namespace strata::logql
