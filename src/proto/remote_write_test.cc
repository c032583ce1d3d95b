#include "proto/remote_write.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace strata::proto {
namespace {

std::string Hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

TEST(RemoteWrite, DecodesHandWrittenWireBytes) {
  // WriteRequest{timeseries: [{labels: [{name:"a", value:"b"}], samples: [{value: 1.0,
  // timestamp: 1}]}], metadata: [{type: COUNTER, metric_family_name: "a", help: "h"}]},
  // written out by hand from the protobuf encoding rules.
  std::string label =
      Hex("0a01611201"
          "62");
  std::string sample =
      Hex("09000000000000f03f"
          "1001");
  std::string ts = Hex("0a06") + label + Hex("120b") + sample;
  std::string md =
      Hex("0801"
          "120161"
          "220168");
  std::string req = Hex("0a15") + ts + Hex("1a08") + md;
  auto r = DecodeWriteRequest(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->series.size(), 1u);
  auto labels = r->LabelsOf(r->series[0]);
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0].name, "a");
  EXPECT_EQ(labels[0].value, "b");
  auto samples = r->SamplesOf(r->series[0]);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].t, 1);
  EXPECT_EQ(samples[0].v, 1.0);
  ASSERT_EQ(r->metadata.size(), 1u);
  EXPECT_EQ(r->metadata[0].type, MetricType::kCounter);
  EXPECT_EQ(r->metadata[0].family, "a");
  EXPECT_EQ(r->metadata[0].help, "h");
  // Our encoder produces the same bytes.
  WriteRequest owned;
  owned.series.push_back({{{"a", "b"}}, {{1, 1.0}}});
  owned.metadata.push_back({MetricType::kCounter, "a", "h", ""});
  std::string enc = EncodeWriteRequest(owned);
  EXPECT_EQ(enc.substr(0, 0x17), req.substr(0, 0x17));
}

TEST(RemoteWrite, LabelsAndSamplesInEveryEncodingShape) {
  // The usual shape (name then value, short lengths; value then timestamp) and the others a
  // protobuf writer may produce, written by hand: each decodes to what it says.
  const std::string long_name(200, 'n');  // its length takes two varint bytes
  const std::string labels[] = {
      Hex("0a01611201") + "b",                    // a="b"
      Hex("0a0163"),                              // c="" (an empty value is omitted)
      Hex("120165") + Hex("0a0164"),              // d="e", value first
      Hex("0a01661201") + "g" + Hex("1801"),      // f="g" and an unknown field 3
      Hex("0ac801") + long_name + Hex("120168"),  // <200 n's>="h"
      Hex("0a0169120a") + "j",                    // i=<value length past the end>
  };
  const std::string samples[] = {
      Hex("09000000000000f03f1001"),                    // {1.0, t=1}
      Hex("09000000000000f03f"),                        // {1.0, t=0}: t omitted
      Hex("1002") + Hex("090000000000000040"),          // {2.0, t=2}, timestamp first
      Hex("0900000000000008401080"),                    // {3.0, <truncated varint>}
      Hex("09000000000000f03f10ffffffffffffffffff01"),  // {1.0, t=-1}
  };
  auto field = [](char key, const std::string& bytes) {
    std::string out(1, key);
    for (size_t n = bytes.size();; n >>= 7) {
      out += static_cast<char>(n < 0x80 ? n : (n & 0x7f) | 0x80);
      if (n < 0x80) break;
    }
    return out + bytes;
  };
  std::string req;  // the decoded views point into it
  auto decode = [&](const std::string& label, const std::string& sample) {
    req = field(0x0a, field(0x0a, label) + field(0x12, sample));
    return DecodeWriteRequest(req);
  };
  const std::pair<std::string, std::string> want_labels[] = {
      {"a", "b"}, {"c", ""}, {"d", "e"}, {"f", "g"}, {long_name, "h"}};
  for (size_t i = 0; i < std::size(labels); ++i) {
    auto r = decode(labels[i], samples[0]);
    if (i == std::size(labels) - 1) {
      EXPECT_FALSE(r.ok()) << "label " << i;
      continue;
    }
    ASSERT_TRUE(r.ok()) << "label " << i << ": " << r.status().ToString();
    auto l = r->LabelsOf(r->series[0]);
    ASSERT_EQ(l.size(), 1u) << "label " << i;
    EXPECT_EQ(l[0].name, want_labels[i].first) << "label " << i;
    EXPECT_EQ(l[0].value, want_labels[i].second) << "label " << i;
  }
  const Sample want_samples[] = {{1, 1.0}, {0, 1.0}, {2, 2.0}, {0, 0}, {-1, 1.0}};
  for (size_t i = 0; i < std::size(samples); ++i) {
    auto r = decode(labels[0], samples[i]);
    if (i == 3) {
      EXPECT_FALSE(r.ok()) << "sample " << i;
      continue;
    }
    ASSERT_TRUE(r.ok()) << "sample " << i << ": " << r.status().ToString();
    auto s = r->SamplesOf(r->series[0]);
    ASSERT_EQ(s.size(), 1u) << "sample " << i;
    EXPECT_EQ(s[0].t, want_samples[i].t) << "sample " << i;
    EXPECT_EQ(s[0].v, want_samples[i].v) << "sample " << i;
  }
}

