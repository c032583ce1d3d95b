#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/sample.h"
#include "base/status.h"
#include "proto/native_histogram.h"

namespace strata::proto {

// Prometheus remote write 1.0 (prometheus.WriteRequest). Field numbers are from the
// public remote-write specification; the wire layout is documented in
// docs/format/remote-write.md.
enum class MetricType : uint8_t {
  kUnknown = 0,
  kCounter = 1,
  kGauge = 2,
  kHistogram = 3,
  kGaugeHistogram = 4,
  kSummary = 5,
  kInfo = 6,
  kStateset = 7,
};

// A decoded request in a protocol-neutral shape: series with labels and samples borrowed
// from the decompressed body (which must outlive the view). Remote write 2.0 decodes into
// the same shape, resolving its symbol table into these views, so validation and storage
// are shared. Flat arrays keep decoding allocation-light.
struct TimeSeriesView {
  uint32_t labels_begin = 0, labels_end = 0;
  uint32_t samples_begin = 0, samples_end = 0;
  uint32_t exemplars_begin = 0, exemplars_end = 0;
  uint32_t histograms_begin = 0, histograms_end = 0;
  uint32_t num_histograms() const { return histograms_end - histograms_begin; }
};

// An exemplar of a series: its labels (in WriteRequestView::exemplar_labels), value and time
// (ms; 0 when the sender gave none).
struct ExemplarView {
  uint32_t labels_begin = 0, labels_end = 0;
  double value = 0;
  int64_t t = 0;
};

struct MetadataView {
  MetricType type = MetricType::kUnknown;
  std::string_view family;
  std::string_view help;
  std::string_view unit;
};

struct WriteRequestView {
  std::vector<TimeSeriesView> series;
  std::vector<LabelView> labels;
  std::vector<Sample> samples;
  std::vector<ExemplarView> exemplars;
  std::vector<LabelView> exemplar_labels;
  std::vector<MetadataView> metadata;
  std::vector<HistogramSampleIn> histograms;  // decoded: they own their buckets

  // Empties every vector, keeping its capacity for the next request decoded into it.
  void Clear();
  // The bytes the vectors hold allocated.
  size_t CapacityBytes() const;

  std::span<const LabelView> LabelsOf(const TimeSeriesView& ts) const {
    return {labels.data() + ts.labels_begin, labels.data() + ts.labels_end};
  }
  std::span<const Sample> SamplesOf(const TimeSeriesView& ts) const {
    return {samples.data() + ts.samples_begin, samples.data() + ts.samples_end};
  }
  std::span<const HistogramSampleIn> HistogramsOf(const TimeSeriesView& ts) const {
    return {histograms.data() + ts.histograms_begin, histograms.data() + ts.histograms_end};
  }
  std::span<const ExemplarView> ExemplarsOf(const TimeSeriesView& ts) const {
    return {exemplars.data() + ts.exemplars_begin, exemplars.data() + ts.exemplars_end};
  }
  std::span<const LabelView> LabelsOf(const ExemplarView& e) const {
    return {exemplar_labels.data() + e.labels_begin, exemplar_labels.data() + e.labels_end};
  }
};

// Decompresses a snappy block-format body, appending it to `out`; refuses bodies whose declared
// decompressed size exceeds `max_bytes` (kTooLarge) and malformed input (kInvalidArgument),
// leaving `out` as it was.
Status SnappyDecompress(std::string_view body, size_t max_bytes, std::string& out);

// Decodes a serialized WriteRequest. Labels and metadata borrow from `data`.
Result<WriteRequestView> DecodeWriteRequest(std::string_view data);
// Decodes a serialized remote write 2.0 request (io.prometheus.write.v2.Request) into the same
// view: labels and exemplar labels from the symbols table, metadata per series under its
// metric name. Refs outside the table and odd labels_refs are kInvalidArgument. Created
// timestamps are not read.
Result<WriteRequestView> DecodeWriteRequestV2(std::string_view data);
// The same, into `out` (cleared first, its capacity kept): a receiver that decodes request
// after request into one view grows its vectors once, not per request. On an error `out`
// holds part of the request.
Status DecodeWriteRequest(std::string_view data, WriteRequestView& out);
Status DecodeWriteRequestV2(std::string_view data, WriteRequestView& out);

struct WriteRequestCounts {
  uint64_t series = 0;
  uint64_t samples = 0;
  uint64_t histograms = 0;  // native histogram samples
  uint64_t exemplars = 0;
  uint64_t metadata = 0;
};
// Checks a serialized WriteRequest as DecodeWriteRequest does (same errors) and counts its
// parts, keeping nothing: for a relay that forwards the request as it came.
Result<WriteRequestCounts> ScanWriteRequest(std::string_view data);

// Owned request, for senders (loadgen, tests).
struct Exemplar {
  Labels labels;
  double value = 0;
  int64_t t = 0;  // ms
};
struct TimeSeries {
  Labels labels;
  std::vector<Sample> samples;
  std::vector<Exemplar> exemplars;
  std::vector<histogram::HistogramSample> histograms;  // written in float form
};
struct MetricMetadata {
  MetricType type = MetricType::kUnknown;
  std::string family, help, unit;
};
struct WriteRequest {
  std::vector<TimeSeries> series;
  std::vector<MetricMetadata> metadata;
};

std::string EncodeWriteRequest(const WriteRequest& req);
// An owned copy of a decoded request: a relay re-encodes remote write 2.0 as 1.0 with it.
// Only valid histograms are carried.
WriteRequest ToWriteRequest(const WriteRequestView& v);
// The view of an owned request, borrowing from it: what a receiver that translated another
// protocol (OTLP) hands to storage, with no encoding round trip.
WriteRequestView AsView(const WriteRequest& req);
// The label fields of a TimeSeries message, encoded once and reused by AppendTimeSeries.
std::string EncodeLabels(std::span<const LabelView> labels);
// Appends one WriteRequest.timeseries entry with pre-encoded labels (and exemplars and
// histograms, as EncodeExemplars and EncodeHistograms give them).
void AppendTimeSeries(std::string& out, std::string_view encoded_labels,
                      std::span<const Sample> samples, std::string_view encoded_exemplars = {});
// The exemplar fields of a TimeSeries message.
std::string EncodeExemplars(std::span<const Exemplar> exemplars);
// The histogram fields of a TimeSeries message (float histograms).
std::string EncodeHistograms(std::span<const histogram::HistogramSample> histograms);
std::string SnappyCompress(std::string_view data);

}  // namespace strata::proto
