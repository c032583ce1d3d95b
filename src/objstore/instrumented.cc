#include "objstore/instrumented.h"

#include <chrono>
#include <filesystem>

namespace strata::objstore {
namespace {

class Timer {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kGet:
      return "get";
    case Op::kGetRange:
      return "get_range";
    case Op::kPut:
      return "put";
    case Op::kList:
      return "list";
    case Op::kDelete:
      return "delete";
    case Op::kExists:
      return "exists";
  }
  return "unknown";
}

BucketMetrics::BucketMetrics(prometheus::Registry& registry)
    : requests(prometheus::BuildCounter()
                   .Name("strata_objstore_requests_total")
                   .Help("Object-store requests by operation, component, tenant and outcome.")
                   .Register(registry)),
      received_bytes(prometheus::BuildCounter()
                         .Name("strata_objstore_received_bytes_total")
                         .Help("Bytes downloaded from the object store.")
                         .Register(registry)),
      sent_bytes(prometheus::BuildCounter()
                     .Name("strata_objstore_sent_bytes_total")
                     .Help("Bytes uploaded to the object store.")
                     .Register(registry)),
      duration(prometheus::BuildHistogram()
                   .Name("strata_objstore_request_duration_seconds")
                   .Help("Object-store request latency, retries included.")
                   .Register(registry)) {}

InstrumentedBucket::InstrumentedBucket(std::shared_ptr<Bucket> inner, BucketMetrics& metrics,
                                       Component component, Signal signal,
                                       const std::string& tenant)
    : inner_(std::move(inner)) {
  std::string comp(ComponentName(component));
  std::string sig(SignalName(signal));
  static constexpr std::array<const char*, kNumOutcomes> kOutcomes = {"ok", "not_found", "error"};
  for (size_t op = 0; op < kNumOps; ++op) {
    std::string name(OpName(static_cast<Op>(op)));
    for (size_t o = 0; o < kNumOutcomes; ++o) {
      requests_[op][o] = &metrics.requests.Add({{"operation", name},
                                                {"component", comp},
                                                {"signal", sig},
                                                {"tenant", tenant},
                                                {"outcome", kOutcomes[o]}});
    }
    duration_[op] = &metrics.duration.Add(
        {{"operation", name}, {"component", comp}, {"signal", sig}},
        prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60});
  }
  received_ =
      &metrics.received_bytes.Add({{"component", comp}, {"signal", sig}, {"tenant", tenant}});
  sent_ = &metrics.sent_bytes.Add({{"component", comp}, {"signal", sig}, {"tenant", tenant}});
}

void InstrumentedBucket::Record(Op op, const Status& st, double seconds, uint64_t in,
                                uint64_t out) {
  Outcome o = st.ok() ? kOk : st.code() == Status::Code::kNotFound ? kNotFound : kError;
  auto i = static_cast<size_t>(op);
  requests_[i][o]->Increment();
  duration_[i]->Observe(seconds);
  if (in > 0) received_->Increment(static_cast<double>(in));
  if (out > 0) sent_->Increment(static_cast<double>(out));
}

Result<std::string> InstrumentedBucket::Get(const std::string& key) {
  Timer t;
  auto r = inner_->Get(key);
  Record(Op::kGet, r.status(), t.seconds(), r.ok() ? r->size() : 0, 0);
  return r;
}

Result<std::string> InstrumentedBucket::GetRange(const std::string& key, uint64_t offset,
                                                 uint64_t length) {
  Timer t;
  auto r = inner_->GetRange(key, offset, length);
  Record(Op::kGetRange, r.status(), t.seconds(), r.ok() ? r->size() : 0, 0);
  return r;
}

Status InstrumentedBucket::Put(const std::string& key, std::string_view data) {
  Timer t;
  Status st = inner_->Put(key, data);
  Record(Op::kPut, st, t.seconds(), 0, st.ok() ? data.size() : 0);
  return st;
}

Status InstrumentedBucket::PutFile(const std::string& key, const std::string& path) {
  Timer t;
  Status st = inner_->PutFile(key, path);
  std::error_code ec;
  uint64_t size = st.ok() ? std::filesystem::file_size(path, ec) : 0;
  Record(Op::kPut, st, t.seconds(), 0, ec ? 0 : size);
  return st;
}

Result<std::vector<ObjectInfo>> InstrumentedBucket::List(const std::string& prefix,
                                                         bool recursive) {
  Timer t;
  auto r = inner_->List(prefix, recursive);
  Record(Op::kList, r.status(), t.seconds(), 0, 0);
  return r;
}

Status InstrumentedBucket::Delete(const std::string& key) {
  Timer t;
  Status st = inner_->Delete(key);
  Record(Op::kDelete, st, t.seconds(), 0, 0);
  return st;
}

Result<bool> InstrumentedBucket::Exists(const std::string& key) {
  Timer t;
  auto r = inner_->Exists(key);
  Record(Op::kExists, r.status(), t.seconds(), 0, 0);
  return r;
}

}  // namespace strata::objstore
