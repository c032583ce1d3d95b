// Checkpointing the metrics head: its series, chunks and metadata as WAL records
// (wal::Wal::Checkpoint; docs/format/wal.md).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/mutex.h"
#include "tsdb/chunkenc/xor.h"
#include "tsdb/db.h"
#include "tsdb/wal_record.h"
#include "wal/frame.h"

namespace strata::tsdb {

Status Db::MaybeCheckpoint() {
  uint64_t grown = wal_->appended_lsn() - lsn_at_checkpoint_.load();
  if (grown < std::max(opts_.checkpoint_min_bytes, last_checkpoint_bytes_.load())) {
    return Status::Ok();
  }
  return Checkpoint();
}

Status Db::Checkpoint() {
  MutexLock cp_lock(checkpoint_mu_);
  auto start = std::chrono::steady_clock::now();
  uint32_t first_kept;
  uint64_t lsn;
  RETURN_IF_ERROR(wal_->Admit().Annotate("checkpoint skipped"));
  {
    // Everything applied to the head so far goes to segments before `first_kept`.
    MutexLock lk(commit_mu_);
    ASSIGN_OR_RETURN(first_kept, wal_->Rotate());
    lsn = wal_->appended_lsn();
  }
  // Samples logged after the rotation may also be in this snapshot; replay treats the
  // repeats as duplicates.
  uint64_t series_count = 0;
  auto written = wal_->Checkpoint(first_kept, [&](wal::CheckpointWriter& writer) {
    Status st;
    std::string frames;
    head_.ForEachSeries([&](const MemSeries& s) {
      if (!st.ok()) return;
      ++series_count;
      std::string payload;
      std::vector<LabelView> labels;
      for (const auto& l : s.labels()) labels.push_back({l.name.view(), l.value.view()});
      index::EncodeSeries(payload, s.ref(), labels);
      wal::AppendFrame(frames, kSeriesRecord, payload);
      {
        wal::RecordBuilder chunks(kChunkRecord, frames);
        s.ForEachChunk([&](int64_t mint, int64_t maxt, std::span<const uint8_t> bytes) {
          EncodeChunk(
              chunks.payload(),
              {s.ref(), mint, maxt,
               std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())});
          chunks.EndEntry();
        });
      }
      if (const auto* ooo = s.ooo_samples()) {
        wal::RecordBuilder samples(kSamplesRecord, frames);
        for (const auto& smp : *ooo) {
          EncodeSample(samples.payload(), {s.ref(), smp.t, smp.v});
          samples.EndEntry();
        }
      }
      {
        // Histogram chunks as they are, then late histograms in runs that share a chunk.
        wal::RecordBuilder histograms(kHistogramsRecord, frames);
        s.ForEachHistogramChunk([&](int64_t, int64_t, std::span<const uint8_t> bytes) {
          EncodeHistogramChunk(histograms.payload(), s.ref(), bytes);
          histograms.EndEntry();
        });
        std::span<const histogram::HistogramSample> rest;
        if (const auto* ooo = s.ooo_histograms()) rest = *ooo;
        while (!rest.empty()) {
          size_t n = EncodeHistograms(histograms.payload(), s.ref(), rest,
                                      static_cast<size_t>(chunkenc::kSamplesPerChunk));
          if (n > 0) histograms.EndEntry();
          // Ingest lets in only histograms a chunk holds, so n is never 0; were it, the
          // histogram is skipped rather than the checkpoint stalled.
          rest = rest.subspan(std::max<size_t>(n, 1));
        }
      }
      if (frames.size() >= wal::RecordBuilder::kTargetRecordSize) {
        st = writer.Add(frames);
        frames.clear();
      }
    });
    // Exemplars follow every series record; those of series no longer in the head go, as in
    // Prometheus's checkpoints.
    if (st.ok()) {
      wal::RecordBuilder rec(kExemplarsRecord, frames);
      head_.exemplars().ForEach([&](const SeriesExemplars& se) {
        const std::vector<LabelView> labels = ViewOf(se.series);
        const MemSeries* s = head_.Find(HashLabels(labels), labels);
        if (s == nullptr) return;
        for (const Exemplar& e : se.exemplars) {
          EncodeExemplar(rec.payload(), s->ref(), e.t, e.value, ViewOf(e.labels));
          rec.EndEntry();
        }
      });
    }
    {
      wal::RecordBuilder md(kMetadataRecord, frames);
      for (const auto& [family, m] : Metadata()) {
        EncodeMetadata(md.payload(), {family, m.type, m.unit, m.help});
        md.EndEntry();
      }
    }
    if (st.ok()) st = writer.Add(frames);
    return st;
  });
  if (!written.ok()) return written.status();
  lsn_at_checkpoint_ = lsn;
  last_checkpoint_bytes_ = *written;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  spdlog::info(
      "msg=\"WAL checkpoint written\" tenant={} checkpoint={} series={} bytes={} duration_ms={}",
      name_, first_kept - 1, series_count, *written, ms);
  return Status::Ok();
}

}  // namespace strata::tsdb
