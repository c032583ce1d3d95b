#include "logql/logqltest.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "logql/engine.h"
#include "logql/lexer.h"
#include "logql/parser.h"
#include "logs/head.h"
#include "promql/parser.h"

namespace strata::logql {

namespace {

// "<labels>" of a stream header line, sorted.
Result<Labels> ParseLabelSet(std::string_view s) {
  ASSIGN_OR_RETURN(auto parsed, promql::ParseSeriesLabels(s));
  if (parsed.second != s.size()) {
    return Status::InvalidArgument(fmt::format("unexpected text after labels: {}", s));
  }
  return parsed.first;
}

// An entry line: "<time> [metadata{k="v", ...}] <line>", the time a duration from the Unix
// epoch.
struct EntryLine {
  int64_t ts_ns = 0;
  Labels metadata;
  std::string line;
};

Result<EntryLine> ParseEntryLine(std::string_view s) {
  EntryLine e;
  size_t sp = s.find(' ');
  std::string_view t = s.substr(0, sp);
  if (!ParsePromOrGoDuration(t, &e.ts_ns)) {
    return Status::InvalidArgument(fmt::format("invalid entry time \"{}\"", t));
  }
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
  if (rest.starts_with("metadata{")) {
    rest.remove_prefix(std::string_view("metadata").size());
    ASSIGN_OR_RETURN(auto md, promql::ParseSeriesLabels(rest));
    e.metadata = std::move(md.first);
    rest.remove_prefix(md.second);
    if (rest.starts_with(" ")) rest.remove_prefix(1);
  }
  e.line = std::string(rest);
  return e;
}

bool IsStreamHeader(std::string_view l) { return l.starts_with("{"); }

constexpr int64_t kOutOfOrderWindow = INT64_MAX / 4;  // loads may add older lines

class Runner {
 public:
  Runner(std::string_view name, std::ostream& out)
      : name_(name), out_(out), head_(std::make_unique<logs::Head>()) {}

  Result<promql::PromqlTestSummary> Run(std::string_view script) {
    RETURN_IF_ERROR(promql::ForEachScriptCommand(
        script, name_, [&](const std::string& l, const std::vector<std::string>& body, int n) {
          if (l == "clear") {
            head_ = std::make_unique<logs::Head>();
            return Status::Ok();
          }
          if (l == "load") return Load(body);
          if (l.starts_with("eval logs ") || l.starts_with("eval_fail logs ")) {
            return EvalLogs(l, body, n);
          }
          if (l.starts_with("eval")) return EvalMetric(l, body, n);
          return Status::InvalidArgument("unknown command");
        }));
    return summary_;
  }

 private:
  Status Load(const std::vector<std::string>& body) {
    logs::Stream* stream = nullptr;
    logs::Stream::UnpackCache cache;
    for (const auto& l : body) {
      if (IsStreamHeader(l)) {
        ASSIGN_OR_RETURN(Labels ls, ParseLabelSet(l));
        auto views = ViewOf(ls);
        bool created = false;
        stream = head_->GetOrCreate(HashLabels(views), views, &created);
        if (stream == nullptr) return Status::Corruption("cannot create stream");
        continue;
      }
      if (stream == nullptr) return Status::InvalidArgument("an entry before any stream");
      ASSIGN_OR_RETURN(EntryLine e, ParseEntryLine(l));
      auto md = ViewOf(e.metadata);
      head_->Append(*stream, e.ts_ns, e.line, md, kOutOfOrderWindow, cache);
    }
    return Status::Ok();
  }

  Status EvalMetric(const std::string& line, const std::vector<std::string>& body, int n) {
    promql::EvalCmd cmd;
    RETURN_IF_ERROR(promql::ParseTestEval(line, body, n, cmd));
    auto q = logs::NewHeadQuerier(*head_);
    auto expr = ParseExpr(cmd.query);
    Result<promql::QueryResult> res = expr.status();
    if (expr.ok() && !(*expr)->IsMetric()) {
      res = Status::InvalidArgument("a log query: use eval logs");
    } else if (expr.ok()) {
      res = cmd.range ? engine_.Range(*q, **expr, cmd.start, cmd.end, cmd.step)
                      : engine_.Instant(*q, **expr, cmd.start);
    }
    Record(n, cmd.query, promql::CheckTestOutcome(cmd, res));
    return Status::Ok();
  }

  void Record(int line, std::string_view query, const std::string& why) {
    promql::RecordTestEval(summary_, out_, name_, line, query, why);
  }

