// TailSampler on real queues in a temporary directory: spans wait for decision_wait, kept
// traces are delivered whole, late spans follow their trace's decision (also after a
// restart), and the memory bound holds spans back on disk instead of dropping them.
#include "agent/sample/sampler.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "base/units.h"
#include "proto/otlp.h"
#include "proto/otlp_traces.h"
#include "proto/remote_write.h"
#include "testing/temp_dir.h"

namespace strata::agent {
namespace {

// An OTLP traces record of spans named "<trace>-<n>" (trace: one hex digit, repeated into
// its ID; n: one digit); `error` marks spans with status ERROR.
QueueRecord Spans(std::initializer_list<std::pair<std::string, bool>> spans) {
  std::string items;
  for (const auto& [name, error] : spans) {
    if (!items.empty()) items += ",";
    items += fmt::format(
        R"({{"traceId":"{}","spanId":"{:016x}","name":"{}","startTimeUnixNano":"1","endTimeUnixNano":"2"{}}})",
        std::string(32, name[0]), (name[0] << 8) | name.back(), name,
        error ? R"(,"status":{"code":2})" : "");
  }
  auto pb = proto::OtlpJsonToProtobuf(
      proto::OtlpSignal::kTraces,
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + items + "]}]}]}");
  EXPECT_TRUE(pb.ok()) << pb.status().message();
  QueueRecord r;
  r.kind = ItemKind::kOtlpTraces;
  r.tenant = "t1";
  r.items = static_cast<uint32_t>(spans.size());
  r.received_ms = NowMillis();
  r.body = proto::SnappyCompress(*pb);
  return r;
}

class SamplerTest : public ::testing::Test {
 protected:
  TailSamplingConfig Config(int64_t wait_ms, const std::string& policies) {
    auto c = ParseAgentConfig(
        fmt::format("tail_sampling: {{decision_wait: {}ms, policies: {}}}", wait_ms, policies));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c->tail_sampling;
  }
  void Open(const TailSamplingConfig& c) {
    registry_ = std::make_shared<prometheus::Registry>();
    auto s = TailSampler::Open(
        dir_.path(), c,
        [this](const QueueRecord& r, const std::function<void(const Status&)>& done) {
          std::string raw;
          ASSERT_TRUE(proto::SnappyDecompress(r.body, 1 << 30, raw).ok());
          EXPECT_EQ(r.tenant, "t1");
          {
            std::lock_guard lk(mu_);
            for (size_t p = 0; !refuse_ && (p = raw.find('-', p)) != std::string::npos; ++p) {
              delivered_.insert(raw.substr(p - 1, 3));
            }
          }
          done(refuse_ ? Status::Unavailable("exporter queue full") : Status::Ok());
        },
        *registry_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    sampler_ = std::move(*s);
    ASSERT_TRUE(sampler_->Start().ok());
  }
  void Route(const QueueRecord& r) {
    std::promise<Status> p;
    sampler_->Route(r, false, [&](const Status& st) { p.set_value(st); });
    ASSERT_TRUE(p.get_future().get().ok());
  }
  std::set<std::string> Delivered() {
    std::lock_guard lk(mu_);
    return delivered_;
  }
  // Waits up to 10 s for `want` to be delivered.
  void WaitFor(const std::set<std::string>& want) {
    for (int i = 0; i < 1000 && Delivered() != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(Delivered(), want);
  }
  double Metric(const std::string& series) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_->Collect());
    std::string text = out.str();
    size_t pos = text.find("\n" + series + " ");
    return pos == std::string::npos ? -1 : std::stod(text.substr(pos + series.size() + 2));
  }

