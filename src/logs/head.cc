#include "logs/head.h"

#include <algorithm>

namespace strata::logs {

Stream* Head::Find(uint64_t hash, std::span<const LabelView> labels) const {
  ReaderLock lk(index_mu_);
  return by_hash_.Find(hash, labels);
}

Stream* Head::GetOrCreate(uint64_t hash, std::span<const LabelView> labels, bool* created,
                          std::optional<uint32_t> ref) {
  *created = false;
  if (Stream* s = Find(hash, labels)) return s;
  std::vector<index::LabelSym> syms;
  syms.reserve(labels.size());
  for (const auto& l : labels) syms.push_back({symbols_.Intern(l.name), symbols_.Intern(l.value)});
  WriterLock lk(index_mu_);
  if (Stream* s = by_hash_.Find(hash, labels)) return s;  // created meanwhile
  uint32_t r = ref.value_or(next_ref_);
  if (r == UINT32_MAX || by_ref_.Get(r) != nullptr) return nullptr;
  next_ref_ = std::max(next_ref_, r + 1);
  auto owned = std::make_unique<Stream>(r, hash, syms);
  Stream* s = owned.get();
  by_ref_.Put(std::move(owned));
  by_hash_.Insert(hash, s);
  for (const auto& l : syms) postings_.Add(r, l.name, l.value);
  num_streams_.fetch_add(1, std::memory_order_relaxed);
  *created = true;
  return s;
}

Stream* Head::ByRef(uint32_t ref) const {
  ReaderLock lk(index_mu_);
  return by_ref_.Get(ref);
}

AppendResult Head::Append(Stream& s, int64_t ts_ns, std::string_view line,
                          std::span<const LabelView> metadata, int64_t window_ns) {
  MutexLock lk(StripeOf(s));
  return s.Append(ts_ns, line, metadata, window_ns);
}

void Head::Entries(const Stream& s, int64_t mint, int64_t maxt, std::vector<Entry>& out) const {
  MutexLock lk(StripeOf(s));
  s.Entries(mint, maxt, out);
}

bool Head::Overlaps(const Stream& s, int64_t mint, int64_t maxt) const {
  MutexLock lk(StripeOf(s));
  return s.num_entries() > 0 && s.min_ts() <= maxt && s.max_ts() >= mint;
}

std::vector<Stream*> Head::Select(std::span<const Matcher> matchers) const {
  ReaderLock lk(index_mu_);
  std::vector<Stream*> out;
  by_ref_.ForEach(postings_.Select(matchers), [&](Stream* s) { out.push_back(s); });
  return out;
}

std::vector<std::string> Head::LabelNames() const {
  ReaderLock lk(index_mu_);
  return postings_.LabelNames();
}

std::vector<std::string> Head::LabelValues(std::string_view name) const {
  ReaderLock lk(index_mu_);
  return postings_.LabelValues(name);
}

HeadStats Head::Stats() const {
  HeadStats st;
  std::vector<Stream*> all;
  {
    ReaderLock lk(index_mu_);
    by_ref_.ForEach(postings_.all(), [&](Stream* s) { all.push_back(s); });
    st.bytes += postings_.MemoryBytes() + by_hash_.MemoryBytes() + by_ref_.MemoryBytes();
  }
  st.bytes += symbols_.bytes();
  st.streams = all.size();
  for (const Stream* s : all) {
    MutexLock lk(StripeOf(*s));
    st.entries += s->num_entries();
    st.bytes += s->MemoryBytes();
  }
  return st;
}

}  // namespace strata::logs
