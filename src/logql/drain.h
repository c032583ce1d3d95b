#pragma once

// Log patterns as Loki's /loki/api/v1/patterns finds them: the Drain algorithm (He et al.,
// "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017) clusters lines of
// the same token count whose tokens mostly agree; tokens that differ within a cluster become
// the wildcard `<_>`. Tokens are the line's words, and `key=value` splits into `key=` and its
// value, so a logfmt field's value varies on its own.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::logql {

struct DrainOptions {
  double similarity = 0.3;  // the share of equal tokens that joins a line to a cluster
  size_t max_clusters = 300;
  size_t min_tokens = 4;  // shorter and longer lines are left out, as Loki's
  size_t max_tokens = 80;
  size_t max_line_bytes = 3000;
};

// Drain over the lines of one stream and level. Not thread-safe.
class Drain {
 public:
  explicit Drain(DrainOptions opts = {}) : opts_(opts) {}

  // Adds a line; the index of its cluster, or -1 when it is left out (too short or too long,
  // or every cluster slot is taken by another shape).
  int Add(std::string_view line);
  size_t size() const { return clusters_.size(); }
  // Cluster i's pattern: its tokens, consecutive wildcards merged into one.
  std::string Pattern(size_t i) const;

 private:
  struct Token {
    std::string text;
    std::string space;  // the whitespace before it, as in the line
  };
  struct Cluster {
    std::vector<Token> tokens;
  };
  void Tokenize(std::string_view line, std::vector<Token>& out) const;

  DrainOptions opts_;
  std::vector<Cluster> clusters_;
  std::vector<Token> scratch_;
};

inline constexpr std::string_view kDrainWildcard = "<_>";

}  // namespace strata::logql
