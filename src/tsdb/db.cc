#include "tsdb/db.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/mutex.h"
#include "tsdb/chunkenc/histogram.h"
#include "tsdb/wal_record.h"
#include "wal/frame.h"

namespace strata::tsdb {
namespace {

// Replay accepts every logged sample however late: it was accepted when it was written, and
// the out-of-order window may have shrunk since.
constexpr int64_t kReplayOooWindow = INT64_MAX / 4;

}  // namespace

Db::Db(std::string dir, DbOptions opts, std::string name)
    : dir_(std::move(dir)),
      opts_(std::move(opts)),
      name_(std::move(name)),
      head_(opts_.max_exemplars) {}

Db::~Db() { (void)Close(); }

Status Db::ApplyRecord(Replay& replay, Head& head, std::map<std::string, MetricMetadata>& metadata,
                       wal::RecordType type, std::string_view payload) {
  switch (type) {
    case kSeriesRecord:
      return replay.Apply(payload);
    case kSamplesRecord: {
      std::vector<RefSample> samples;
      RETURN_IF_ERROR(DecodeSamples(payload, samples));
      for (const auto& s : samples) {
        if (MemSeries* ms = replay.ByRef(s.ref)) head.Append(*ms, s.t, s.v, kReplayOooWindow);
      }
      return Status::Ok();
    }
    case kHistogramsRecord: {
      std::vector<RefHistograms> entries;
      RETURN_IF_ERROR(DecodeHistograms(payload, entries));
      for (const auto& e : entries) {
        MemSeries* ms = replay.ByRef(e.ref);
        if (ms == nullptr) continue;
        chunkenc::FloatHistogramIterator it(
            {reinterpret_cast<const uint8_t*>(e.chunk.data()), e.chunk.size()});
        while (it.Next()) {
          head.AppendHistogram(*ms, it.t(),
                               std::make_shared<const histogram::FloatHistogram>(it.h()),
                               kReplayOooWindow);
        }
        if (it.corrupt()) {
          return Status::Corruption(fmt::format("histograms of series {} are malformed", e.ref));
        }
      }
      return Status::Ok();
    }
    case kMetadataRecord: {
      std::vector<RefMetadata> mds;
      RETURN_IF_ERROR(DecodeMetadata(payload, mds));
      for (const auto& m : mds) {
        metadata[std::string(m.family)] = {m.type, std::string(m.unit), std::string(m.help)};
      }
      return Status::Ok();
    }
    case kExemplarsRecord: {
      std::vector<RefExemplar> exemplars;
      RETURN_IF_ERROR(DecodeExemplars(payload, exemplars));
      std::vector<LabelView> series;
      for (const auto& e : exemplars) {
        const MemSeries* ms = replay.ByRef(e.ref);
        if (ms == nullptr) continue;
        series.clear();
        for (const auto& l : ms->labels()) series.push_back({l.name.view(), l.value.view()});
        head.exemplars().Add(series, {ToLabels(e.labels), e.v, e.t});
      }
      return Status::Ok();
    }
    case kChunkRecord: {
      std::vector<RefChunk> chunks;
      RETURN_IF_ERROR(DecodeChunks(payload, chunks));
      for (const auto& c : chunks) {
        MemSeries* ms = replay.ByRef(c.ref);
        std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(c.data.data()),
                                       c.data.size());
        if (ms && !head.AddClosedChunk(*ms, c.min_t, c.max_t, bytes)) {
          return Status::Corruption(fmt::format("chunk of series {} overlaps its data", c.ref));
        }
      }
      return Status::Ok();
    }
    default:
      return Status::Corruption(fmt::format("unknown record type {}", type));
  }
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const DbOptions& opts,
                                     const std::string& name) {
  std::unique_ptr<Db> db(new Db(dir, opts, name));
  // Before replay: logged samples older than the last cut are in a block already.
  RETURN_IF_ERROR(db->LoadHeadState());
  wal::WalOptions wopts = opts.wal;
  wopts.log_name = name;
  wopts.max_record_type = kMaxRecord;
  std::map<std::string, MetricMetadata> metadata;
  Replay replay(db->head_);
  auto wal = wal::Wal::Open(
      dir + "/wal", wopts,
      [&](wal::RecordType t, std::string_view p) {
        return ApplyRecord(replay, db->head_, metadata, t, p);
      },
      &db->replay_stats_);
  if (!wal.ok()) return wal.status().Annotate(fmt::format("opening WAL of {}", name));
  db->wal_ = std::move(wal).value();
  {
    MutexLock lk(db->meta_mu_);
    db->metadata_ = std::move(metadata);
  }
  db->last_checkpoint_bytes_ = db->replay_stats_.bytes;
  return db;
}

