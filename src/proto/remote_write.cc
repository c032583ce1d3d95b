#include "proto/remote_write.h"

#include <fmt/format.h>
#include <snappy.h>

#include <functional>
#include <limits>
#include <memory>

#include "base/coding.h"
#include "proto/wire.h"

namespace strata::proto {
namespace {

// WriteRequest
constexpr uint32_t kReqTimeseries = 1;
constexpr uint32_t kReqMetadata = 3;
// TimeSeries
constexpr uint32_t kTsLabels = 1;
constexpr uint32_t kTsSamples = 2;
constexpr uint32_t kTsExemplars = 3;
constexpr uint32_t kTsHistograms = 4;
// Label
constexpr uint32_t kLabelName = 1;
constexpr uint32_t kLabelValue = 2;
// Sample
constexpr uint32_t kSampleValue = 1;
constexpr uint32_t kSampleTimestamp = 2;
// Exemplar
constexpr uint32_t kExemplarLabels = 1;
constexpr uint32_t kExemplarValue = 2;
constexpr uint32_t kExemplarTimestamp = 3;
// MetricMetadata
constexpr uint32_t kMetaType = 1;
constexpr uint32_t kMetaFamily = 2;
constexpr uint32_t kMetaHelp = 4;
constexpr uint32_t kMetaUnit = 5;

Status MalformedWrite(std::string_view what) {
  return Status::InvalidArgument(fmt::format("malformed remote write protobuf: {}", what));
}

bool DecodeLabel(std::string_view data, LabelView* out) {
  // What senders write: the name (field 1), then the value (field 2), each under 128 bytes.
  // Anything else, such as an omitted empty value or fields in another order, takes the
  // general path below.
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  if (data.size() >= 4 && p[0] == 0x0A && p[1] < 0x80) {
    const size_t v = 2 + size_t{p[1]};  // where the value's key should be
    if (v + 2 <= data.size() && p[v] == 0x12 && p[v + 1] < 0x80 &&
        v + 2 + size_t{p[v + 1]} == data.size()) {
      out->name = data.substr(2, p[1]);
      out->value = data.substr(v + 2);
      return true;
    }
  }
  WireReader r(data);
  while (r.NextField()) {
    if (r.field() == kLabelName && r.Expect(WireType::kLen)) {
      r.ReadBytes(&out->name);
    } else if (r.field() == kLabelValue && r.Expect(WireType::kLen)) {
      r.ReadBytes(&out->value);
    } else if (!r.error()) {
      r.Skip();
    }
  }
  return !r.error();
}

bool DecodeSample(std::string_view data, Sample* out) {
  // What senders write: the value (field 1, 8 bytes), then the timestamp (field 2, a varint).
  if (data.size() >= 11 && static_cast<uint8_t>(data[0]) == 0x09 &&
      static_cast<uint8_t>(data[9]) == 0x10) {
    ByteReader value(data.substr(1, 8)), ts(data.substr(10));
    uint64_t u;
    if (value.ReadDouble(&out->v) && ts.ReadUvarint(&u) && ts.empty()) {
      out->t = static_cast<int64_t>(u);
      return true;
    }
  }
  WireReader r(data);
  out->t = 0;
  out->v = 0;
  while (r.NextField()) {
    uint64_t u;
    if (r.field() == kSampleValue && r.Expect(WireType::kFixed64)) {
      r.ReadDouble(&out->v);
    } else if (r.field() == kSampleTimestamp && r.Expect(WireType::kVarint) && r.ReadVarint(&u)) {
      out->t = static_cast<int64_t>(u);
    } else if (!r.error()) {
      r.Skip();
    }
  }
  return !r.error();
}

// An Exemplar's value and timestamp; its labels go to `label`.
template <typename LabelFn>
bool DecodeExemplar(std::string_view data, double* value, int64_t* t, const LabelFn& label) {
  WireReader r(data);
  *value = 0;
  *t = 0;
  while (r.NextField()) {
    uint64_t u;
    std::string_view sub;
    if (r.field() == kExemplarLabels && r.Expect(WireType::kLen) && r.ReadBytes(&sub)) {
      LabelView l;
      if (!DecodeLabel(sub, &l)) return false;
      label(l);
    } else if (r.field() == kExemplarValue && r.Expect(WireType::kFixed64)) {
      r.ReadDouble(value);
    } else if (r.field() == kExemplarTimestamp && r.Expect(WireType::kVarint) && r.ReadVarint(&u)) {
      *t = static_cast<int64_t>(u);
    } else if (!r.error()) {
      r.Skip();
    }
  }
  return !r.error();
}

bool DecodeMetadata(std::string_view data, MetadataView* md) {
  WireReader r(data);
  while (r.NextField()) {
    uint64_t u;
    switch (r.field()) {
      case kMetaType:
        if (r.Expect(WireType::kVarint) && r.ReadVarint(&u)) {
          md->type = u <= static_cast<uint64_t>(MetricType::kStateset) ? static_cast<MetricType>(u)
                                                                       : MetricType::kUnknown;
        }
        break;
      case kMetaFamily:
        if (r.Expect(WireType::kLen)) r.ReadBytes(&md->family);
        break;
      case kMetaHelp:
        if (r.Expect(WireType::kLen)) r.ReadBytes(&md->help);
        break;
      case kMetaUnit:
        if (r.Expect(WireType::kLen)) r.ReadBytes(&md->unit);
        break;
      default:
        r.Skip();
    }
  }
  return !r.error();
}

// Walks a serialized WriteRequest once, checking its structure, and hands each series' parts
// and each metadata entry to `sink` (DecodeWriteRequest keeps them, ScanWriteRequest counts).
template <class Sink>
Status Walk(std::string_view data, Sink& sink) {
  WireReader req(data);
  while (req.NextField()) {
    std::string_view value;
    if (req.field() == kReqMetadata) {
      MetadataView md;
      if (!req.Expect(WireType::kLen) || !req.ReadBytes(&value) || !DecodeMetadata(value, &md)) {
        return MalformedWrite("bad MetricMetadata");
      }
      sink.Metadata(md);
      continue;
    }
    if (req.field() != kReqTimeseries) {
      req.Skip();
      continue;
    }
    if (!req.Expect(WireType::kLen) || !req.ReadBytes(&value))
      return MalformedWrite("bad timeseries");
    sink.BeginSeries();
    WireReader r(value);
    while (r.NextField()) {
      std::string_view sub;
      switch (r.field()) {
        case kTsLabels: {
          LabelView l;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub) || !DecodeLabel(sub, &l)) {
            return MalformedWrite("bad Label in TimeSeries");
          }
          sink.Label(l);
          break;
        }
        case kTsSamples: {
          Sample smp;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub) || !DecodeSample(sub, &smp)) {
            return MalformedWrite("bad Sample in TimeSeries");
          }
          sink.Sample(smp);
          break;
        }
        case kTsExemplars: {
          double v;
          int64_t t;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub) ||
              !DecodeExemplar(sub, &v, &t,
                              [&sink](const LabelView& l) { sink.ExemplarLabel(l); })) {
            return MalformedWrite("bad Exemplar in TimeSeries");
          }
          sink.Exemplar(v, t);
          break;
        }
        case kTsHistograms: {
          HistogramSampleIn h;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub) || !DecodeHistogram(sub, &h)) {
            return MalformedWrite("bad Histogram in TimeSeries");
          }
          sink.Histogram(std::move(h));
          break;
        }
        default:
          r.Skip();
      }
    }
    if (r.error()) return MalformedWrite("bad TimeSeries");
    RETURN_IF_ERROR(sink.EndSeries());
  }
  if (req.error()) return MalformedWrite("bad WriteRequest");
  return Status::Ok();
}

