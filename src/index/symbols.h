#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/labels.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace strata::index {

// Sym is a handle to an interned string: a pointer to its 4-byte length followed by the bytes.
// Equal strings interned in one table have equal handles, so handles compare and hash by
// pointer. 8 bytes instead of a 16-byte string_view keeps series small.
class Sym {
 public:
  Sym() = default;
  explicit Sym(const char* p) : p_(p) {}
  std::string_view view() const {
    uint32_t n;
    std::memcpy(&n, p_, 4);
    return {p_ + 4, n};
  }
  const char* ptr() const { return p_; }
  bool operator==(const Sym&) const = default;

 private:
  const char* p_ = nullptr;
};

struct SymHash {
  size_t operator()(Sym s) const { return std::hash<const void*>()(s.ptr()); }
};

// A label as two interned strings.
struct LabelSym {
  Sym name;
  Sym value;
};

// Whether interned labels equal `b`, label by label.
bool LabelsEqual(std::span<const LabelSym> a, std::span<const LabelView> b);
// Interned labels as owned strings.
Labels OwnedLabels(std::span<const LabelSym> labels);

// SymbolTable interns label names and values for one head. Strings live in arena blocks that
// never move and are freed with the table. Thread-safe.
class SymbolTable {
 public:
  Sym Intern(std::string_view s);
  size_t size() const;
  size_t bytes() const;  // arena bytes plus index overhead, approximately

 private:
  struct ViewHash {
    size_t operator()(std::string_view s) const;
  };
  Sym Store(std::string_view s) REQUIRES(mu_);

  mutable SharedMutex mu_;
  std::unordered_set<std::string_view, ViewHash> index_ GUARDED_BY(mu_);  // views of arena bytes
  std::vector<std::unique_ptr<char[]>> blocks_ GUARDED_BY(mu_);
  size_t block_used_ GUARDED_BY(mu_) = 0;
  size_t block_size_ GUARDED_BY(mu_) = 0;
  size_t arena_bytes_ GUARDED_BY(mu_) = 0;
};

}  // namespace strata::index