  // eval[_fail] logs from <t> to <t> [limit N] [direction forward|backward] <query>
  Status EvalLogs(const std::string& line, const std::vector<std::string>& body, int n) {
    static const RE2 kLogs(
        R"((eval|eval_fail) logs from (\S+) to (\S+)(?: limit (\d+))?(?: direction (forward|backward))? (.+))");
    std::string verb, from, to, limit, direction, query;
    if (!RE2::FullMatch(line, kLogs, &verb, &from, &to, &limit, &direction, &query)) {
      return Status::InvalidArgument("invalid eval logs command: " + line);
    }
    LogQueryParams p;
    if (!ParsePromOrGoDuration(from, &p.start_ns) || !ParsePromOrGoDuration(to, &p.end_ns)) {
      return Status::InvalidArgument("invalid time in: " + line);
    }
    p.limit = 100;
    if (!limit.empty()) {
      auto [ptr, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), p.limit);
      if (ec != std::errc()) return Status::InvalidArgument("invalid limit: " + limit);
    }
    p.forward = direction == "forward";
    // Expected: stream headers, each followed by its entries in the query's direction.
    std::map<Labels, std::vector<EntryLine>> want;
    promql::EvalCmd expect;  // the expected_fail_message/regexp lines
    std::optional<Labels> current;
    for (const auto& l : body) {
      if (l.starts_with("expected_fail_")) {
        RETURN_IF_ERROR(promql::ParseTestEval("eval_fail instant at 0s x", {l}, n, expect));
        continue;
      }
      if (IsStreamHeader(l)) {
        ASSIGN_OR_RETURN(Labels ls, ParseLabelSet(l));
        want[ls];
        current = std::move(ls);
        continue;
      }
      if (!current) return Status::InvalidArgument("an entry before any stream");
      ASSIGN_OR_RETURN(EntryLine e, ParseEntryLine(l));
      want[*current].push_back(std::move(e));
    }
    auto q = logs::NewHeadQuerier(*head_);
    auto expr = ParseExpr(query);
    Result<LogQueryResult> res = expr.status();
    if (expr.ok() && (*expr)->IsMetric()) {
      res = Status::InvalidArgument("a metric query: use eval instant or eval range");
    } else if (expr.ok()) {
      res = engine_.SelectLogs(*q, As<LogExpr>(**expr), p);
    }
    if (verb == "eval_fail") {
      Record(n, query, promql::CheckTestFailure(expect, res.status()));
      return Status::Ok();
    }
    if (!res.ok()) {
      Record(n, query, "unexpected error: " + std::string(res.status().message()));
      return Status::Ok();
    }
    Record(n, query, CompareStreams(want, *res));
    return Status::Ok();
  }

  static std::string CompareStreams(const std::map<Labels, std::vector<EntryLine>>& want,
                                    const LogQueryResult& got) {
    std::map<Labels, const LogStream*> by_labels;
    for (const auto& s : got.streams) by_labels[s.labels] = &s;
    for (const auto& [labels, entries] : want) {
      auto it = by_labels.find(labels);
      if (it == by_labels.end()) return "expected stream not found: " + FormatLabels(labels);
      const auto& have = it->second->entries;
      if (have.size() != entries.size()) {
        return fmt::format("stream {}: expected {} entries, got {}", FormatLabels(labels),
                           entries.size(), have.size());
      }
      for (size_t i = 0; i < entries.size(); ++i) {
        if (have[i].ts_ns != entries[i].ts_ns || have[i].line != entries[i].line ||
            (!entries[i].metadata.empty() && have[i].metadata != entries[i].metadata)) {
          return fmt::format("stream {} entry {}: expected ({}, {}), got ({}, {})",
                             FormatLabels(labels), i, entries[i].ts_ns, GoQuote(entries[i].line),
                             have[i].ts_ns, GoQuote(have[i].line));
        }
      }
    }
    for (const auto& [labels, s] : by_labels) {
      if (!want.contains(labels)) return "unexpected stream in result: " + FormatLabels(labels);
    }
    return "";
  }

  std::string name_;
  std::ostream& out_;
  std::unique_ptr<logs::Head> head_;
  Engine engine_;
  promql::PromqlTestSummary summary_;
};

}  // namespace

Result<promql::PromqlTestSummary> RunLogqlTest(std::string_view script, std::string_view name,
                                               std::ostream& out) {
  Runner r(name, out);
  return r.Run(script);
}

}  // namespace strata::logql