// Keeps everything, as views into the request, in `req`.
struct ViewSink {
  WriteRequestView& req;
  TimeSeriesView ts;
  uint32_t exemplar_labels_begin = 0;

  void BeginSeries() {
    ts.labels_begin = static_cast<uint32_t>(req.labels.size());
    ts.samples_begin = static_cast<uint32_t>(req.samples.size());
    ts.exemplars_begin = static_cast<uint32_t>(req.exemplars.size());
    ts.histograms_begin = static_cast<uint32_t>(req.histograms.size());
    exemplar_labels_begin = static_cast<uint32_t>(req.exemplar_labels.size());
  }
  void Histogram(HistogramSampleIn h) { req.histograms.push_back(std::move(h)); }
  void Label(const LabelView& l) { req.labels.push_back(l); }
  void Sample(const strata::Sample& s) { req.samples.push_back(s); }
  void ExemplarLabel(const LabelView& l) { req.exemplar_labels.push_back(l); }
  void Exemplar(double value, int64_t t) {
    const auto end = static_cast<uint32_t>(req.exemplar_labels.size());
    req.exemplars.push_back({exemplar_labels_begin, end, value, t});
    exemplar_labels_begin = end;
  }
  Status EndSeries() {
    if (req.labels.size() > std::numeric_limits<uint32_t>::max() ||
        req.samples.size() > std::numeric_limits<uint32_t>::max() ||
        req.exemplar_labels.size() > std::numeric_limits<uint32_t>::max() ||
        req.histograms.size() > std::numeric_limits<uint32_t>::max()) {
      return Status::TooLarge("remote write request has too many labels or samples");
    }
    ts.labels_end = static_cast<uint32_t>(req.labels.size());
    ts.samples_end = static_cast<uint32_t>(req.samples.size());
    ts.exemplars_end = static_cast<uint32_t>(req.exemplars.size());
    ts.histograms_end = static_cast<uint32_t>(req.histograms.size());
    req.series.push_back(ts);
    return Status::Ok();
  }
  void Metadata(const MetadataView& md) { req.metadata.push_back(md); }
};

