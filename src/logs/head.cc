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
  if (Stream* s = Find(hash, labels); s != nullptr && !ref) return s;
  std::vector<index::LabelSym> syms;
  syms.reserve(labels.size());
  for (const auto& l : labels) syms.push_back({symbols_.Intern(l.name), symbols_.Intern(l.value)});
  WriterLock lk(index_mu_);
  if (Stream* s = by_hash_.Find(hash, labels)) {  // created meanwhile, or replayed earlier
    // A replayed ref the labels no longer have (see index::SeriesReplay): never reused.
    if (ref && *ref != UINT32_MAX) next_ref_ = std::max(next_ref_, *ref + 1);
    return s;
  }
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
                          std::span<const LabelView> metadata, int64_t window_ns,
                          Stream::UnpackCache& cache) {
  MutexLock lk(StripeOf(s));
  return s.Append(ts_ns, line, metadata, window_ns, cache);
}

void Head::Entries(const Stream& s, int64_t mint, int64_t maxt, uint64_t shipped,
                   std::vector<Entry>& out) const {
  MutexLock lk(StripeOf(s));
  s.Entries(mint, maxt, shipped, out);
}

void Head::Spans(const Stream& s, int64_t mint, int64_t maxt, uint64_t shipped,
                 std::vector<Span>& out) const {
  MutexLock lk(StripeOf(s));
  s.Spans(mint, maxt, shipped, out);
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

std::vector<Stream*> Head::All() const {
  ReaderLock lk(index_mu_);
  std::vector<Stream*> all;
  by_ref_.ForEach(postings_.all(), [&](Stream* s) { all.push_back(s); });
  return all;
}

uint64_t Head::SealAll() {
  Pin pin = PinStreams();
  const uint64_t seal = ++seals_;
  for (Stream* s : All()) {
    MutexLock lk(StripeOf(*s));
    s->Seal(seal);
  }
  return seal;
}

std::vector<Stream*> Head::Sealed() const {
  std::vector<Stream*> out;
  for (Stream* s : All()) {
    MutexLock lk(StripeOf(*s));
    if (s->has_sealed()) out.push_back(s);
  }
  return out;
}

size_t Head::SealedBatches(const Stream& s) const {
  MutexLock lk(StripeOf(s));
  return s.SealedBatches();
}

void Head::SealedBatch(const Stream& s, size_t k, std::vector<Entry>& out) const {
  MutexLock lk(StripeOf(s));
  s.SealedBatch(k, out);
}

size_t Head::DropSealed(std::vector<Stream*>& emptied) {
  Pin pin = PinStreams();
  size_t freed = 0;
  for (Stream* s : All()) {
    MutexLock lk(StripeOf(*s));
    if (!s->has_sealed()) continue;
    freed += s->DropSealed();
    if (s->empty()) emptied.push_back(s);
  }
  return freed;
}

size_t Head::RemoveEmptyStreams(const std::vector<Stream*>& candidates) {
  std::vector<std::unique_ptr<Stream>> removed;
  for (Stream* s : candidates) {
    // Stripe, then index: the order Append and GetOrCreate never invert.
    MutexLock lk(StripeOf(*s));
    if (!s->empty()) continue;
    WriterLock ilk(index_mu_);
    by_hash_.Erase(s->hash(), s);
    postings_.Remove(s->ref(), s->labels());
    removed.push_back(by_ref_.Take(s->ref()));
  }
  if (removed.empty()) return 0;
  size_t n = removed.size();
  num_streams_.fetch_sub(n, std::memory_order_relaxed);
  removals_.fetch_add(1, std::memory_order_release);
  reclaimer_.Retire(std::move(removed));
  return n;
}

HeadStats Head::Stats() const {
  HeadStats st;
  Pin pin = PinStreams();
  std::vector<Stream*> all = All();
  {
    ReaderLock lk(index_mu_);
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
