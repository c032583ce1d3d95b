#include "index/postings.h"

#include <algorithm>

namespace strata::index {

void PostingsIndex::Add(uint32_t ref, Sym name, Sym value) {
  postings_[name.view()][value.view()].add(ref);
  all_.add(ref);
}

void PostingsIndex::Remove(uint32_t ref, std::span<const LabelSym> labels) {
  for (const LabelSym& l : labels) {
    auto name = postings_.find(l.name.view());
    if (name == postings_.end()) continue;
    auto value = name->second.find(l.value.view());
    if (value == name->second.end()) continue;
    value->second.remove(ref);
    if (value->second.isEmpty()) name->second.erase(value);
    if (name->second.empty()) postings_.erase(name);
  }
  all_.remove(ref);
}

Roaring PostingsIndex::MatchingValues(const std::unordered_map<std::string_view, Roaring>& values,
                                      const Matcher& m, bool negate) const {
  Roaring out;
  if (m.type() == Matcher::Type::kEqual || m.type() == Matcher::Type::kNotEqual) {
    // A direct lookup instead of testing every value.
    bool want_equal = (m.type() == Matcher::Type::kEqual) != negate;
    if (want_equal) {
      auto it = values.find(m.value());
      if (it != values.end()) out = it->second;
      return out;
    }
  }
  std::vector<const Roaring*> sets;
  for (const auto& [v, refs] : values) {
    if (m.Matches(v) != negate) sets.push_back(&refs);
  }
  if (!sets.empty()) out = Roaring::fastunion(sets.size(), sets.data());
  return out;
}

Roaring PostingsIndex::Select(std::span<const Matcher> matchers) const {
  if (matchers.empty()) return all_;
  Roaring result;
  bool first = true;
  for (const auto& m : matchers) {
    auto name_it = postings_.find(m.name());
    Roaring set;
    if (m.Matches("")) {
      // Matches series without the label too: everything except values that do not match.
      set = all_;
      if (name_it != postings_.end()) set -= MatchingValues(name_it->second, m, true);
    } else if (name_it != postings_.end()) {
      set = MatchingValues(name_it->second, m, false);
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

std::vector<std::string> PostingsIndex::LabelNames() const {
  std::vector<std::string> out;
  out.reserve(postings_.size());
  for (const auto& [name, values] : postings_) out.emplace_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> PostingsIndex::LabelValues(std::string_view name) const {
  std::vector<std::string> out;
  auto it = postings_.find(name);
  if (it == postings_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [v, refs] : it->second) out.emplace_back(v);
  std::sort(out.begin(), out.end());
  return out;
}

PostingsIndex::Cardinality PostingsIndex::ComputeCardinality(size_t limit) const {
  Cardinality c;
  auto top = [limit](std::vector<NameCount>& v) {
    size_t n = std::min(limit, v.size());
    std::partial_sort(v.begin(), v.begin() + static_cast<long>(n), v.end(),
                      [](const NameCount& a, const NameCount& b) {
                        return a.count != b.count ? a.count > b.count : a.name < b.name;
                      });
    v.resize(n);
  };
  for (const auto& [name, values] : postings_) {
    c.label_pairs += values.size();
    c.values_by_label.push_back({std::string(name), values.size()});
    uint64_t bytes = 0;
    for (const auto& [v, refs] : values) {
      uint64_t n = refs.cardinality();
      bytes += v.size() * n;
      c.series_by_label_pair.push_back({std::string(name) + "=" + std::string(v), n});
      if (name == "__name__") c.series_by_metric.push_back({std::string(v), n});
    }
    c.bytes_by_label.push_back({std::string(name), bytes});
  }
  top(c.series_by_metric);
  top(c.values_by_label);
  top(c.bytes_by_label);
  top(c.series_by_label_pair);
  return c;
}

size_t PostingsIndex::MemoryBytes() const {
  // Hash nodes: key, value, next pointer and cached hash.
  constexpr size_t kNode = 2 * sizeof(void*);
  size_t n = all_.getSizeInBytes();
  // NOLINTBEGIN(bugprone-sizeof-container): the objects' own sizes are what is counted.
  for (const auto& [name, values] : postings_) {
    n += sizeof(name) + sizeof(values) + kNode + values.bucket_count() * sizeof(void*);
    for (const auto& [v, refs] : values) {
      n += sizeof(v) + sizeof(refs) + kNode + refs.getSizeInBytes();
    }
  }
  // NOLINTEND(bugprone-sizeof-container)
  return n;
}

}  // namespace strata::index
