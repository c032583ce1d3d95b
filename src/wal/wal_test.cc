#include "wal/wal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "base/file.h"
#include "testing/temp_dir.h"
#include "wal/frame.h"
#include "wal/segment.h"

namespace strata::wal {
namespace {

// The one record type of these tests' logs.
constexpr RecordType kTestRecord = 1;

WalOptions Opts() {
  WalOptions o;
  o.max_record_type = kTestRecord;
  return o;
}

std::string Frame(const std::string& payload) {
  std::string out;
  AppendFrame(out, kTestRecord, payload);
  return out;
}

std::vector<std::string> ReplayAll(const std::string& dir, ReplayStats* stats = nullptr) {
  std::vector<std::string> out;
  auto wal = Wal::Open(
      dir, Opts(),
      [&](RecordType, std::string_view p) {
        out.emplace_back(p);
        return Status::Ok();
      },
      stats);
  EXPECT_TRUE(wal.ok()) << wal.status().ToString();
  return out;
}

TEST(Wal, ReplayEqualsWhatWasWritten) {
  testing::TempDir dir("wal");
  std::vector<std::string> written;
  {
    auto wal = Wal::Open(
        dir.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 100; ++i) {
      written.push_back("record-" + std::to_string(i) + std::string(i % 17, 'x'));
      uint64_t lsn = (*wal)->Append(Frame(written.back()));
      if (i % 10 == 0) {
        ASSERT_TRUE((*wal)->WaitDurable(lsn).ok());
      }
    }
    ASSERT_TRUE((*wal)->Close().ok());
  }
  EXPECT_EQ(ReplayAll(dir.path()), written);
  // A second open replays the same records again (plus the empty segment of the first).
  EXPECT_EQ(ReplayAll(dir.path()), written);
}

// Damages the last segment at every byte of its tail, by truncation and by a bit flip;
// replay must yield exactly the intact records before the damage and never crash.
TEST(Wal, CorruptionAtEveryByteOfTheTail) {
  testing::TempDir base("wal");
  std::vector<std::string> written;
  {
    auto wal = Wal::Open(
        base.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 6; ++i) {
      written.push_back("payload-" + std::to_string(i));
      ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(Frame(written.back()))).ok());
    }
    ASSERT_TRUE((*wal)->Close().ok());
  }
  std::string seg = base.path() + "/" + SegmentName(1);
  std::string full = *ReadFile(seg);
  size_t frame_size = Frame(written[0]).size();
  for (int mode = 0; mode < 2; ++mode) {
    for (size_t off = 0; off < full.size(); ++off) {
      testing::TempDir dir("wal");
      std::string damaged = full;
      if (mode == 0) {
        damaged.resize(off);
      } else {
        damaged[off] ^= 0x20;
      }
      std::ofstream(dir.path() + "/" + SegmentName(1), std::ios::binary) << damaged;
      ReplayStats stats;
      auto got = ReplayAll(dir.path(), &stats);
      size_t intact = off / frame_size;
      ASSERT_EQ(got.size(), intact) << "mode=" << mode << " off=" << off;
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], written[i]);
      // The repair truncated the damage away: a further open sees a clean log.
      ReplayStats again;
      EXPECT_EQ(ReplayAll(dir.path(), &again).size(), intact);
      EXPECT_EQ(again.truncated_bytes, 0u);
    }
  }
}

bool AllZeros(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

// The current segment's file runs on in zeros past its records; sealing it (a rotation, a
// close) cuts them off.
TEST(Wal, OnlyTheCurrentSegmentRunsOnInZeros) {
  testing::TempDir dir("wal");
  auto wal = Wal::Open(
      dir.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
  ASSERT_TRUE(wal.ok());
  std::string frames = Frame("first") + Frame(std::string(5000, 'x'));
  ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(frames)).ok());
  EXPECT_EQ((*wal)->stats().current_segment_bytes, frames.size());
  std::string first = *ReadFile(dir.path() + "/" + SegmentName(1));
  ASSERT_GT(first.size(), frames.size());
  EXPECT_EQ(first.substr(0, frames.size()), frames);
  EXPECT_TRUE(AllZeros(std::string_view(first).substr(frames.size())));

  auto next = (*wal)->Rotate();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*wal)->stats().current_segment_bytes, 0u);
  EXPECT_EQ(*ReadFile(dir.path() + "/" + SegmentName(1)), frames);
  std::string later = Frame("later");
  ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(later)).ok());
  EXPECT_GT(ReadFile(dir.path() + "/" + SegmentName(*next))->size(), later.size());
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_EQ(*ReadFile(dir.path() + "/" + SegmentName(*next)), later);
}

