#pragma once

// Runs a LogQL log pipeline (line filters, parsers, label filters, drop/keep...) over log
// entries, with Loki's semantics: parsed labels that collide with stream labels or structured
// metadata get the `_extracted` suffix, the first parser to extract a label wins, and a
// failure marks the entry with __error__ (and __error_details__) rather than dropping it.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "logql/ast.h"

namespace strata::logql {

inline constexpr std::string_view kErrorLabel = "__error__";
inline constexpr std::string_view kErrorDetailsLabel = "__error_details__";

// The labels of one entry while its pipeline runs, in Loki's three categories.
class LabelsBuilder {
 public:
  enum class Category : uint8_t { kStream, kMetadata, kParsed };

  // Starts an entry of a stream; `stream` must outlive the entry's processing.
  void Reset(const Labels& stream, const Labels& metadata);
  void Reset(const Labels& stream, std::span<const LabelView> metadata);

  // The label's value: parsed labels first, then structured metadata, then stream labels.
  // __error__ and __error_details__ read the entry's error.
  std::optional<std::string_view> Get(std::string_view name) const;
  // Whether a stream label or structured metadata has this name (parsers then add the
  // `_extracted` suffix).
  bool BaseHas(std::string_view name) const;
  bool HasParsed(std::string_view name) const;
  void SetParsed(std::string_view name, std::string_view value);
  void Delete(std::string_view name);
  // Marks the entry failed, unless it already is.
  void SetError(std::string_view error, std::string_view details);
  bool HasError() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // Every label of the entry (sorted by name; parsed labels with empty values included, as
  // Loki has them), with __error__ and __error_details__ when it failed.
  Labels All() const;
  // The labels in one category, as the categorize-labels response form sends them.
  Labels InCategory(Category c) const;

  // With `on`, `json` records where each label it sets came from: the line's keys from the
  // root, as written (Loki's jsonPath of detected_fields). Kept until the next Reset.
  void RecordJsonPaths(bool on) { record_json_paths_ = on; }
  bool recording_json_paths() const { return record_json_paths_; }
  void SetJsonPath(const std::string& name, std::vector<std::string> path) {
    json_paths_[name] = std::move(path);
  }
  const std::map<std::string, std::vector<std::string>>& json_paths() const { return json_paths_; }

  // Visits every live label (name, value); used by drop and keep.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& l : labels_) {
      if (!l.deleted) fn(l.name, l.value);
    }
    if (!error_.empty()) fn(kErrorLabel, error_);
    if (!error_details_.empty()) fn(kErrorDetailsLabel, error_details_);
  }

 private:
  struct Entry {
    std::string name;
    std::string value;
    Category category;
    bool deleted = false;
  };
  const Entry* Find(std::string_view name, Category c) const;

  std::vector<Entry> labels_;
  // Parsed labels by name (an index into labels_): a line may carry thousands of keys.
  std::unordered_map<std::string, size_t> parsed_;
  std::string error_;
  std::string error_details_;
  bool record_json_paths_ = false;
  std::map<std::string, std::vector<std::string>> json_paths_;
};

// One compiled stage.
class Step {
 public:
  virtual ~Step() = default;
  // Processes the entry; false drops it. May replace `line`.
  virtual bool Process(int64_t ts_ns, std::string& line, LabelsBuilder& lbs) const = 0;
  // Whether Process never changes the labels (nor marks an error).
  virtual bool KeepsLabels() const { return false; }
};

// A compiled pipeline. Immutable, shared by the threads of a query.
class Pipeline {
 public:
  // Compiles the stages; InvalidArgument for what cannot run (a bad ip() pattern, ...).
  static Result<Pipeline> Make(const std::vector<Stage>& stages);

  bool empty() const { return steps_.empty(); }
  // Whether no stage can change an entry's labels (line filters and decolorize only).
  bool KeepsLabels() const {
    return std::all_of(steps_.begin(), steps_.end(),
                       [](const auto& s) { return s->KeepsLabels(); });
  }

  // Runs every stage; false when one drops the entry.
  bool Process(int64_t ts_ns, std::string& line, LabelsBuilder& lbs) const {
    for (const auto& s : steps_) {
      if (!s->Process(ts_ns, line, lbs)) return false;
    }
    return true;
  }

 private:
  std::vector<std::shared_ptr<const Step>> steps_;
};

// A line filter's or `| regexp`'s regex, as Go's regexp compiles it (`.` does not match a
// newline); InvalidArgument with the error otherwise.
Result<std::shared_ptr<RE2>> CompileLineRegex(const std::string& re);

// The substrings every line that `stages` keep contains as it was stored: the needles of the
// `|=` filters (single, not ip()) before the first stage that rewrites the line
// (line_format, decolorize, unpack). A reader may skip what lacks one (logs::SelectHints).
std::vector<std::string> RequiredSubstrings(const std::vector<Stage>& stages);

// One part of a Loki pattern: a literal, or a capture `<name>` (`<_>` keeps nothing).
struct PatternNode {
  bool capture = false;
  std::string text;  // the literal, or the capture's name
};
enum class PatternUse : uint8_t {
  kParser,      // `| pattern`: at least one named capture, no two captures in a row
  kLineFilter,  // `|>`, `!>`: only <_>, no two in a row
};
// Parses and checks a pattern with Loki's rules and error texts.
Result<std::vector<PatternNode>> ParsePattern(std::string_view p, PatternUse use);

// Compiles a label filter (the `| x > 1` stage, unwrap's post-filters).
Result<std::shared_ptr<const Step>> MakeLabelFilterStep(const LabelFilter& f);

// Sanitizes a parsed key into a label name as Loki does: characters outside [a-zA-Z0-9_]
// become '_', a leading digit gets a '_' before it.
std::string SanitizeLabelKey(std::string_view key);

}  // namespace strata::logql