TEST(RemoteWrite, RoundTripWithNegativeTimesAndUnknownFields) {
  WriteRequest w;
  w.series.push_back(
      {{{"__name__", "up"}, {"job", "x"}}, {{-5, 1}, {0, 0}, {1'700'000'000'000, NAN}}});
  w.series.push_back({{{"__name__", "empty"}}, {}});
  std::string data = EncodeWriteRequest(w);
  // An unknown varint field (number 15) and an unknown length field (number 9) are skipped.
  data += Hex("7801") + Hex("4a03616263");
  auto r = DecodeWriteRequest(data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->series.size(), 2u);
  auto s = r->SamplesOf(r->series[0]);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].t, -5);
  EXPECT_EQ(s[1].t, 0);
  EXPECT_TRUE(std::isnan(s[2].v));
  EXPECT_EQ(r->SamplesOf(r->series[1]).size(), 0u);
}

// An owned request seen through AsView is what decoding its wire form gives.
TEST(RemoteWrite, AsViewMatchesTheDecodedWireForm) {
  WriteRequest w;
  w.series.push_back({{{"__name__", "up"}, {"job", "x"}}, {{-5, 1}, {7, 2.5}}});
  w.series.push_back({{{"__name__", "empty"}}, {}});
  w.series.push_back({{{"__name__", "b"}, {"le", "+Inf"}}, {{3, 4}}});
  w.metadata.push_back({MetricType::kGauge, "up", "help text", "seconds"});
  std::string data = EncodeWriteRequest(w);
  auto decoded = DecodeWriteRequest(data);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  WriteRequestView view = AsView(w);
  ASSERT_EQ(view.series.size(), decoded->series.size());
  for (size_t i = 0; i < view.series.size(); ++i) {
    auto a = view.LabelsOf(view.series[i]), b = decoded->LabelsOf(decoded->series[i]);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << i;
    auto sa = view.SamplesOf(view.series[i]), sb = decoded->SamplesOf(decoded->series[i]);
    ASSERT_EQ(sa.size(), sb.size()) << i;
    for (size_t j = 0; j < sa.size(); ++j) {
      EXPECT_EQ(sa[j].t, sb[j].t);
      EXPECT_EQ(sa[j].v, sb[j].v);
    }
  }
  ASSERT_EQ(view.metadata.size(), 1u);
  EXPECT_EQ(view.metadata[0].type, decoded->metadata[0].type);
  EXPECT_EQ(view.metadata[0].family, decoded->metadata[0].family);
  EXPECT_EQ(view.metadata[0].help, decoded->metadata[0].help);
  EXPECT_EQ(view.metadata[0].unit, decoded->metadata[0].unit);
}

