#pragma once

#include <cstdint>
#include <roaring/roaring.hh>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/matcher.h"
#include "index/symbols.h"

namespace strata::index {

// PostingsIndex maps label name=value pairs to the set of series refs carrying them, as
// compressed bitmaps (CRoaring). Names and values are interned symbols, so the index stores
// views into the symbol table. Not thread-safe: the Head guards it with its index lock.
class PostingsIndex {
 public:
  void Add(uint32_t ref, Sym name, Sym value);
  // Takes `ref` out of the postings of every label of `labels`.
  void Remove(uint32_t ref, std::span<const LabelSym> labels);
  // Refs of series matched by all matchers (an empty list matches every series). Matchers that
  // match the empty string also select series lacking the label, as in Prometheus.
  Roaring Select(std::span<const Matcher> matchers) const;
  const Roaring& all() const { return all_; }
  // All label names, sorted.
  std::vector<std::string> LabelNames() const;
  // All values of `name`, sorted.
  std::vector<std::string> LabelValues(std::string_view name) const;
  size_t MemoryBytes() const;

  // Cardinality figures for /api/v1/status/tsdb, each list sorted by count and cut to `limit`.
  struct NameCount {
    std::string name;
    uint64_t count;
  };
  struct Cardinality {
    uint64_t label_pairs = 0;
    std::vector<NameCount> series_by_metric;      // __name__ value -> series
    std::vector<NameCount> values_by_label;       // label name -> distinct values
    std::vector<NameCount> bytes_by_label;        // label name -> bytes of its values
    std::vector<NameCount> series_by_label_pair;  // "name=value" -> series
  };
  Cardinality ComputeCardinality(size_t limit) const;

 private:
  // Union of postings of the values of one label that `m` matches (or, negated, does not).
  Roaring MatchingValues(const std::unordered_map<std::string_view, Roaring>& values,
                         const Matcher& m, bool negate) const;

  // name -> value -> refs
  std::unordered_map<std::string_view, std::unordered_map<std::string_view, Roaring>> postings_;
  Roaring all_;
};

}  // namespace strata::index
