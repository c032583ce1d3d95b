#include "logql/drain.h"

namespace strata::logql {

void Drain::Tokenize(std::string_view line, std::vector<Token>& out) const {
  out.clear();
  size_t i = 0;
  while (i < line.size()) {
    size_t word_at = i;
    while (word_at < line.size() && (line[word_at] == ' ' || line[word_at] == '\t')) ++word_at;
    if (word_at == line.size()) break;  // trailing whitespace is no token
    std::string space(out.empty() ? std::string_view() : line.substr(i, word_at - i));
    i = word_at;
    size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    std::string_view word = line.substr(i, end - i);
    size_t eq = word.find('=');
    if (eq != std::string_view::npos && eq > 0 && eq + 1 < word.size()) {
      out.push_back({std::string(word.substr(0, eq + 1)), std::move(space)});
      out.push_back({std::string(word.substr(eq + 1)), {}});
    } else {
      out.push_back({std::string(word), std::move(space)});
    }
    i = end;
  }
}

int Drain::Add(std::string_view line) {
  if (line.size() > opts_.max_line_bytes) return -1;
  Tokenize(line, scratch_);
  if (scratch_.size() < opts_.min_tokens || scratch_.size() > opts_.max_tokens) return -1;
  // The cluster of the same length and spacing with the most equal tokens (wildcards are not
  // equal to anything); on a tie, the one with more wildcards, as Drain prefers.
  int best = -1;
  double best_sim = -1;
  size_t best_wild = 0;
  for (size_t c = 0; c < clusters_.size(); ++c) {
    const auto& t = clusters_[c].tokens;
    if (t.size() != scratch_.size()) continue;
    size_t equal = 0, wild = 0;
    bool shape = true;
    for (size_t k = 0; k < t.size() && shape; ++k) {
      shape = t[k].space == scratch_[k].space;
      if (t[k].text == kDrainWildcard) {
        ++wild;
      } else if (t[k].text == scratch_[k].text) {
        ++equal;
      }
    }
    if (!shape) continue;
    double sim = static_cast<double>(equal) / static_cast<double>(t.size());
    if (sim > best_sim || (sim == best_sim && wild > best_wild)) {
      best = static_cast<int>(c);
      best_sim = sim;
      best_wild = wild;
    }
  }
  if (best >= 0 && best_sim >= opts_.similarity) {
    auto& t = clusters_[static_cast<size_t>(best)].tokens;
    for (size_t k = 0; k < t.size(); ++k) {
      if (t[k].text != scratch_[k].text) t[k].text = std::string(kDrainWildcard);
    }
    return best;
  }
  if (clusters_.size() >= opts_.max_clusters) return -1;
  clusters_.push_back({scratch_});
  return static_cast<int>(clusters_.size() - 1);
}

std::string Drain::Pattern(size_t i) const {
  std::string out;
  bool last_wild = false;
  for (const Token& t : clusters_[i].tokens) {
    const bool wild = t.text == kDrainWildcard;
    if (wild && last_wild && t.space.empty()) continue;  // `<_><_>` is one wildcard
    out += t.space;
    out += t.text;
    last_wild = wild;
  }
  return out;
}

}  // namespace strata::logql