TEST(RemoteWrite, EveryTruncationFailsCleanly) {
  WriteRequest w;
  w.series.push_back({{{"__name__", "up"}, {"instance", "host:9100"}}, {{1000, 1}, {2000, 2}}});
  std::string data = EncodeWriteRequest(w);
  for (size_t cut = 1; cut < data.size(); ++cut) {
    auto r = DecodeWriteRequest(std::string_view(data.data(), cut));
    EXPECT_FALSE(r.ok()) << "cut=" << cut;
  }
}

// The scan accepts exactly what the decoder accepts, with the same error, and counts what the
// decoder returns.
void ExpectScanAgrees(std::string_view data) {
  auto d = DecodeWriteRequest(data);
  auto c = ScanWriteRequest(data);
  ASSERT_EQ(d.ok(), c.ok());
  if (!d.ok()) {
    EXPECT_EQ(d.status().ToString(), c.status().ToString());
    return;
  }
  EXPECT_EQ(c->series, d->series.size());
  EXPECT_EQ(c->samples, d->samples.size());
  EXPECT_EQ(c->histograms, d->histograms.size());
  EXPECT_EQ(c->exemplars, d->exemplars.size());
  EXPECT_EQ(c->metadata, d->metadata.size());
}

// prometheus.Exemplar (labels 1, value 2, timestamp 3) in TimeSeries field 3, the bytes
// worked out by hand from remote write 1.0's types.proto.
TEST(RemoteWrite, Exemplars) {
  const std::string label_ab = Hex("0a0161") + Hex("120162");
  const std::string trace_x = Hex("0a08") + "trace_id" + Hex("120178");
  const std::string exemplar =
      Hex("0a0d") + trace_x + Hex("11000000000000f03f") + Hex("1805");         // 26 bytes
  const std::string series = Hex("0a06") + label_ab + Hex("1a1a") + exemplar;  // 36 bytes
  const std::string data = Hex("0a24") + series;
  auto d = DecodeWriteRequest(data);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->series.size(), 1u);
  auto ex = d->ExemplarsOf(d->series[0]);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].value, 1.0);
  EXPECT_EQ(ex[0].t, 5);
  auto labels = d->LabelsOf(ex[0]);
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0].name, "trace_id");
  EXPECT_EQ(labels[0].value, "x");
  EXPECT_EQ(d->LabelsOf(d->series[0]).size(), 1u);
  ExpectScanAgrees(data);
  WriteRequest w;
  w.series.push_back({{{"a", "b"}}, {}, {{{{"trace_id", "x"}}, 1.0, 5}}});
  EXPECT_EQ(EncodeWriteRequest(w), data);
  for (size_t cut = 1; cut < data.size(); ++cut) ExpectScanAgrees(data.substr(0, cut));
}

TEST(RemoteWrite, ScanAgreesWithDecode) {
  WriteRequest w;
  w.series.push_back({{{"__name__", "up"}, {"job", "x"}}, {{1000, 1}, {2000, 2}, {3000, 3}}});
  w.series.push_back({{{"__name__", "empty"}}, {}});
  w.metadata.push_back({MetricType::kGauge, "up", "help", ""});
  std::string data = EncodeWriteRequest(w);
  data += Hex("0a04") + Hex("2202") + Hex("0801");  // a series with one histogram sample
  auto c = ScanWriteRequest(data);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->series, 3u);
  EXPECT_EQ(c->samples, 3u);
  EXPECT_EQ(c->histograms, 1u);
  EXPECT_EQ(c->metadata, 1u);
  ExpectScanAgrees(data);
  for (size_t cut = 1; cut < data.size(); ++cut) ExpectScanAgrees(data.substr(0, cut));
  std::mt19937 rng(2);
  for (int i = 0; i < 5000; ++i) {
    std::string mutated = data;
    mutated[rng() % mutated.size()] = static_cast<char>(rng());
    ExpectScanAgrees(mutated);
  }
}

