#include "tsdb/wal_record.h"

#include <limits>

#include "base/coding.h"
#include "tsdb/chunkenc/histogram.h"

namespace strata::tsdb {

void EncodeSample(std::string& out, const RefSample& s) {
  PutUvarint(out, s.ref);
  PutVarint(out, s.t);
  PutDouble(out, s.v);
}

size_t EncodeHistograms(std::string& out, uint32_t ref,
                        std::span<const histogram::HistogramSample> samples, size_t max) {
  if (samples.empty()) return 0;
  std::vector<uint8_t> chunk;
  chunkenc::FloatHistogramAppender app(chunk, *samples.front().h);
  size_t n = 0;
  while (n < samples.size() && n < max && app.Append(samples[n].t, *samples[n].h)) ++n;
  if (n == 0) return 0;
  EncodeHistogramChunk(out, ref, chunk);
  return n;
}

void EncodeHistogramChunk(std::string& out, uint32_t ref, std::span<const uint8_t> chunk) {
  PutUvarint(out, ref);
  PutLengthPrefixed(out,
                    std::string_view(reinterpret_cast<const char*>(chunk.data()), chunk.size()));
}

void EncodeMetadata(std::string& out, const RefMetadata& m) {
  PutLengthPrefixed(out, m.family);
  out.push_back(static_cast<char>(m.type));
  PutLengthPrefixed(out, m.unit);
  PutLengthPrefixed(out, m.help);
}

void EncodeChunk(std::string& out, const RefChunk& c) {
  PutUvarint(out, c.ref);
  PutVarint(out, c.min_t);
  PutVarint(out, c.max_t);
  PutLengthPrefixed(out, c.data);
}

void EncodeExemplar(std::string& out, uint32_t ref, int64_t t, double v,
                    std::span<const LabelView> labels) {
  PutUvarint(out, ref);
  PutVarint(out, t);
  PutDouble(out, v);
  index::PutLabelList(out, labels);
}

namespace {

Status Corrupt(std::string_view what) {
  return Status::Corruption(std::string("malformed WAL ") + std::string(what) + " record");
}

bool ReadRef(ByteReader& r, uint32_t* ref) {
  uint64_t v;
  if (!r.ReadUvarint(&v) || v > std::numeric_limits<uint32_t>::max()) return r.Fail();
  *ref = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

Status DecodeSamples(std::string_view payload, std::vector<RefSample>& out) {
  ByteReader r(payload);
  while (!r.empty()) {
    RefSample s;
    if (!ReadRef(r, &s.ref) || !r.ReadVarint(&s.t) || !r.ReadDouble(&s.v)) {
      return Corrupt("samples");
    }
    out.push_back(s);
  }
  return Status::Ok();
}

Status DecodeHistograms(std::string_view payload, std::vector<RefHistograms>& out) {
  ByteReader r(payload);
  while (!r.empty()) {
    RefHistograms h;
    if (!ReadRef(r, &h.ref) || !r.ReadLengthPrefixed(&h.chunk)) return Corrupt("histograms");
    out.push_back(h);
  }
  return Status::Ok();
}

Status DecodeMetadata(std::string_view payload, std::vector<RefMetadata>& out) {
  ByteReader r(payload);
  while (!r.empty()) {
    RefMetadata m;
    if (!r.ReadLengthPrefixed(&m.family) || !r.ReadByte(&m.type) ||
        !r.ReadLengthPrefixed(&m.unit) || !r.ReadLengthPrefixed(&m.help)) {
      return Corrupt("metadata");
    }
    out.push_back(m);
  }
  return Status::Ok();
}

Status DecodeChunks(std::string_view payload, std::vector<RefChunk>& out) {
  ByteReader r(payload);
  while (!r.empty()) {
    RefChunk c;
    if (!ReadRef(r, &c.ref) || !r.ReadVarint(&c.min_t) || !r.ReadVarint(&c.max_t) ||
        !r.ReadLengthPrefixed(&c.data)) {
      return Corrupt("chunk");
    }
    out.push_back(c);
  }
  return Status::Ok();
}

Status DecodeExemplars(std::string_view payload, std::vector<RefExemplar>& out) {
  ByteReader r(payload);
  while (!r.empty()) {
    RefExemplar e;
    uint64_t n;
    if (!ReadRef(r, &e.ref) || !r.ReadVarint(&e.t) || !r.ReadDouble(&e.v) || !r.ReadUvarint(&n) ||
        n > r.remaining() / 2) {
      return Corrupt("exemplars");
    }
    e.labels.resize(n);
    for (auto& l : e.labels) {
      if (!r.ReadLengthPrefixed(&l.name) || !r.ReadLengthPrefixed(&l.value)) {
        return Corrupt("exemplars");
      }
    }
    out.push_back(std::move(e));
  }
  return Status::Ok();
}

}  // namespace strata::tsdb
