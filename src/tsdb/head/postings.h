#pragma once

#include <cstdint>
#include <roaring/roaring.hh>
#include <unordered_map>
#include <vector>

#include "base/matcher.h"
#include "tsdb/head/symbols.h"

namespace strata::tsdb {

// PostingsIndex maps label name=value pairs to the set of series refs carrying them, as
// compressed bitmaps (CRoaring), and each label name to its values. Not thread-safe: the Head
// guards it with its index lock.
class PostingsIndex {
 public:
  void Add(uint32_t ref, Sym name, Sym value);
  // Refs of series matched by all matchers (an empty list matches nothing). Matchers that
  // match the empty string also select series lacking the label, as in Prometheus.
  Roaring Select(const std::vector<Matcher>& matchers) const;
  // Refs of series having name=value.
  const Roaring* Get(Sym name, Sym value) const;
  const Roaring& all() const { return all_; }
  size_t MemoryBytes() const;

 private:
  struct PairKey {
    const char* name;
    const char* value;
    bool operator==(const PairKey&) const = default;
  };
  struct PairHash {
    size_t operator()(const PairKey& k) const {
      return std::hash<const void*>()(k.name) * 31 + std::hash<const void*>()(k.value);
    }
  };
  // Union of postings of `name`'s values that `m` matches.
  Roaring MatchingValues(Sym name, const Matcher& m, bool negate) const;

  std::unordered_map<PairKey, Roaring, PairHash> postings_;
  std::unordered_map<std::string_view, std::pair<Sym, std::vector<Sym>>> values_;
  Roaring all_;
};

}  // namespace strata::tsdb
