#pragma once

#include <prometheus/registry.h>

#include <condition_variable>
#include <memory>
#include <thread>

#include "base/mutex.h"
#include "logs/compactor.h"
#include "objstore/registry.h"
#include "server/config.h"
#include "traces/compactor.h"
#include "tsdb/compact/compactor.h"

namespace strata::server {

// CompactorService runs compactor passes over every tenant in the bucket(s) every
// compactor.interval, on its own thread, inside `strata serve` or as `strata compactor`:
// the metrics compactor, then the log and the trace compactors, each over the tenants with its
// signal's blocks.
// Failures are logged and retried at the next pass. The registry must outlive it.
class CompactorService {
 public:
  CompactorService(const Config& config, objstore::BucketRegistry& buckets,
                   prometheus::Registry* registry);
  ~CompactorService();

  void Start();
  void Stop();
  // One pass over all tenants; returns false if any tenant failed.
  bool RunOnce();

 private:
  const int64_t interval_ms_;
  objstore::BucketRegistry& buckets_;
  tsdb::compact::Compactor compactor_;
  logs::Compactor log_compactor_;
  traces::Compactor trace_compactor_;
  Mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strata::server
