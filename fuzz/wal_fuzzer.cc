// libFuzzer target: everything that reads WAL bytes back from disk at start-up (frame
// scanning, the metrics, log and trace stores' record decoding, chunk decoding).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "logs/wal_record.h"
#include "proto/otlp_traces.h"
#include "traces/wal_record.h"
#include "tsdb/chunkenc/histogram.h"
#include "tsdb/chunkenc/xor.h"
#include "tsdb/wal_record.h"
#include "wal/segment.h"

namespace {

// The log store's entries record (its stream record is the metrics series record's payload).
void DecodeLogEntries(std::string_view payload) {
  std::vector<strata::logs::RefEntry> entries;
  std::vector<strata::LabelView> metadata;
  if (!strata::logs::DecodeEntries(payload, entries, metadata).ok()) return;
  for (const auto& e : entries) {
    if (size_t{e.metadata_begin} + e.metadata_count > metadata.size()) __builtin_trap();
  }
}

// The trace store's fragments record: each fragment as the head keeps it, then assembled
// into a trace as a read does.
void DecodeTraceFragments(std::string_view payload) {
  std::vector<strata::traces::Fragment> fragments;
  if (!strata::traces::DecodeFragments(payload, fragments).ok()) return;
  std::vector<std::string_view> data;
  for (const auto& f : fragments) {
    if (f.trace_id.size() != strata::proto::kTraceIdSize) __builtin_trap();
    data.push_back(f.resource_spans);
  }
  (void)strata::proto::AssembleTrace(data, nullptr);
}

strata::Status Decode(strata::wal::RecordType type, std::string_view payload) {
  using namespace strata::tsdb;
  DecodeLogEntries(payload);
  DecodeTraceFragments(payload);
  switch (type) {
    case kSeriesRecord: {
      std::vector<strata::index::RefSeries> v;
      return strata::index::DecodeSeries(payload, v);
    }
    case kSamplesRecord: {
      std::vector<RefSample> v;
      return DecodeSamples(payload, v);
    }
    case kMetadataRecord: {
      std::vector<RefMetadata> v;
      return DecodeMetadata(payload, v);
    }
    case kChunkRecord: {
      std::vector<RefChunk> v;
      RETURN_IF_ERROR(DecodeChunks(payload, v));
      for (const auto& c : v) {
        strata::chunkenc::XorIterator it(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(c.data.data()), c.data.size()));
        while (it.Next()) {
        }
      }
      return strata::Status::Ok();
    }
    case kHistogramsRecord: {
      std::vector<RefHistograms> v;
      RETURN_IF_ERROR(DecodeHistograms(payload, v));
      for (const auto& h : v) {
        strata::chunkenc::FloatHistogramIterator it(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(h.chunk.data()), h.chunk.size()));
        while (it.Next()) {
        }
      }
      return strata::Status::Ok();
    }
    default:
      return strata::Status::Corruption("unknown type");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // As a segment: frames with CRCs (the fuzzer rarely gets a CRC right, so also...)
  (void)strata::wal::ScanFrames(in, strata::tsdb::kMaxRecord, Decode);
  // ...feed the bytes straight to each payload decoder and the chunk iterator.
  if (size > 0) {
    auto type = static_cast<strata::wal::RecordType>(1 + data[0] % strata::tsdb::kMaxRecord);
    (void)Decode(type, in.substr(1));
  }
  strata::chunkenc::XorIterator it(std::span<const uint8_t>(data, size));
  while (it.Next()) {
  }
  return 0;
}
