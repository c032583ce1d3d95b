#include "agent/queue/queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "testing/temp_dir.h"
#include "wal/segment.h"

namespace strata::agent {
namespace {
namespace fs = std::filesystem;

class QueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<DurableQueue> Open(QueueOptions opts = {}) {
    opts.name = "test";
    auto q = DurableQueue::Open(dir_.path(), opts);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(*q) : nullptr;
  }

  static QueueRecord Rec(int i, size_t body_bytes = 100) {
    QueueRecord r;
    r.kind = i % 2 ? ItemKind::kOtlpLogs : ItemKind::kRemoteWrite;
    r.tenant = "tenant-" + std::to_string(i % 3);
    r.items = static_cast<uint32_t>(i + 1);
    r.received_ms = 1'700'000'000'000 + i;
    r.body = std::to_string(i) + std::string(body_bytes, 'x');
    return r;
  }

  // Appends and waits until durable.
  static Status AppendSync(DurableQueue& q, const QueueRecord& r) {
    std::promise<Status> p;
    Status st = q.Append(r, [&p](const Status& s) { p.set_value(s); });
    if (!st.ok()) return st;
    return p.get_future().get();
  }

  // Reads everything currently queued.
  static std::vector<QueuedRecord> Drain(DurableQueue& q, bool ack) {
    std::vector<QueuedRecord> all;
    while (true) {
      auto batch = q.Read(4096, 50);
      EXPECT_TRUE(batch.ok());
      if (!batch.ok() || batch->empty()) break;
      if (ack) {
        EXPECT_TRUE(q.Ack(batch->back().end).ok());
      }
      for (auto& r : *batch) all.push_back(std::move(r));
    }
    return all;
  }

  testing::TempDir dir_{"queue"};
};

TEST_F(QueueTest, ReadsInOrderAndForgetsAcknowledged) {
  auto q = Open();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(AppendSync(*q, Rec(i)).ok());
  EXPECT_EQ(q->Stats().pending_items, 50u * 51 / 2);
  EXPECT_EQ(q->Stats().oldest_received_ms, Rec(0).received_ms);
  auto all = Drain(*q, true);
  ASSERT_EQ(all.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(all[i].record.body, Rec(i).body);
    EXPECT_EQ(all[i].record.kind, Rec(i).kind);
    EXPECT_EQ(all[i].record.tenant, Rec(i).tenant);
    EXPECT_EQ(all[i].record.items, Rec(i).items);
    EXPECT_EQ(all[i].record.received_ms, Rec(i).received_ms);
  }
  QueueStats s = q->Stats();
  EXPECT_EQ(s.pending_items, 0u);
  EXPECT_EQ(s.acked_items, 50u * 51 / 2);
  EXPECT_EQ(s.oldest_received_ms, 0);
  ASSERT_TRUE(q->SaveAck().ok());  // as a consumer does when it stops
  q.reset();
  q = Open();
  EXPECT_EQ(q->Stats().pending_records, 0u);
  EXPECT_TRUE(Drain(*q, false).empty());
}

TEST_F(QueueTest, ReopenResumesAtTheAcknowledgedRecord) {
  auto q = Open();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendSync(*q, Rec(i)).ok());
  auto first = q->Read(1, 0);  // one record
  ASSERT_TRUE(first.ok() && first->size() == 1);
  auto second = q->Read(1, 0);  // read, never acknowledged
  ASSERT_TRUE(second.ok() && second->size() == 1);
  ASSERT_TRUE(q->Ack(first->back().end).ok());
  q.reset();

  q = Open();
  EXPECT_EQ(q->Stats().pending_records, 19u);
  auto rest = Drain(*q, false);
  ASSERT_EQ(rest.size(), 19u);
  EXPECT_EQ(rest.front().record.body, Rec(1).body);
  // Without an Ack, Rewind reads them again.
  q->Rewind();
  EXPECT_EQ(Drain(*q, true).size(), 19u);
}

TEST_F(QueueTest, AcknowledgedSegmentsAreDeleted) {
  QueueOptions opts;
  opts.max_disk_bytes = 64 << 20;
  opts.segment_size = 1 << 20;
  auto q = Open(opts);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(AppendSync(*q, Rec(i, 100 << 10)).ok());
  EXPECT_GT(wal::ListSegments(dir_.path())->size(), 4u);
  uint64_t full = q->Stats().disk_bytes;
  EXPECT_GT(full, 5u << 20);
  auto all = Drain(*q, true);
  ASSERT_EQ(all.size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(all[i].record.body, Rec(i, 100 << 10).body);
  EXPECT_LE(wal::ListSegments(dir_.path())->size(), 2u);
  EXPECT_LT(q->Stats().disk_bytes, 2u << 20);
}

TEST_F(QueueTest, BlockPolicyRefusesWhenFullUntilAcknowledged) {
  QueueOptions opts;
  opts.max_disk_bytes = 4 << 20;
  opts.segment_size = 1 << 20;
  auto q = Open(opts);
  int accepted = 0;
  Status st;
  for (int i = 0; i < 100 && st.ok(); ++i) {
    st = AppendSync(*q, Rec(i, 200 << 10));
    if (st.ok()) ++accepted;
  }
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("max_disk_bytes"), std::string::npos);
  EXPECT_GT(accepted, 10);
  EXPECT_LE(q->Stats().disk_bytes, opts.max_disk_bytes);
  EXPECT_TRUE(q->Stats().dropped_items.empty());
  // Delivering frees space; nothing was lost.
  auto all = Drain(*q, true);
  EXPECT_EQ(static_cast<int>(all.size()), accepted);
  EXPECT_TRUE(AppendSync(*q, Rec(0, 200 << 10)).ok());
}