TEST(RemoteWrite, SnappyLimits) {
  std::string payload(100000, 'x');
  std::string compressed = SnappyCompress(payload);
  std::string out;
  EXPECT_TRUE(SnappyDecompress(compressed, 100000, out).ok());
  EXPECT_EQ(out, payload);
  EXPECT_TRUE(SnappyDecompress(SnappyCompress("tail"), 100, out).ok());  // appends
  EXPECT_EQ(out, payload + "tail");
  auto st = SnappyDecompress(compressed, 99999, out);
  EXPECT_EQ(st.code(), Status::Code::kTooLarge);
  EXPECT_EQ(SnappyDecompress("not snappy at all", 1 << 20, out).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(out, payload + "tail");  // unchanged by failures
}

// SnappyCompress writes what snappy's own string API writes, whatever the size (its buffer is
// reused, grown, or, past 1 MiB, made for one call), and the output decompresses to the input.
TEST(RemoteWrite, SnappyCompressAsSnappyDoes) {
  std::mt19937 rng(7);
  for (size_t size : std::vector<size_t>{0, 1, 100, 5000, 200, 300000, 3u << 20, 50, 1u << 20}) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>("abcdefgh"[rng() % 8]);
    std::string want;
    snappy::Compress(data.data(), data.size(), &want);
    std::string got = SnappyCompress(data);
    EXPECT_EQ(got, want) << size;
    std::string back;
    ASSERT_TRUE(SnappyDecompress(got, size, back).ok()) << size;
    EXPECT_EQ(back, data) << size;
  }
}

// Remote write 2.0, the bytes worked out by hand from io.prometheus.write.v2's types.proto:
// symbols (field 4) "", __name__, up, job, x, trace_id, t1, "help text", seconds; one series
// (field 5) with labels_refs [1 2 3 4] packed, a sample (1 at 1000 ms), an exemplar
// (labels_refs [5 6], value 2 at 1000 ms) and metadata (GAUGE, help_ref 7, unit_ref 8).
std::string V2Symbols() {
  std::string out;
  for (const char* s :
       {"", "__name__", "up", "job", "x", "trace_id", "t1", "help text", "seconds"}) {
    out += Hex("22") + static_cast<char>(std::string_view(s).size()) + s;
  }
  return out;
}
std::string V2Series(std::string_view label_refs) {
  const std::string sample = Hex("09000000000000f03f") + Hex("10e807");  // 12 bytes
  const std::string exemplar = Hex("0a020506") + Hex("110000000000000040") + Hex("18e807");
  const std::string metadata = Hex("0802") + Hex("1807") + Hex("2008");
  std::string ts = std::string(label_refs) + Hex("120c") + sample + Hex("2210") + exemplar +
                   Hex("2a06") + metadata;
  return Hex("2a") + static_cast<char>(ts.size()) + ts;
}

