#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>

#include "base/signal.h"
#include "objstore/bucket.h"

namespace strata::objstore {

enum class Op { kGet, kGetRange, kPut, kList, kDelete, kExists };
inline constexpr size_t kNumOps = 6;
std::string_view OpName(Op op);

// The object-store cost metrics: requests by operation, tenant, component, signal and outcome,
// and bytes received and sent, so each component's and signal's share of the bill is visible
// in /metrics
// (and in `strata tool cost-report`). Thread-safe.
class BucketMetrics {
 public:
  explicit BucketMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Counter>& received_bytes;
  prometheus::Family<prometheus::Counter>& sent_bytes;
  prometheus::Family<prometheus::Histogram>& duration;
};

// InstrumentedBucket counts every call of one component serving one signal for one tenant into
// BucketMetrics and
// forwards it. PutFile counts as one Put of the file's size. The inner bucket and the metrics
// must outlive it. Thread-safe.
class InstrumentedBucket : public Bucket {
 public:
  InstrumentedBucket(std::shared_ptr<Bucket> inner, BucketMetrics& metrics, Component component,
                     Signal signal, const std::string& tenant);

  Result<std::string> Get(const std::string& key) override;
  Result<std::string> GetRange(const std::string& key, uint64_t offset, uint64_t length) override;
  Status Put(const std::string& key, std::string_view data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool recursive) override;
  Status Delete(const std::string& key) override;
  Result<bool> Exists(const std::string& key) override;

 private:
  enum Outcome { kOk, kNotFound, kError, kNumOutcomes };
  void Record(Op op, const Status& st, double seconds, uint64_t in, uint64_t out);

  std::shared_ptr<Bucket> inner_;
  std::array<std::array<prometheus::Counter*, kNumOutcomes>, kNumOps> requests_{};
  std::array<prometheus::Histogram*, kNumOps> duration_{};
  prometheus::Counter* received_;
  prometheus::Counter* sent_;
};

}  // namespace strata::objstore
