#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/status.h"
#include "index/series_record.h"
#include "wal/format.h"

// The records of the metrics store's WAL and their payload encodings (docs/format/wal.md).
// Encoders append to a caller-owned buffer; decoders borrow from the payload and validate every
// length. Framing is the WAL's (wal/frame.h). A kSeriesRecord's payload is
// index/series_record.h's.
namespace strata::tsdb {

inline constexpr wal::RecordType kSeriesRecord = 1;    // series refs and their label sets
inline constexpr wal::RecordType kSamplesRecord = 2;   // float samples by series ref
inline constexpr wal::RecordType kMetadataRecord = 3;  // metric family metadata
inline constexpr wal::RecordType kChunkRecord = 4;  // a complete chunk of one series (checkpoints)
inline constexpr wal::RecordType kExemplarsRecord = 5;   // exemplars by series ref
inline constexpr wal::RecordType kHistogramsRecord = 6;  // native histogram samples by series ref
inline constexpr wal::RecordType kMaxRecord = 6;

struct RefSample {
  uint32_t ref;
  int64_t t;
  double v;
};
struct RefMetadata {
  std::string_view family;
  uint8_t type;
  std::string_view unit;
  std::string_view help;
};
struct RefExemplar {
  uint32_t ref;
  int64_t t;
  double v;
  std::vector<LabelView> labels;
};
struct RefChunk {
  uint32_t ref;
  int64_t min_t;
  int64_t max_t;
  std::string_view data;
};

// Native histogram samples of one series: a float histogram chunk (chunkenc/histogram.h)
// holding one sample (appends) or a run of samples sharing a layout (checkpoints).
struct RefHistograms {
  uint32_t ref;
  std::string_view chunk;
};

void EncodeSample(std::string& out, const RefSample& s);
// One entry holding an encoded histogram chunk.
void EncodeHistogramChunk(std::string& out, uint32_t ref, std::span<const uint8_t> chunk);
// Encodes the longest run at the start of `samples` (sorted by time) that shares one chunk,
// at most `max` samples, as one entry; returns how many it took (0: none could be encoded,
// and nothing was written).
size_t EncodeHistograms(std::string& out, uint32_t ref,
                        std::span<const histogram::HistogramSample> samples, size_t max);
void EncodeMetadata(std::string& out, const RefMetadata& m);
void EncodeChunk(std::string& out, const RefChunk& c);
void EncodeExemplar(std::string& out, uint32_t ref, int64_t t, double v,
                    std::span<const LabelView> labels);

// Each decoder appends every entry of the payload to `out` and fails with kCorruption on
// malformed input.
Status DecodeSamples(std::string_view payload, std::vector<RefSample>& out);
Status DecodeHistograms(std::string_view payload, std::vector<RefHistograms>& out);
Status DecodeMetadata(std::string_view payload, std::vector<RefMetadata>& out);
Status DecodeChunks(std::string_view payload, std::vector<RefChunk>& out);
Status DecodeExemplars(std::string_view payload, std::vector<RefExemplar>& out);

}  // namespace strata::tsdb
