#include "index/symbols.h"

#include <xxhash.h>

#include "base/mutex.h"

namespace strata::index {
namespace {
constexpr size_t kBlockSize = 64 << 10;
}

size_t SymbolTable::ViewHash::operator()(std::string_view s) const {
  return XXH3_64bits(s.data(), s.size());
}

Sym SymbolTable::Intern(std::string_view s) {
  {
    ReaderLock lk(mu_);
    auto it = index_.find(s);
    if (it != index_.end()) return Sym(it->data() - 4);
  }
  WriterLock lk(mu_);
  auto it = index_.find(s);
  if (it != index_.end()) return Sym(it->data() - 4);
  return Store(s);
}

Sym SymbolTable::Store(std::string_view s) {
  size_t need = 4 + s.size();
  char* dst;
  if (need > kBlockSize / 4) {
    // Large strings get a block of their own, so blocks stay densely used.
    blocks_.insert(blocks_.begin(), std::make_unique<char[]>(need));
    dst = blocks_.front().get();
  } else {
    if (blocks_.empty() || block_used_ + need > block_size_) {
      blocks_.push_back(std::make_unique<char[]>(kBlockSize));
      block_used_ = 0;
      block_size_ = kBlockSize;
    }
    dst = blocks_.back().get() + block_used_;
    block_used_ += need;
  }
  auto n = static_cast<uint32_t>(s.size());
  std::memcpy(dst, &n, 4);
  std::memcpy(dst + 4, s.data(), s.size());
  arena_bytes_ += need;
  index_.insert(std::string_view(dst + 4, s.size()));
  return Sym(dst);
}

size_t SymbolTable::size() const {
  ReaderLock lk(mu_);
  return index_.size();
}

size_t SymbolTable::bytes() const {
  ReaderLock lk(mu_);
  // Each index entry: a node (view + next pointer + cached hash) and a bucket pointer.
  return arena_bytes_ + index_.size() * (sizeof(std::string_view) + 3 * sizeof(void*));
}

bool LabelsEqual(std::span<const LabelSym> a, std::span<const LabelView> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name.view() != b[i].name || a[i].value.view() != b[i].value) return false;
  }
  return true;
}

Labels OwnedLabels(std::span<const LabelSym> labels) {
  Labels out;
  out.reserve(labels.size());
  for (const auto& l : labels) {
    out.push_back({std::string(l.name.view()), std::string(l.value.view())});
  }
  return out;
}

}  // namespace strata::index