TEST_F(QueueTest, DropOldestCountsWhatItDrops) {
  QueueOptions opts;
  opts.max_disk_bytes = 4 << 20;
  opts.segment_size = 1 << 20;
  opts.full_policy = FullPolicy::kDropOldest;
  auto q = Open(opts);
  uint64_t appended = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(AppendSync(*q, Rec(i, 200 << 10)).ok());
    appended += Rec(i).items;
  }
  QueueStats s = q->Stats();
  EXPECT_LE(s.disk_bytes, opts.max_disk_bytes);
  ASSERT_EQ(s.dropped_items.count("queue_full"), 1u);
  uint64_t dropped = s.dropped_items.at("queue_full");
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(s.pending_items + dropped, appended);
  uint64_t delivered = 0;
  auto all = Drain(*q, true);
  for (const auto& r : all) delivered += r.record.items;
  EXPECT_EQ(delivered + dropped, appended);
  EXPECT_EQ(all.back().record.body, Rec(99, 200 << 10).body);
}

TEST_F(QueueTest, TornTailIsCutAndDamagedPositionResendsAll) {
  auto q = Open();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(AppendSync(*q, Rec(i)).ok());
  ASSERT_TRUE(q->Ack(q->Read(1, 0)->back().end).ok());
  q.reset();
  auto segments = *wal::ListSegments(dir_.path());
  {
    std::ofstream f(dir_.path() + "/" + wal::SegmentName(segments.back()), std::ios::app);
    // A torn frame, as after a crash mid-write: a length, then less than a header.
    const char torn[] = {0x40, 0, 0, 0, 'g', 'a', 'r', 'b', 'a', 'g', 'e'};
    f.write(torn, sizeof(torn));
  }
  q = Open();
  EXPECT_EQ(Drain(*q, false).size(), 9u);
  q.reset();
  {
    std::ofstream f(dir_.path() + "/ack", std::ios::trunc);
    f << "damaged";
  }
  q = Open();
  EXPECT_EQ(Drain(*q, false).size(), 10u);  // resent, not lost
}

TEST_F(QueueTest, DamagedOldSegmentIsSkippedNotTheOnesAfterIt) {
  QueueOptions opts;
  opts.max_disk_bytes = 64 << 20;
  opts.segment_size = 1 << 20;
  auto q = Open(opts);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(AppendSync(*q, Rec(i, 100 << 10)).ok());
  q.reset();
  auto segments = *wal::ListSegments(dir_.path());
  ASSERT_GE(segments.size(), 3u);
  std::string first = dir_.path() + "/" + wal::SegmentName(segments.front());
  uint64_t size = fs::file_size(first);
  {
    std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put('\x7f');  // bit rot in the middle of the oldest segment
  }
  q = Open(opts);
  auto all = Drain(*q, true);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().record.body, Rec(29, 100 << 10).body);  // later segments survived
  EXPECT_LT(all.size(), 30u);
  EXPECT_GT(q->Stats().corrupt_bytes, 0u);
}

TEST_F(QueueTest, ReadWaitsForAppends) {
  auto q = Open();
  auto reader = std::async(std::launch::async, [&] { return q->Read(1 << 20, 5000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(AppendSync(*q, Rec(7)).ok());
  auto got = reader.get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().record.body, Rec(7).body);
  // Close wakes a waiting reader.
  auto waiting = std::async(std::launch::async, [&] { return q->Read(1 << 20, 60'000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(q->Close().ok());
  EXPECT_TRUE(waiting.get()->empty());
  EXPECT_EQ(q->Append(Rec(1), [](const Status&) {}).code(), Status::Code::kUnavailable);
}

TEST_F(QueueTest, ConcurrentAppendersKeepTheirOrder) {
  QueueOptions opts;
  opts.segment_size = 1 << 20;
  opts.max_disk_bytes = 256 << 20;
  auto q = Open(opts);
  constexpr int kWriters = 4;
  constexpr int kEach = 300;
  std::atomic<bool> done{false};
  std::vector<std::vector<int>> seen(kWriters);
  std::thread consumer([&] {
    while (true) {
      bool finished = done.load();
      auto batch = q->Read(64 << 10, 20);
      ASSERT_TRUE(batch.ok());
      if (batch->empty() && finished) break;
      for (const auto& r : *batch) {
        int writer = r.record.tenant.back() - '0';
        seen[writer].push_back(std::stoi(r.record.body));
      }
      if (!batch->empty()) {
        ASSERT_TRUE(q->Ack(batch->back().end).ok());
      }
    }
  });
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        QueueRecord r = Rec(i, 2000);
        r.tenant = "w" + std::to_string(w);
        r.body = std::to_string(i) + std::string(2000, 'y');
        ASSERT_TRUE(AppendSync(*q, r).ok());
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  consumer.join();
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_EQ(seen[w].size(), static_cast<size_t>(kEach));
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(seen[w][i], i);
  }
  EXPECT_EQ(q->Stats().pending_records, 0u);
}

}  // namespace
}  // namespace strata::agent
