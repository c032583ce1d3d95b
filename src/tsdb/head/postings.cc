#include "tsdb/head/postings.h"

namespace strata::tsdb {

void PostingsIndex::Add(uint32_t ref, Sym name, Sym value) {
  auto [it, inserted] = postings_.try_emplace(PairKey{name.ptr(), value.ptr()});
  if (inserted) {
    auto& entry = values_[name.view()];
    entry.first = name;
    entry.second.push_back(value);
  }
  it->second.add(ref);
  all_.add(ref);
}

const Roaring* PostingsIndex::Get(Sym name, Sym value) const {
  auto it = postings_.find(PairKey{name.ptr(), value.ptr()});
  return it == postings_.end() ? nullptr : &it->second;
}

Roaring PostingsIndex::MatchingValues(Sym name, const Matcher& m, bool negate) const {
  Roaring out;
  auto it = values_.find(name.view());
  if (it == values_.end()) return out;
  std::vector<const Roaring*> sets;
  for (Sym v : it->second.second) {
    if (m.Matches(v.view()) != negate) sets.push_back(Get(name, v));
  }
  if (!sets.empty()) out = Roaring::fastunion(sets.size(), sets.data());
  return out;
}

Roaring PostingsIndex::Select(const std::vector<Matcher>& matchers) const {
  Roaring result;
  bool first = true;
  for (const auto& m : matchers) {
    auto name_it = values_.find(m.name());
    Roaring set;
    if (m.Matches("")) {
      // Matches series without the label too: everything except values that do not match.
      set = all_;
      if (name_it != values_.end()) set -= MatchingValues(name_it->second.first, m, true);
    } else if (name_it != values_.end()) {
      set = MatchingValues(name_it->second.first, m, false);
    }
    if (first) {
      result = std::move(set);
      first = false;
    } else {
      result &= set;
    }
    if (result.isEmpty()) break;
  }
  return result;
}

size_t PostingsIndex::MemoryBytes() const {
  size_t n = all_.getSizeInBytes();
  for (const auto& [k, bm] : postings_)
    n += sizeof(k) + sizeof(Roaring) + 2 * sizeof(void*) + bm.getSizeInBytes();
  for (const auto& [name, entry] : values_) {
    // NOLINTNEXTLINE(bugprone-sizeof-container): the object's own size is what is counted.
    n += sizeof(name) + sizeof(entry) + entry.second.capacity() * sizeof(Sym);
  }
  return n;
}

}  // namespace strata::tsdb