  testing::TempDir dir_{"sampler"};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<TailSampler> sampler_;
  std::mutex mu_;
  std::set<std::string> delivered_;
  std::atomic<bool> refuse_{false};  // the exporters' queues refuse (full)
};

constexpr const char* kErrors =
    "[{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]";

TEST_F(SamplerTest, TracesAreDecidedWholeAfterTheWaitAndLateSpansFollow) {
  Open(Config(300, kErrors));
  const int64_t start = NowMillis();
  Route(Spans({{"a-1", false}, {"b-1", false}}));
  Route(Spans({{"a-2", true}}));  // a's error arrives in another request
  EXPECT_TRUE(Delivered().empty());
  WaitFor({"a-1", "a-2"});
  EXPECT_GE(NowMillis() - start, 300);
  // Late spans: a's follows it; b's is dropped with b.
  Route(Spans({{"a-3", false}, {"b-2", true}}));
  WaitFor({"a-1", "a-2", "a-3"});
  for (int i = 0;
       i < 100 &&
       Metric("strata_agent_tail_sampling_late_spans_total{decision=\"not_sampled\"}") < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Metric("strata_agent_tail_sampling_traces_total{decision=\"sampled\"}"), 1);
  EXPECT_EQ(Metric("strata_agent_tail_sampling_traces_total{decision=\"not_sampled\"}"), 1);
  EXPECT_EQ(Metric("strata_agent_tail_sampling_late_spans_total{decision=\"sampled\"}"), 1);
  EXPECT_EQ(Metric("strata_agent_tail_sampling_late_spans_total{decision=\"not_sampled\"}"), 1);
  // b-1 by its decision, b-2 late.
  EXPECT_EQ(Metric("strata_agent_tail_sampling_dropped_spans_total{reason=\"not_sampled\"}"), 2);
  EXPECT_EQ(Metric("strata_agent_tail_sampling_policy_decisions_total{decision=\"sampled\",policy="
                   "\"errors\"}"),
            1);
}

TEST_F(SamplerTest, UndecidedSpansAndDecisionsSurviveARestart) {
  // Spans queued, then the agent stops long before the decision: nothing is lost.
  Open(Config(60'000, kErrors));
  Route(Spans({{"c-1", true}, {"d-1", false}}));
  sampler_->Stop();
  sampler_.reset();
  EXPECT_TRUE(Delivered().empty());
  Open(Config(200, kErrors));
  WaitFor({"c-1"});
  sampler_->Stop();
  sampler_.reset();
  // After another restart the decisions are read back: late spans follow them.
  Open(Config(200, kErrors));
  Route(Spans({{"c-2", false}, {"d-2", true}}));
  WaitFor({"c-1", "c-2"});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // d-2 would be decided by now
  EXPECT_EQ(Delivered(), (std::set<std::string>{"c-1", "c-2"}));
  EXPECT_EQ(Metric("strata_agent_tail_sampling_late_spans_total{decision=\"not_sampled\"}"), 1);
}

// A trace decided, its decision on disk, its kept spans refused by full exporter queues, and
// then a restart: its replayed span and a late one follow the decision on disk. Deciding
// again would keep neither (span_count 1..1 sees two spans now), splitting the trace from
// the copy delivered before, if any.
TEST_F(SamplerTest, ReplayedAndLateSpansFollowTheDecisionOnDisk) {
  const char* one_span =
      "[{name: one, type: span_count, span_count: {min_spans: 1, max_spans: 1}}]";
  refuse_ = true;
  Open(Config(100, one_span));
  Route(Spans({{"e-1", false}}));
  for (int i = 0;
       i < 500 && Metric("strata_agent_tail_sampling_traces_total{decision=\"sampled\"}") < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the delivery is refused
  sampler_->Stop();
  sampler_.reset();
  EXPECT_TRUE(Delivered().empty());
  refuse_ = false;
  Open(Config(100, one_span));
  Route(Spans({{"e-2", false}}));
  WaitFor({"e-1", "e-2"});
  EXPECT_EQ(Metric("strata_agent_tail_sampling_traces_total{decision=\"sampled\"}"), -1);  // none
  EXPECT_EQ(Metric("strata_agent_tail_sampling_late_spans_total{decision=\"sampled\"}"), 2);
}

TEST_F(SamplerTest, AtTheMemoryBoundSpansWaitOnDisk) {
  auto c = Config(200, "[{name: all, type: always_sample}]");
  c.num_traces = 2;
  Open(c);
  for (char t : std::string("56789")) Route(Spans({{std::string(1, t) + "-1", false}}));
  WaitFor({"5-1", "6-1", "7-1", "8-1", "9-1"});
  EXPECT_GE(Metric("strata_agent_tail_sampling_capacity_waits_total"), 1);
  EXPECT_EQ(Metric("strata_agent_tail_sampling_traces_buffered"), 0);
}

}  // namespace
}  // namespace strata::agent
