#pragma once

// Realistic synthetic traces for benchmarks and load tests: the user flows of a microservice
// shop shaped like the OpenTelemetry demo (a proxy, a web frontend, gRPC services, a Redis
// cache, a Kafka topic), with the resource and span attributes its SDKs set under the
// OpenTelemetry semantic conventions. Deterministic for a seed.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace strata::testing {

struct SyntheticTrace {
  std::string id;           // 16 random bytes
  std::string traces_data;  // serialized TracesData: one ResourceSpans per service instance
  uint64_t spans = 0;
  int64_t start_ns = 0, end_ns = 0;  // the earliest start and the latest end
};

class SyntheticTraces {
 public:
  // The shop's services and instances (their resources) and its users come from `seed`; the
  // traces from `seed` and `stream`: generators of one seed and different streams are the
  // same fleet serving different requests, as the heads of one tenant see it.
  explicit SyntheticTraces(uint64_t seed, uint64_t stream = 0);
  ~SyntheticTraces();
  SyntheticTraces(const SyntheticTraces&) = delete;
  SyntheticTraces& operator=(const SyntheticTraces&) = delete;

  // One trace of a user flow (browsing 60%, the cart 30%, a checkout 10%) whose root span
  // starts at `start_ns`; about 2% of them fail somewhere, with an exception event.
  SyntheticTrace Next(int64_t start_ns);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The start of trace `i` of `n` spread evenly over `window_s` seconds from `first_ns`: the
// load tools that must send and store the same traces (bench/traces) agree on it.
inline int64_t SyntheticStart(int64_t first_ns, double window_s, uint64_t i, uint64_t n) {
  return first_ns +
         static_cast<int64_t>(static_cast<double>(i) * window_s * 1e9 / static_cast<double>(n));
}

}  // namespace strata::testing
