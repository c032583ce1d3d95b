#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "ingest/rejection_report.h"
#include "limits/token_bucket.h"

namespace strata::ingest {

// The names and help texts of one signal's ingest counters.
struct IngestCounterNames {
  const char* received;
  const char* received_help;
  const char* stored;
  const char* stored_help;
  const char* duplicates;
  const char* duplicates_help;
  const char* rejected;  // labelled by tenant and reason
  const char* rejected_help;
};

// What a distributor keeps per tenant: its rate bucket and its counters (received, stored,
// duplicates, refused by reason), made on first use. `R` is the signal's reason enum (kCount,
// ReasonName). Thread-safe; a tenant's State stays valid as long as this.
template <typename R>
class TenantStates {
 public:
  struct State {
    limits::TokenBucket bucket;
    prometheus::Counter* received = nullptr;
    prometheus::Counter* stored = nullptr;
    prometheus::Counter* duplicates = nullptr;
    std::array<prometheus::Counter*, static_cast<size_t>(R::kCount)> rejected{};

    // Counts every refusal of `report` under its reason.
    void CountRefusals(const RejectionReport<R>& report) const {
      for (size_t i = 0; i < rejected.size(); ++i) {
        if (report.counts()[i] > 0) rejected[i]->Increment(static_cast<double>(report.counts()[i]));
      }
    }
  };

  TenantStates(prometheus::Registry& registry, const IngestCounterNames& n)
      : received_(Family(registry, n.received, n.received_help)),
        stored_(Family(registry, n.stored, n.stored_help)),
        duplicates_(Family(registry, n.duplicates, n.duplicates_help)),
        rejected_(Family(registry, n.rejected, n.rejected_help)) {}

  State& For(const std::string& tenant) EXCLUDES(mu_) {
    {
      ReaderLock lk(mu_);
      auto it = states_.find(tenant);
      if (it != states_.end()) return *it->second;
    }
    WriterLock lk(mu_);
    auto& st = states_[tenant];
    if (!st) {
      st = std::make_unique<State>();
      st->received = &received_.Add({{"tenant", tenant}});
      st->stored = &stored_.Add({{"tenant", tenant}});
      st->duplicates = &duplicates_.Add({{"tenant", tenant}});
      for (size_t i = 0; i < st->rejected.size(); ++i) {
        st->rejected[i] = &rejected_.Add(
            {{"tenant", tenant}, {"reason", std::string(ReasonName(static_cast<R>(i)))}});
      }
    }
    return *st;
  }

 private:
  static prometheus::Family<prometheus::Counter>& Family(prometheus::Registry& registry,
                                                         const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
  }

  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& stored_;
  prometheus::Family<prometheus::Counter>& duplicates_;
  prometheus::Family<prometheus::Counter>& rejected_;
  SharedMutex mu_;
  std::map<std::string, std::unique_ptr<State>> states_ GUARDED_BY(mu_);
};

}  // namespace strata::ingest