// Counts only.
struct CountSink {
  WriteRequestCounts counts;

  void BeginSeries() {}
  void Label(const LabelView&) {}
  void Sample(const strata::Sample&) { ++counts.samples; }
  void ExemplarLabel(const LabelView&) {}
  void Exemplar(double, int64_t) { ++counts.exemplars; }
  void Histogram(const HistogramSampleIn&) { ++counts.histograms; }
  Status EndSeries() {
    ++counts.series;
    return Status::Ok();
  }
  void Metadata(const MetadataView&) { ++counts.metadata; }
};

}  // namespace

Status SnappyDecompress(std::string_view body, size_t max_bytes, std::string& out) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &n)) {
    return Status::InvalidArgument("body is not valid snappy (block format) data");
  }
  if (n > max_bytes) {
    return Status::TooLarge(fmt::format(
        "decompressed body would be {} bytes, over the limit of {} bytes", n, max_bytes));
  }
  const size_t at = out.size();
  out.resize(at + n);
  if (!snappy::RawUncompress(body.data(), body.size(), out.data() + at)) {
    out.resize(at);
    return Status::InvalidArgument("body is not valid snappy (block format) data");
  }
  return Status::Ok();
}

void WriteRequestView::Clear() {
  series.clear();
  labels.clear();
  samples.clear();
  exemplars.clear();
  exemplar_labels.clear();
  metadata.clear();
  histograms.clear();
}

size_t WriteRequestView::CapacityBytes() const {
  return series.capacity() * sizeof(TimeSeriesView) + labels.capacity() * sizeof(LabelView) +
         samples.capacity() * sizeof(Sample) + exemplars.capacity() * sizeof(ExemplarView) +
         exemplar_labels.capacity() * sizeof(LabelView) +
         metadata.capacity() * sizeof(MetadataView) +
         histograms.capacity() * sizeof(HistogramSampleIn);
}

Status DecodeWriteRequest(std::string_view data, WriteRequestView& out) {
  out.Clear();
  ViewSink sink{out};
  return Walk(data, sink);
}

Result<WriteRequestView> DecodeWriteRequest(std::string_view data) {
  WriteRequestView v;
  RETURN_IF_ERROR(DecodeWriteRequest(data, v));
  return v;
}

