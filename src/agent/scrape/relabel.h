#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/status.h"

namespace strata::agent {

// One relabelling rule, as Prometheus's relabel_config spells it.
struct RelabelRule {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string regex = "(.*)";
  std::string target_label;
  std::string replacement = "$1";
  uint64_t modulus = 0;
  std::string action = "replace";
  bool operator==(const RelabelRule&) const = default;
};

// Compiled rules applied in order, with Prometheus's semantics: regexes are fully anchored
// (RE2, Go syntax); actions replace, keep, drop, keepequal, dropequal, hashmod, labelmap,
// labeldrop, labelkeep, lowercase and uppercase. Immutable; thread-safe.
class Relabeler {
 public:
  // Compiles the rules; invalid ones are errors naming their index.
  static Result<Relabeler> Compile(const std::vector<RelabelRule>& rules, const std::string& path);

  // Applies every rule to `labels` (kept sorted). False when a rule dropped the set.
  bool Apply(Labels& labels) const;
  bool empty() const { return rules_.empty(); }

 private:
  enum class Action {
    kReplace,
    kKeep,
    kDrop,
    kKeepEqual,
    kDropEqual,
    kHashMod,
    kLabelMap,
    kLabelDrop,
    kLabelKeep,
    kLowercase,
    kUppercase
  };
  struct Compiled {
    RelabelRule rule;
    Action action;
    std::shared_ptr<const RE2> regex;
  };
  std::vector<Compiled> rules_;
};

}  // namespace strata::agent
