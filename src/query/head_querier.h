#pragma once

#include "query/querier.h"
#include "tsdb/head/head.h"

namespace strata::query {

// HeadQuerier reads a tenant's in-memory head. Label queries consult the head's index and do
// not filter by time: everything in the head is recent. The head must outlive the querier;
// the querier and its series sets pin the head's series (see tsdb::Head).
class HeadQuerier : public Querier {
 public:
  explicit HeadQuerier(const tsdb::Head& head) : head_(head), pin_(head.PinSeries()) {}

  Result<std::unique_ptr<SeriesSet>> Select(const SelectParams& params,
                                            std::span<const Matcher> matchers) const override;
  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     std::span<const Matcher> matchers) const override;
  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              std::span<const Matcher> matchers) const override;
  Result<std::vector<std::string>> LabelValues(std::string_view name, int64_t mint, int64_t maxt,
                                               std::span<const Matcher> matchers) const override;

 private:
  const tsdb::Head& head_;
  const tsdb::Head::Pin pin_;
};

}  // namespace strata::query