namespace {

// io.prometheus.write.v2 (remote write 2.0)
constexpr uint32_t kV2Symbols = 4;
constexpr uint32_t kV2Timeseries = 5;
constexpr uint32_t kV2LabelsRefs = 1;
constexpr uint32_t kV2Samples = 2;
constexpr uint32_t kV2Histograms = 3;
constexpr uint32_t kV2Exemplars = 4;
constexpr uint32_t kV2Metadata = 5;
// Metadata
constexpr uint32_t kV2MetaType = 1;
constexpr uint32_t kV2MetaHelpRef = 3;
constexpr uint32_t kV2MetaUnitRef = 4;

Status MalformedV2(std::string_view what) {
  return Status::InvalidArgument(fmt::format("malformed remote write 2.0 protobuf: {}", what));
}

// Appends the refs of a `repeated uint32` field (packed or not) to `refs`.
bool ReadRefs(WireReader& r, std::vector<uint32_t>& refs) {
  return ReadRepeatedVarint(r, [&](uint64_t u) {
    if (u > std::numeric_limits<uint32_t>::max()) return false;
    refs.push_back(static_cast<uint32_t>(u));
    return true;
  });
}

// Labels from `refs` (name and value symbol refs in turn), checked against the table.
Status ResolveLabels(std::span<const uint32_t> refs, std::span<const std::string_view> symbols,
                     std::string_view where, const std::function<void(const LabelView&)>& fn) {
  if (refs.size() % 2 != 0) {
    return MalformedV2(fmt::format("{} labels_refs has an odd length ({})", where, refs.size()));
  }
  for (size_t i = 0; i < refs.size(); i += 2) {
    if (refs[i] >= symbols.size() || refs[i + 1] >= symbols.size()) {
      return MalformedV2(fmt::format(
          "{} labels_refs {} (name) = {} (value) outside of the symbols table (size {})", where,
          refs[i], refs[i + 1], symbols.size()));
    }
    fn({symbols[refs[i]], symbols[refs[i + 1]]});
  }
  return Status::Ok();
}

}  // namespace

Result<WriteRequestView> DecodeWriteRequestV2(std::string_view data) {
  WriteRequestView v;
  RETURN_IF_ERROR(DecodeWriteRequestV2(data, v));
  return v;
}

Status DecodeWriteRequestV2(std::string_view data, WriteRequestView& out) {
  out.Clear();
  // The symbols first: a sender may write them after the series that refer to them.
  std::vector<std::string_view> symbols, series;
  WireReader req(data);
  while (req.NextField()) {
    std::string_view v;
    if (req.field() == kV2Symbols || req.field() == kV2Timeseries) {
      if (!req.Expect(WireType::kLen) || !req.ReadBytes(&v)) return MalformedV2("bad Request");
      (req.field() == kV2Symbols ? symbols : series).push_back(v);
    } else if (!req.Skip()) {
      break;
    }
  }
  if (req.error()) return MalformedV2("bad Request");
  ViewSink sink{out};
  std::vector<uint32_t> refs;
  for (std::string_view ts : series) {
    sink.BeginSeries();
    refs.clear();
    bool has_metadata = false;
    uint64_t type = 0, help_ref = 0, unit_ref = 0;
    WireReader r(ts);
    while (r.NextField()) {
      std::string_view sub;
      switch (r.field()) {
        case kV2LabelsRefs:
          if (!ReadRefs(r, refs)) return MalformedV2("bad labels_refs in TimeSeries");
          break;
        case kV2Samples: {
          // Sample: value 1 (double) and timestamp 2 (int64), as in 1.0.
          strata::Sample smp;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub) || !DecodeSample(sub, &smp)) {
            return MalformedV2("bad Sample in TimeSeries");
          }
          sink.Sample(smp);
          break;
        }
        case kV2Histograms: {
          HistogramSampleIn h;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub) || !DecodeHistogram(sub, &h)) {
            return MalformedV2("bad Histogram in TimeSeries");
          }
          sink.Histogram(std::move(h));
          break;
        }
        case kV2Exemplars: {
          std::vector<uint32_t> ex_refs;
          double value = 0;
          int64_t t = 0;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub)) {
            return MalformedV2("bad Exemplar in TimeSeries");
          }
          WireReader e(sub);
          while (e.NextField()) {
            uint64_t u;
            if (e.field() == 1) {
              if (!ReadRefs(e, ex_refs)) return MalformedV2("bad labels_refs in Exemplar");
            } else if (e.field() == 2 && e.Expect(WireType::kFixed64)) {
              e.ReadDouble(&value);
            } else if (e.field() == 3 && e.Expect(WireType::kVarint) && e.ReadVarint(&u)) {
              t = static_cast<int64_t>(u);
            } else if (!e.error()) {
              e.Skip();
            }
          }
          if (e.error()) return MalformedV2("bad Exemplar in TimeSeries");
          RETURN_IF_ERROR(ResolveLabels(ex_refs, symbols, "Exemplar",
                                        [&sink](const LabelView& l) { sink.ExemplarLabel(l); }));
          sink.Exemplar(value, t);
          break;
        }
        case kV2Metadata: {
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&sub)) {
            return MalformedV2("bad Metadata in TimeSeries");
          }
          WireReader m(sub);
          while (m.NextField()) {
            uint64_t u;
            if (m.wire_type() == static_cast<uint8_t>(WireType::kVarint) && m.ReadVarint(&u)) {
              if (m.field() == kV2MetaType) type = u;
              if (m.field() == kV2MetaHelpRef) help_ref = u;
              if (m.field() == kV2MetaUnitRef) unit_ref = u;
            } else if (!m.error()) {
              m.Skip();
            }
          }
          if (m.error()) return MalformedV2("bad Metadata in TimeSeries");
          has_metadata = true;
          break;
        }
        default:
          r.Skip();
      }
    }
    if (r.error()) return MalformedV2("bad TimeSeries");
    std::string_view name;
    RETURN_IF_ERROR(ResolveLabels(refs, symbols, "TimeSeries", [&](const LabelView& l) {
      if (l.name == kMetricNameLabel) name = l.value;
      sink.Label(l);
    }));
    if (has_metadata && (type != 0 || help_ref != 0 || unit_ref != 0)) {
      if (help_ref >= symbols.size() || unit_ref >= symbols.size()) {
        return MalformedV2(
            fmt::format("Metadata help_ref {} or unit_ref {} outside of the "
                        "symbols table (size {})",
                        help_ref, unit_ref, symbols.size()));
      }
      // 2.0 gives metadata per series: its family is the series' metric name.
      if (!name.empty()) {
        sink.Metadata({type <= static_cast<uint64_t>(MetricType::kStateset)
                           ? static_cast<MetricType>(type)
                           : MetricType::kUnknown,
                       name, symbols[help_ref], symbols[unit_ref]});
      }
    }
    RETURN_IF_ERROR(sink.EndSeries());
  }
  return Status::Ok();
}