// A crash leaves the zeros behind: replay reads them as the log's end, not as damage, and
// seals the segment; a torn record before them is damage as ever.
TEST(Wal, ReplayReadsZerosAfterTheRecordsAsTheEnd) {
  testing::TempDir base("wal");
  std::vector<std::string> written = {"a", "bb", std::string(3000, 'c')};
  std::string crashed;
  {
    auto wal = Wal::Open(
        base.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
    ASSERT_TRUE(wal.ok());
    for (const auto& w : written) ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(Frame(w))).ok());
    crashed = *ReadFile(base.path() + "/" + SegmentName(1));  // as a crash would leave it
    ASSERT_TRUE((*wal)->Close().ok());
  }
  size_t records = Frame(written[0]).size() + Frame(written[1]).size() + Frame(written[2]).size();
  ASSERT_GT(crashed.size(), records);

  testing::TempDir dir("wal");
  std::string seg = dir.path() + "/" + SegmentName(1);
  std::ofstream(seg, std::ios::binary) << crashed;
  std::vector<std::string> got;
  ReplayStats stats;
  ASSERT_TRUE(Wal::ReplayReadOnly(
                  dir.path(), kTestRecord,
                  [&](RecordType, std::string_view p) {
                    got.emplace_back(p);
                    return Status::Ok();
                  },
                  &stats)
                  .ok());
  EXPECT_EQ(got, written);
  EXPECT_EQ(stats.truncated_bytes, 0u);
  EXPECT_EQ(ReadFile(seg)->size(), crashed.size());  // read-only: left as it was

  stats = {};
  EXPECT_EQ(ReplayAll(dir.path(), &stats), written);
  EXPECT_EQ(stats.truncated_bytes, 0u);
  EXPECT_EQ(ReadFile(seg)->size(), records);

  // The first bytes of a fourth record reached the disk, the rest of it did not.
  testing::TempDir torn_dir("wal");
  std::string torn = crashed;
  std::string fourth = Frame("dddd");
  torn.replace(records, 6, fourth.substr(0, 6));
  std::ofstream(torn_dir.path() + "/" + SegmentName(1), std::ios::binary) << torn;
  stats = {};
  EXPECT_EQ(ReplayAll(torn_dir.path(), &stats), written);
  EXPECT_EQ(stats.truncated_bytes, torn.size() - records);
}

TEST(Wal, CorruptMiddleSegmentDropsLaterSegments) {
  testing::TempDir dir("wal");
  {
    WalOptions opts = Opts();
    opts.segment_size = 1;  // every flush fills a segment
    auto wal = Wal::Open(
        dir.path(), opts, [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(Frame("r" + std::to_string(i)))).ok());
    }
    ASSERT_TRUE((*wal)->Close().ok());
  }
  auto segs = *ListSegments(dir.path());
  ASSERT_GE(segs.size(), 3u);
  ASSERT_EQ(::truncate((dir.path() + "/" + SegmentName(2)).c_str(), 3), 0);
  ReplayStats stats;
  auto got = ReplayAll(dir.path(), &stats);
  EXPECT_EQ(got, std::vector<std::string>{"r0"});
  EXPECT_GE(stats.removed_segments, 1u);
}

TEST(Wal, ConcurrentAppendsShareFsyncs) {
  testing::TempDir dir("wal");
  auto wal = Wal::Open(
      dir.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
  ASSERT_TRUE(wal.ok());
  constexpr int kThreads = 8, kPerThread = 200;
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t lsn = (*wal)->Append(Frame(std::to_string(t) + ":" + std::to_string(i)));
        if ((*wal)->WaitDurable(lsn).ok()) acked++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(acked.load(), kThreads * kPerThread);
  EXPECT_LT((*wal)->stats().fsyncs, static_cast<uint64_t>(kThreads * kPerThread));
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_EQ(ReplayAll(dir.path()).size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(Wal, RotateSeparatesEarlierRecords) {
  testing::TempDir dir("wal");
  auto wal = Wal::Open(
      dir.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
  ASSERT_TRUE(wal.ok());
  (*wal)->Append(Frame("old"));
  auto next = (*wal)->Rotate();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 2u);
  ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(Frame("new"))).ok());
  ASSERT_TRUE((*wal)->RemoveSegmentsBefore(*next).ok());
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_EQ(ReplayAll(dir.path()), std::vector<std::string>{"new"});
}

TEST(Wal, RelaxedModeAcksAfterWrite) {
  testing::TempDir dir("wal");
  WalOptions opts = Opts();
  opts.sync_on_commit = false;
  opts.fsync_interval_ms = 20;
  auto wal = Wal::Open(
      dir.path(), opts, [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
  ASSERT_TRUE(wal.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(Frame(std::to_string(i)))).ok());
  }
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_EQ(ReplayAll(dir.path()).size(), 50u);
}

// A disk that refuses writes (simulated with RLIMIT_FSIZE, which fails writes past a size as
// a full disk does) turns into back-pressure: nothing is acknowledged, nothing is dropped, a
// rotation gives up instead of blocking, and everything is written once the disk recovers.
TEST(Wal, FailingWritesAreRetriedNeverDropped) {
  testing::TempDir dir("wal");
  auto wal = Wal::Open(
      dir.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->WaitDurable((*wal)->Append(Frame("before"))).ok());
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit tight = old;
  tight.rlim_cur = 1;  // the segment already holds more: every further write fails
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);

  std::atomic<bool> acked{false};
  uint64_t lsn = (*wal)->Append(Frame("during"));
  (*wal)->WhenDurable(lsn, [&](const Status& st) { acked = st.ok(); });
  for (int i = 0; i < 200 && (*wal)->Admit().ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*wal)->Admit().code(), Status::Code::kUnavailable);
  EXPECT_FALSE(acked.load());
  EXPECT_FALSE((*wal)->Rotate(200).ok());
  EXPECT_GT((*wal)->stats().write_errors, 0u);

  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ASSERT_TRUE((*wal)->WaitDurable(lsn).ok());
  EXPECT_TRUE(acked.load());
  EXPECT_TRUE((*wal)->Admit().ok());
  ASSERT_TRUE((*wal)->Close().ok());
  ::signal(SIGXFSZ, SIG_DFL);
  EXPECT_EQ(ReplayAll(dir.path()), (std::vector<std::string>{"before", "during"}));
}

TEST(Wal, AppendAfterCloseIsRefused) {
  testing::TempDir dir("wal");
  auto wal = Wal::Open(
      dir.path(), Opts(), [](RecordType, std::string_view) { return Status::Ok(); }, nullptr);
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_EQ((*wal)->Admit().code(), Status::Code::kUnavailable);
  EXPECT_FALSE((*wal)->WaitDurable((*wal)->Append(Frame("x")) + 1).ok());
}

}  // namespace
}  // namespace strata::wal
