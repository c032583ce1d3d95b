#pragma once

#include <memory>
#include <vector>

#include "query/querier.h"

namespace strata::query {

// MergeQuerier answers from several queriers at once (the head and the blocks in the object
// store): series with equal labels become one, and their samples are merged by time with
// repeated timestamps kept once, so data present in both the head and a block (a chunk
// spanning a block boundary, a block cut twice after a crash) counts once. Thread-safe as
// its parts are.
class MergeQuerier : public Querier {
 public:
  explicit MergeQuerier(std::vector<std::unique_ptr<Querier>> parts) : parts_(std::move(parts)) {}

  Result<std::unique_ptr<SeriesSet>> Select(const SelectParams& params,
                                            std::span<const Matcher> matchers) const override;
  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     std::span<const Matcher> matchers) const override;
  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              std::span<const Matcher> matchers) const override;
  Result<std::vector<std::string>> LabelValues(std::string_view name, int64_t mint, int64_t maxt,
                                               std::span<const Matcher> matchers) const override;

 private:
  std::vector<std::unique_ptr<Querier>> parts_;
};

}  // namespace strata::query