Result<WriteRequestCounts> ScanWriteRequest(std::string_view data) {
  CountSink sink;
  RETURN_IF_ERROR(Walk(data, sink));
  return sink.counts;
}

std::string EncodeLabels(std::span<const LabelView> labels) {
  std::string out;
  std::string label;
  for (const auto& l : labels) {
    label.clear();
    PutBytesField(label, kLabelName, l.name);
    PutBytesField(label, kLabelValue, l.value);
    PutBytesField(out, kTsLabels, label);
  }
  return out;
}

void AppendTimeSeries(std::string& out, std::string_view encoded_labels,
                      std::span<const Sample> samples, std::string_view encoded_exemplars) {
  // A sample message is at most 1+8 (value) + 1+10 (timestamp) bytes.
  size_t samples_size = 0;
  for (const auto& s : samples) {
    size_t n = 9 + (s.t != 0 ? 1 + UvarintSize(static_cast<uint64_t>(s.t)) : 0);
    samples_size += 1 + UvarintSize(n) + n;
  }
  PutKey(out, kReqTimeseries, WireType::kLen);
  PutUvarint(out, encoded_labels.size() + samples_size + encoded_exemplars.size());
  out.append(encoded_labels);
  for (const auto& s : samples) {
    size_t n = 9 + (s.t != 0 ? 1 + UvarintSize(static_cast<uint64_t>(s.t)) : 0);
    PutKey(out, kTsSamples, WireType::kLen);
    PutUvarint(out, n);
    PutDoubleField(out, kSampleValue, s.v);
    if (s.t != 0) PutVarintField(out, kSampleTimestamp, static_cast<uint64_t>(s.t));
  }
  out.append(encoded_exemplars);
}

std::string EncodeExemplars(std::span<const Exemplar> exemplars) {
  std::string out, e;
  for (const auto& ex : exemplars) {
    e = EncodeLabels(ViewOf(ex.labels));
    // An Exemplar's labels are its field 1, as a TimeSeries's are.
    PutDoubleField(e, kExemplarValue, ex.value);
    if (ex.t != 0) PutVarintField(e, kExemplarTimestamp, static_cast<uint64_t>(ex.t));
    PutBytesField(out, kTsExemplars, e);
  }
  return out;
}

std::string EncodeHistograms(std::span<const histogram::HistogramSample> histograms) {
  std::string out, h;
  for (const auto& s : histograms) {
    h.clear();
    EncodeHistogram(h, *s.h, s.t);
    PutBytesField(out, kTsHistograms, h);
  }
  return out;
}