TEST(RemoteWriteV2, DecodesHandWrittenWireBytes) {
  // The series before the symbols: a sender may order them so.
  const std::string data = V2Series(Hex("0a0401020304")) + V2Symbols();
  auto d = DecodeWriteRequestV2(data);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->series.size(), 1u);
  const auto& ts = d->series[0];
  auto labels = d->LabelsOf(ts);
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0], (LabelView{"__name__", "up"}));
  EXPECT_EQ(labels[1], (LabelView{"job", "x"}));
  auto samples = d->SamplesOf(ts);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].t, 1000);
  EXPECT_EQ(samples[0].v, 1.0);
  auto ex = d->ExemplarsOf(ts);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].value, 2.0);
  EXPECT_EQ(ex[0].t, 1000);
  ASSERT_EQ(d->LabelsOf(ex[0]).size(), 1u);
  EXPECT_EQ(d->LabelsOf(ex[0])[0], (LabelView{"trace_id", "t1"}));
  ASSERT_EQ(d->metadata.size(), 1u);
  EXPECT_EQ(d->metadata[0].type, MetricType::kGauge);
  EXPECT_EQ(d->metadata[0].family, "up");
  EXPECT_EQ(d->metadata[0].help, "help text");
  EXPECT_EQ(d->metadata[0].unit, "seconds");
  // Refs written one by one (not packed) read the same.
  const std::string unpacked_data = V2Symbols() + V2Series(Hex("0801080208030804"));
  auto unpacked = DecodeWriteRequestV2(unpacked_data);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(std::vector<LabelView>(unpacked->labels), std::vector<LabelView>(d->labels));
  for (size_t cut = 1; cut < data.size(); ++cut) {
    auto r = DecodeWriteRequestV2(std::string_view(data.data(), cut));
    EXPECT_TRUE(!r.ok() || r->series.empty()) << "cut=" << cut;
  }
}

// A view decoded into again holds only the new request, as a fresh decode does.
TEST(RemoteWriteV2, DecodingIntoAUsedViewReplacesItsContent) {
  WriteRequest w;
  w.series.push_back({{{"__name__", "up"}, {"job", "x"}}, {{-5, 1}, {7, 2.5}}});
  w.series.push_back({{{"__name__", "b"}, {"le", "+Inf"}}, {{3, 4}}});
  w.metadata.push_back({MetricType::kGauge, "up", "help text", "seconds"});
  const std::string v1 = EncodeWriteRequest(w);
  const std::string v2 = V2Series(Hex("0a0401020304")) + V2Symbols();
  WriteRequestView view;
  ASSERT_TRUE(DecodeWriteRequest(v1, view).ok());
  ASSERT_TRUE(DecodeWriteRequestV2(v2, view).ok());
  auto fresh = DecodeWriteRequestV2(v2);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(view.series.size(), fresh->series.size());
  EXPECT_EQ(std::vector<LabelView>(view.labels), std::vector<LabelView>(fresh->labels));
  ASSERT_EQ(view.samples.size(), fresh->samples.size());
  EXPECT_EQ(view.samples[0].t, fresh->samples[0].t);
  EXPECT_EQ(view.exemplars.size(), fresh->exemplars.size());
  EXPECT_EQ(std::vector<LabelView>(view.exemplar_labels),
            std::vector<LabelView>(fresh->exemplar_labels));
  ASSERT_EQ(view.metadata.size(), 1u);
  EXPECT_EQ(view.metadata[0].family, "up");
  EXPECT_EQ(view.metadata[0].help, "help text");
  // And back: the 1.0 request alone.
  ASSERT_TRUE(DecodeWriteRequest(v1, view).ok());
  EXPECT_EQ(view.series.size(), 2u);
  EXPECT_EQ(view.samples.size(), 3u);
  EXPECT_TRUE(view.exemplars.empty());
  EXPECT_TRUE(view.exemplar_labels.empty());
  EXPECT_GT(view.CapacityBytes(), 0u);
  view.Clear();
  EXPECT_TRUE(view.series.empty() && view.labels.empty() && view.metadata.empty());
}

TEST(RemoteWriteV2, RefusesRefsOutsideTheTable) {
  auto odd = DecodeWriteRequestV2(V2Symbols() + V2Series(Hex("0a03010203")));
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(),
            "malformed remote write 2.0 protobuf: TimeSeries labels_refs has an odd length (3)");
  auto outside = DecodeWriteRequestV2(V2Symbols() + V2Series(Hex("0a0401020363")));
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.status().message(),
            "malformed remote write 2.0 protobuf: TimeSeries labels_refs 3 (name) = 99 (value) "
            "outside of the symbols table (size 9)");
  EXPECT_EQ(outside.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata::proto
