#pragma once

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::ingest {

// Tallies what validation and the store refused of one request, by reason, keeping the
// first few messages, and words the answer. `R` is a reason enum ending in kCount with
// `std::string_view ReasonName(R)`; `unit` names what is counted ("samples", "entries").
template <typename R>
class RejectionReport {
 public:
  static constexpr size_t kMaxMessages = 5;
  static constexpr size_t kReasons = static_cast<size_t>(R::kCount);

  explicit RejectionReport(std::string_view unit) : unit_(unit) {}

  void Add(R r, uint64_t n, const std::function<std::string()>& message) {
    counts_[static_cast<size_t>(r)] += n;
    total_ += n;
    if (messages_.size() < kMaxMessages) messages_.push_back(message());
  }
  uint64_t total() const { return total_; }
  const std::array<uint64_t, kReasons>& counts() const { return counts_; }
  const std::vector<std::string>& messages() const { return messages_; }

  // "rejected 2 of 10 samples (too_old=2); the others were stored. Errors: 1) ...; 2) ..."
  std::string Render(uint64_t in_request) const {
    std::string by_reason;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      by_reason += fmt::format("{}{}={}", by_reason.empty() ? "" : ", ",
                               ReasonName(static_cast<R>(i)), counts_[i]);
    }
    std::string out = fmt::format("rejected {} of {} {} ({}); the others were stored. ", total_,
                                  in_request, unit_, by_reason);
    out += total_ > messages_.size() ? "First errors: " : "Errors: ";
    for (size_t i = 0; i < messages_.size(); ++i) {
      out += fmt::format("{}{}) {}", i ? "; " : "", i + 1, messages_[i]);
    }
    return out;
  }

 private:
  const std::string_view unit_;
  std::array<uint64_t, kReasons> counts_{};
  uint64_t total_ = 0;
  std::vector<std::string> messages_;
};

}  // namespace strata::ingest