WriteRequestView AsView(const WriteRequest& req) {
  WriteRequestView v;
  v.series.reserve(req.series.size());
  for (const auto& ts : req.series) {
    TimeSeriesView t;
    t.labels_begin = static_cast<uint32_t>(v.labels.size());
    for (const auto& l : ts.labels) v.labels.push_back({l.name, l.value});
    t.labels_end = static_cast<uint32_t>(v.labels.size());
    t.samples_begin = static_cast<uint32_t>(v.samples.size());
    v.samples.insert(v.samples.end(), ts.samples.begin(), ts.samples.end());
    t.samples_end = static_cast<uint32_t>(v.samples.size());
    t.exemplars_begin = static_cast<uint32_t>(v.exemplars.size());
    for (const auto& e : ts.exemplars) {
      ExemplarView ev{static_cast<uint32_t>(v.exemplar_labels.size()), 0, e.value, e.t};
      for (const auto& l : e.labels) v.exemplar_labels.push_back({l.name, l.value});
      ev.labels_end = static_cast<uint32_t>(v.exemplar_labels.size());
      v.exemplars.push_back(ev);
    }
    t.exemplars_end = static_cast<uint32_t>(v.exemplars.size());
    t.histograms_begin = static_cast<uint32_t>(v.histograms.size());
    for (const auto& h : ts.histograms) v.histograms.push_back({h.t, h.h, {}});
    t.histograms_end = static_cast<uint32_t>(v.histograms.size());
    v.series.push_back(t);
  }
  v.metadata.reserve(req.metadata.size());
  for (const auto& m : req.metadata) v.metadata.push_back({m.type, m.family, m.help, m.unit});
  return v;
}

WriteRequest ToWriteRequest(const WriteRequestView& v) {
  WriteRequest req;
  req.series.reserve(v.series.size());
  for (const auto& ts : v.series) {
    TimeSeries& out = req.series.emplace_back();
    out.labels = ToLabels(v.LabelsOf(ts));
    auto samples = v.SamplesOf(ts);
    out.samples.assign(samples.begin(), samples.end());
    for (const auto& e : v.ExemplarsOf(ts)) {
      out.exemplars.push_back({ToLabels(v.LabelsOf(e)), e.value, e.t});
    }
    for (const auto& h : v.HistogramsOf(ts)) {
      if (h.h) out.histograms.push_back({h.t, h.h});
    }
  }
  req.metadata.reserve(v.metadata.size());
  for (const auto& m : v.metadata) {
    req.metadata.push_back(
        {m.type, std::string(m.family), std::string(m.help), std::string(m.unit)});
  }
  return req;
}

std::string EncodeWriteRequest(const WriteRequest& req) {
  std::string out;
  for (const auto& ts : req.series) {
    AppendTimeSeries(out, EncodeLabels(ViewOf(ts.labels)), ts.samples,
                     EncodeExemplars(ts.exemplars) + EncodeHistograms(ts.histograms));
  }
  for (const auto& md : req.metadata) {
    std::string m;
    PutVarintField(m, kMetaType, static_cast<uint64_t>(md.type));
    PutBytesField(m, kMetaFamily, md.family);
    PutBytesField(m, kMetaHelp, md.help);
    PutBytesField(m, kMetaUnit, md.unit);
    PutBytesField(out, kReqMetadata, m);
  }
  return out;
}

std::string SnappyCompress(std::string_view data) {
  // snappy::Compress into a string first zero-fills the worst case (more than the input); this
  // compresses into a reused buffer and copies out the result, a fraction of the input. A
  // thread keeps the buffer up to 1 MiB.
  constexpr size_t kKept = 1 << 20;
  thread_local std::unique_ptr<char[]> kept;
  thread_local size_t kept_size = 0;
  const size_t max = snappy::MaxCompressedLength(data.size());
  std::unique_ptr<char[]> once;
  char* buf = nullptr;
  if (max <= kept_size) {
    buf = kept.get();
  } else if (max <= kKept) {
    kept = std::make_unique_for_overwrite<char[]>(max);
    kept_size = max;
    buf = kept.get();
  } else {
    once = std::make_unique_for_overwrite<char[]>(max);
    buf = once.get();
  }
  size_t n = 0;
  snappy::RawCompress(data.data(), data.size(), buf, &n);
  return {buf, n};
}

}  // namespace strata::proto