Status Db::ReadInto(const std::string& dir, Head& head,
                    std::map<std::string, MetricMetadata>* metadata) {
  std::map<std::string, MetricMetadata> md;
  Replay replay(head);
  RETURN_IF_ERROR(wal::Wal::ReplayReadOnly(
      dir + "/wal", kMaxRecord,
      [&](wal::RecordType t, std::string_view p) { return ApplyRecord(replay, head, md, t, p); },
      nullptr));
  if (metadata) *metadata = std::move(md);
  return Status::Ok();
}

void Db::Lookup(std::span<const SeriesInput> series, SeriesLookup& out) const {
  out.removals = head_.removals();
  head_.FindMany(series, out.found);
}

Result<AppendOutcome> Db::Append(std::span<const SeriesInput> series,
                                 std::span<const MetadataInput> metadata,
                                 const AppendLimits& limits, const RejectFn& reject) {
  SeriesLookup lookup;
  Lookup(series, lookup);
  return Append(series, lookup, metadata, limits, reject);
}

Result<AppendOutcome> Db::Append(std::span<const SeriesInput> series, SeriesLookup& lookup,
                                 std::span<const MetadataInput> metadata,
                                 const AppendLimits& limits, const RejectFn& reject) {
  AppendOutcome out;
  // Lookups of existing series need no ordering: they were done before taking the commit
  // lock. A block cut removing series in between (under the lock) voids them.
  std::string frames;
  MutexLock lk(commit_mu_);
  std::vector<Head::Found>& found = lookup.found;
  if (head_.removals() != lookup.removals) std::fill(found.begin(), found.end(), Head::Found{});
  RETURN_IF_ERROR(wal_->Admit());
  {
    wal::RecordBuilder series_rec(kSeriesRecord, frames);
    std::string sample_frames, histogram_frames, exemplar_frames;
    wal::RecordBuilder sample_rec(kSamplesRecord, sample_frames);
    wal::RecordBuilder histogram_rec(kHistogramsRecord, histogram_frames);
    wal::RecordBuilder exemplar_rec(kExemplarsRecord, exemplar_frames);
    for (size_t i = 0; i < series.size(); ++i) {
      // Start fetching what the append a few series ahead touches: its series and the end
      // of its open chunk (a stale address only costs a wasted prefetch).
      if (constexpr size_t kAhead = 8; i + kAhead < series.size() && found[i + kAhead].series) {
        const auto* next = reinterpret_cast<const char*>(found[i + kAhead].series);
        __builtin_prefetch(next);
        __builtin_prefetch(next + 64);
        __builtin_prefetch(next + 128);
        const MemSeries::AppendSpots& at = found[i + kAhead].at;
        if (at.end != nullptr) {
          __builtin_prefetch(at.header, 1);
          __builtin_prefetch(at.end, 1);
          __builtin_prefetch(static_cast<const char*>(at.end) + 16, 1);
        }
      }
      const SeriesInput& in = series[i];
      if (in.samples.empty() && in.histograms.empty() && in.exemplars.empty()) continue;
      MemSeries* s = found[i].series;
      if (s == nullptr) s = head_.Find(in.hash, in.labels);
      if (s == nullptr && in.samples.empty() && in.histograms.empty()) {
        // Exemplars alone do not make a series (Prometheus needs the series first).
        out.exemplars_refused += in.exemplars.size();
        continue;
      }
      if (s == nullptr) {
        if (limits.max_series > 0 && head_.num_series() >= limits.max_series) {
          reject(i, std::nullopt, Rejection::kSeriesLimit);
          continue;
        }
        if (limits.max_series_per_metric > 0 &&
            head_.SeriesForMetric(GetLabel(in.labels, kMetricNameLabel)) >=
                limits.max_series_per_metric) {
          reject(i, std::nullopt, Rejection::kMetricSeriesLimit);
          continue;
        }
        bool created;
        s = head_.GetOrCreate(in.hash, in.labels, &created);
        if (s == nullptr) {  // 2^32 series refs used up
          reject(i, std::nullopt, Rejection::kSeriesLimit);
          continue;
        }
        if (created) {
          index::EncodeSeries(series_rec.payload(), s->ref(), in.labels);
          series_rec.EndEntry();
          ++out.series_created;
        }
      }
      if (!found[i].labels_checked) s->set_labels_checked();
      // Counts an append's outcome; true when the sample is new and must be logged.
      auto appended = [&](AppendResult r, int64_t t) {
        switch (r) {
          case AppendResult::kAppended:
            ++out.accepted;
            return true;
          case AppendResult::kDuplicate:
            ++out.duplicates;
            break;
          case AppendResult::kDuplicateTimestamp:
            reject(i, t, Rejection::kDuplicateTimestamp);
            break;
          case AppendResult::kOutOfOrder:
            reject(i, t, Rejection::kOutOfOrder);
            break;
          case AppendResult::kTooOld:
            reject(i, t, Rejection::kTooOld);
            break;
        }
        return false;
      };
      for (const Sample& smp : in.samples) {
        if (appended(head_.Append(*s, smp.t, smp.v, limits.ooo_window_ms), smp.t)) {
          EncodeSample(sample_rec.payload(), {s->ref(), smp.t, smp.v});
          sample_rec.EndEntry();
        }
      }
      for (const histogram::HistogramSample& h : in.histograms) {
        AppendResult r = head_.AppendHistogram(*s, h.t, h.h, limits.ooo_window_ms);
        if (r == AppendResult::kAppended || r == AppendResult::kDuplicate) ++out.histograms;
        if (appended(r, h.t)) {
          // Validation refused histograms a chunk cannot hold, so this always encodes.
          if (EncodeHistograms(histogram_rec.payload(), s->ref(), {&h, 1}, 1) == 1) {
            histogram_rec.EndEntry();
          }
        }
      }
      for (const ExemplarInput& e : in.exemplars) {
        Exemplar ex{ToLabels(e.labels), e.value, e.t};
        switch (head_.exemplars().Add(in.labels, ex)) {
          case ExemplarResult::kAdded:
            EncodeExemplar(exemplar_rec.payload(), s->ref(), e.t, e.value, e.labels);
            exemplar_rec.EndEntry();
            ++out.exemplars;
            break;
          case ExemplarResult::kDuplicate:
            ++out.exemplars;
            break;
          case ExemplarResult::kOutOfOrder:
          case ExemplarResult::kLabelsTooLong:
          case ExemplarResult::kDisabled:
            ++out.exemplars_refused;
            break;
        }
      }
    }
    series_rec.Flush();
    sample_rec.Flush();
    histogram_rec.Flush();
    exemplar_rec.Flush();
    frames += sample_frames;
    frames += histogram_frames;
    frames += exemplar_frames;
  }
  if (!metadata.empty()) {
    wal::RecordBuilder md_rec(kMetadataRecord, frames);
    MutexLock mlk(meta_mu_);
    for (const auto& m : metadata) {
      MetricMetadata v{m.type, std::string(m.unit), std::string(m.help)};
      auto it = metadata_.find(std::string(m.family));
      if (it != metadata_.end() && it->second == v) continue;
      metadata_[std::string(m.family)] = v;
      EncodeMetadata(md_rec.payload(), {m.family, m.type, m.unit, m.help});
      md_rec.EndEntry();
    }
  }
  out.lsn = wal_->Append(frames);
  return out;
}

std::map<std::string, MetricMetadata> Db::Metadata() const {
  MutexLock lk(meta_mu_);
  return metadata_;
}

Status Db::Close() {
  if (!wal_) return Status::Ok();
  return wal_->Close();
}

}  // namespace strata::tsdb
