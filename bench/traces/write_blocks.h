#pragma once

// Writes a tenant's synthetic traces (testing/synthetic_traces.h) as trace blocks into a
// bucket: the trace benchmarks' shared setup.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "blocks/lifecycle.h"
#include "objstore/bucket.h"
#include "testing/synthetic_traces.h"
#include "traces/block/writer.h"

namespace strata::bench {

struct Written {
  std::vector<std::string> ids;  // every trace ID written
  uint64_t spans = 0, data_bytes = 0, index_bytes = 0;
  uint64_t trace_bytes = 0;  // the traces' OTLP protobuf size
};

// Writes `blocks` blocks of `per_block` traces each (block b's traces start in minute b; all of
// one fleet of services, as one tenant's heads cut them) and uploads them, on two threads.
inline Written WriteBlocks(objstore::Bucket& bucket, const std::string& tenant, uint64_t blocks,
                           uint64_t per_block, uint64_t seed, const std::string& staging) {
  const std::string root = blocks::BlocksRoot(tenant, Signal::kTraces);
  std::vector<Written> parts(2);
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  auto work = [&](size_t t) {
    Written& out = parts[t];
    while (!failed) {
      const uint64_t b = next++;
      if (b >= blocks) return;
      testing::SyntheticTraces gen(seed, b + 1);
      const int64_t t0 = 1'700'000'000'000'000'000 + static_cast<int64_t>(b) * 60'000'000'000;
      std::vector<testing::SyntheticTrace> traces;
      traces.reserve(per_block);
      for (uint64_t i = 0; i < per_block; ++i) {
        traces.push_back(gen.Next(t0 + static_cast<int64_t>(i * 60'000'000'000 / per_block)));
      }
      std::sort(traces.begin(), traces.end(),
                [](const auto& a, const auto& c) { return a.id < c.id; });
      const std::string dir = fmt::format("{}/{}", staging, t);
      Status st = [&]() -> Status {
        ASSIGN_OR_RETURN(auto writer, traces::block::BlockWriter::Create(dir, {}));
        for (const auto& tr : traces) {
          RETURN_IF_ERROR(writer->Add(tr.id, tr.traces_data, tr.spans, tr.start_ns, tr.end_ns));
          out.ids.push_back(tr.id);
          out.spans += tr.spans;
        }
        ASSIGN_OR_RETURN(auto meta, writer->Finish());
        out.data_bytes += meta.data_bytes;
        out.index_bytes += meta.index_bytes;
        out.trace_bytes += meta.trace_bytes;
        return blocks::UploadBlock(bucket, root, meta.id, dir, traces::block::BlockWriter::Files(),
                                   traces::block::EncodeMeta(meta));
      }();
      if (!st.ok() && !failed.exchange(true)) error = st.ToString();
    }
  };
  std::thread other(work, 1);
  work(0);
  other.join();
  if (failed) throw std::runtime_error(error);
  Status st = blocks::EnsureTenantMarker(bucket, tenant);
  if (!st.ok()) throw std::runtime_error(st.ToString());
  Written all = std::move(parts[0]);
  all.ids.insert(all.ids.end(), parts[1].ids.begin(), parts[1].ids.end());
  all.spans += parts[1].spans;
  all.data_bytes += parts[1].data_bytes;
  all.index_bytes += parts[1].index_bytes;
  all.trace_bytes += parts[1].trace_bytes;
  return all;
}

}  // namespace strata::bench
