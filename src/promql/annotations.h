#pragma once

#include <set>
#include <string>
#include <vector>

#include "promql/ast.h"

namespace strata::promql {

// Warnings and infos collected while evaluating a query, deduplicated. Messages carry
// Prometheus's wording ("PromQL info: metric might not be a counter, ..."); the position of
// the expression they concern is kept so the HTTP API can append " (1:6)" as Prometheus does.
class Annotations {
 public:
  struct Entry {
    std::string message;
    PosRange pos;
    bool operator<(const Entry& o) const { return message < o.message; }
  };

  void Warn(const std::string& msg, PosRange pos) {
    warnings_.insert({"PromQL warning: " + msg, pos});
  }
  void Info(const std::string& msg, PosRange pos) { infos_.insert({"PromQL info: " + msg, pos}); }
  // Entries whose message already carries its prefix (results read back from a cache).
  void AddWarningEntry(Entry e) { warnings_.insert(std::move(e)); }
  void AddInfoEntry(Entry e) { infos_.insert(std::move(e)); }
  void Merge(const Annotations& o) {
    warnings_.insert(o.warnings_.begin(), o.warnings_.end());
    infos_.insert(o.infos_.begin(), o.infos_.end());
  }

  const std::set<Entry>& warnings() const { return warnings_; }
  const std::set<Entry>& infos() const { return infos_; }

 private:
  std::set<Entry> warnings_;
  std::set<Entry> infos_;
};

}  // namespace strata::promql
