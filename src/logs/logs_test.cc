#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "logs/db.h"
#include "logs/follow.h"
#include "logs/head.h"
#include "logs/storage.h"
#include "logs/wal_record.h"
#include "testing/temp_dir.h"
#include "wal/frame.h"
#include "wal/wal.h"

namespace strata::logs {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSecond;

TEST(LogWalRecord, EntriesRoundTripAndTruncationIsCorruption) {
  std::vector<LabelView> md = {{"trace_id", "abc"}, {"user", ""}};
  std::string payload;
  EncodeEntry(payload, 3, -5, "first", {});
  EncodeEntry(payload, 70000, 1'700'000'000'123'456'789, std::string(300, 'x'), md);
  std::vector<RefEntry> out;
  std::vector<LabelView> metadata;
  ASSERT_TRUE(DecodeEntries(payload, out, metadata).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].ref, 3u);
  EXPECT_EQ(out[0].ts_ns, -5);
  EXPECT_EQ(out[0].line, "first");
  EXPECT_EQ(out[0].metadata_count, 0u);
  EXPECT_EQ(out[1].ref, 70000u);
  EXPECT_EQ(out[1].ts_ns, 1'700'000'000'123'456'789);
  EXPECT_EQ(out[1].line, std::string(300, 'x'));
  ASSERT_EQ(out[1].metadata_count, 2u);
  EXPECT_EQ(metadata[out[1].metadata_begin + 1].name, "user");
  // Cut anywhere inside the second entry, the payload is malformed.
  size_t first_size = 0;
  {
    std::string one;
    EncodeEntry(one, 3, -5, "first", {});
    first_size = one.size();
  }
  for (size_t cut = first_size + 1; cut < payload.size(); ++cut) {
    std::vector<RefEntry> partial;
    std::vector<LabelView> pm;
    EXPECT_FALSE(DecodeEntries(payload.substr(0, cut), partial, pm).ok()) << cut;
  }
}

Labels Md(std::initializer_list<std::pair<const char*, const char*>> pairs) {
  Labels out;
  for (const auto& [n, v] : pairs) out.push_back({n, v});
  return out;
}

// Appends to a head's only stream {app="a"}.
class StreamTest : public ::testing::Test {
 protected:
  StreamTest() {
    bool created;
    s_ = head_.GetOrCreate(HashLabels(labels_), labels_, &created);
  }
  AppendResult Add(int64_t ts, const std::string& line, const Labels& md = {},
                   int64_t window = kHour) {
    auto views = ViewOf(md);
    return head_.Append(*s_, ts, line, views, window, cache_);
  }
  std::vector<Entry> All() const {
    std::vector<Entry> out;
    head_.Entries(*s_, INT64_MIN, INT64_MAX, 0, out);
    return out;
  }

  std::vector<LabelView> labels_ = {{"app", "a"}};
  Head head_;
  Stream* s_ = nullptr;
  Stream::UnpackCache cache_;
};

// Late entries within the window are kept and read back in time order; beyond it they are
// refused; an identical entry (timestamp, line and metadata) is stored once, while one that
// differs in any of them is a new entry.
TEST_F(StreamTest, OrderWindowAndDuplicates) {
  EXPECT_EQ(Add(10 * kSecond, "b"), AppendResult::kAppended);
  EXPECT_EQ(Add(20 * kSecond, "d"), AppendResult::kAppended);
  EXPECT_EQ(Add(15 * kSecond, "c"), AppendResult::kAppended);
  EXPECT_EQ(Add(20 * kSecond - kHour - 1, "too old"), AppendResult::kTooOld);
  EXPECT_EQ(Add(20 * kSecond - kHour, "a"), AppendResult::kAppended);
  EXPECT_EQ(Add(15 * kSecond, "c"), AppendResult::kDuplicate);
  EXPECT_EQ(Add(20 * kSecond, "d"), AppendResult::kDuplicate);
  EXPECT_EQ(Add(15 * kSecond, "c", Md({{"k", "v"}})), AppendResult::kAppended);
  EXPECT_EQ(Add(15 * kSecond, "c", Md({{"k", "v"}})), AppendResult::kDuplicate);
  EXPECT_EQ(Add(15 * kSecond, "c2"), AppendResult::kAppended);
  std::vector<Entry> want = {{20 * kSecond - kHour, "a", {}}, {10 * kSecond, "b", {}},
                             {15 * kSecond, "c", {}},         {15 * kSecond, "c", Md({{"k", "v"}})},
                             {15 * kSecond, "c2", {}},        {20 * kSecond, "d", {}}};
  EXPECT_EQ(All(), want);
  std::vector<Entry> range;
  head_.Entries(*s_, 15 * kSecond, 15 * kSecond, 0, range);
  EXPECT_EQ(range.size(), 3u);
}

// Entries spread over many chunks, some arriving late, come back complete and in time order
// (equal timestamps in arrival order), whatever the range asked.
TEST_F(StreamTest, ManyChunksKeepEveryEntryInTimeOrder) {
  std::vector<Entry> want;
  const std::string pad(900, '.');
  for (int i = 0; i < 2000; ++i) {
    // Every 7th entry is 30 s late; every 11th repeats the previous timestamp.
    int64_t ts =
        int64_t{i} * kSecond - (i % 7 == 0 ? 30 * kSecond : 0) - (i % 11 == 0 ? kSecond : 0);
    std::string line = std::to_string(i) + pad;
    ASSERT_EQ(Add(ts, line), AppendResult::kAppended) << i;
    want.push_back({ts, line, {}});
  }
  std::stable_sort(want.begin(), want.end(),
                   [](const Entry& a, const Entry& b) { return a.ts_ns < b.ts_ns; });
  EXPECT_EQ(All(), want);
  std::vector<Entry> part;
  head_.Entries(*s_, 500 * kSecond, 999 * kSecond, 0, part);
  std::vector<Entry> want_part;
  std::copy_if(want.begin(), want.end(), std::back_inserter(want_part),
               [](const Entry& e) { return e.ts_ns >= 500 * kSecond && e.ts_ns <= 999 * kSecond; });
  EXPECT_EQ(part, want_part);
}

// Many entries at one timestamp, spread over several chunks: every distinct one is stored,
// every repeat is found (in the open chunk and in closed ones), whatever its position.
TEST_F(StreamTest, ManyEntriesAtOneTimestampDeduplicate) {
  constexpr int kEntries = 20000;
  auto line = [](int i) { return fmt::format("{:0100}", i); };
  for (int i = 0; i < kEntries; ++i) ASSERT_EQ(Add(kSecond, line(i)), AppendResult::kAppended);
  for (int i = kEntries - 1; i >= 0; i -= 7) {
    ASSERT_EQ(Add(kSecond, line(i)), AppendResult::kDuplicate) << i;
  }
  // The same line with metadata, or at another time, is another entry.
  EXPECT_EQ(Add(kSecond, line(5), Md({{"k", "v"}})), AppendResult::kAppended);
  EXPECT_EQ(Add(kSecond - 1, line(5)), AppendResult::kAppended);
  EXPECT_EQ(All().size(), size_t{kEntries} + 2);
}

TEST(LogHead, SelectsStreamsByLabels) {
  Head head;
  std::vector<Labels> sets = {{{"app", "api"}, {"env", "prod"}},
                              {{"app", "api"}, {"env", "dev"}},
                              {{"app", "db"}, {"env", "prod"}}};
  for (const auto& ls : sets) {
    auto views = ViewOf(ls);
    bool created;
    ASSERT_NE(head.GetOrCreate(HashLabels(views), views, &created), nullptr);
    ASSERT_TRUE(created);
  }
  auto select = [&](std::vector<Matcher> ms) {
    std::vector<Labels> out;
    for (Stream* s : head.Select(ms)) out.push_back(s->OwnedLabels());
    return out;
  };
  EXPECT_EQ(select({*Matcher::Make(Matcher::Type::kEqual, "app", "api")}),
            (std::vector<Labels>{sets[0], sets[1]}));
  EXPECT_EQ(select({*Matcher::Make(Matcher::Type::kEqual, "app", "api"),
                    *Matcher::Make(Matcher::Type::kNotEqual, "env", "dev")}),
            (std::vector<Labels>{sets[0]}));
  EXPECT_EQ(select({*Matcher::Make(Matcher::Type::kRegex, "app", "d.*")}),
            (std::vector<Labels>{sets[2]}));
  EXPECT_EQ(head.LabelNames(), (std::vector<std::string>{"app", "env"}));
  EXPECT_EQ(head.LabelValues("env"), (std::vector<std::string>{"dev", "prod"}));
  EXPECT_EQ(head.num_streams(), 3u);
}

struct Pushed {
  Labels labels;
  std::vector<Entry> entries;
};

// Appends `streams` to `db` and waits until durable.
AppendOutcome Push(Db& db, const std::vector<Pushed>& streams, const AppendLimits& limits = {},
                   std::vector<Rejection>* rejections = nullptr) {
  std::vector<std::vector<LabelView>> labels;
  std::vector<std::vector<std::vector<LabelView>>> md;
  std::vector<std::vector<EntryInput>> entries;
  for (const auto& p : streams) {
    labels.push_back(ViewOf(p.labels));
    md.emplace_back();
    entries.emplace_back();
    for (const auto& e : p.entries) md.back().push_back(ViewOf(e.metadata));
    for (size_t k = 0; k < p.entries.size(); ++k) {
      entries.back().push_back({p.entries[k].ts_ns, p.entries[k].line, md.back()[k]});
    }
  }
  std::vector<StreamInput> in;
  in.reserve(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    in.push_back({labels[i], HashLabels(labels[i]), entries[i]});
  }
  auto out = db.Append(in, limits, [&](size_t, const EntryInput*, Rejection r, int64_t) {
    if (rejections != nullptr) rejections->push_back(r);
  });
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(db.WaitDurable(out->lsn).ok());
  return *out;
}

// Everything in the head, stream by stream, for comparing with what was pushed.
std::map<Labels, std::vector<Entry>> Contents(const Head& head) {
  std::map<Labels, std::vector<Entry>> out;
  std::vector<Matcher> any = {*Matcher::Make(Matcher::Type::kRegex, "app", ".+")};
  for (Stream* s : head.Select(any)) {
    head.Entries(*s, INT64_MIN, INT64_MAX, 0, out[s->OwnedLabels()]);
  }
  return out;
}

// What was acknowledged is there after a restart, byte for byte; a push retried after the
// restart is recognised as stored; limits refuse what they must.
TEST(LogDb, ReplaysAcknowledgedEntriesAndDeduplicatesRetries) {
  testing::TempDir dir("logdb");
  std::vector<Pushed> batch = {
      {{{"app", "api"}},
       {{kSecond, "GET /\ttook 3ms \xe2\x9c\x93", Md({{"trace_id", "t1"}})},
        {2 * kSecond, "", {}},
        {kSecond, "late but fine", {}}}},
      {{{"app", "db"}, {"level", "warn"}}, {{5 * kSecond, std::string(70000, 'q'), {}}}},
  };
  std::map<Labels, std::vector<Entry>> want;
  for (const auto& p : batch) {
    auto& v = want[p.labels];
    v.insert(v.end(), p.entries.begin(), p.entries.end());
    std::stable_sort(v.begin(), v.end(),
                     [](const Entry& a, const Entry& b) { return a.ts_ns < b.ts_ns; });
  }
  {
    auto db = Db::Open(dir.path(), {}, "t1");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    AppendOutcome out = Push(**db, batch);
    EXPECT_EQ(out.accepted, 4u);
    EXPECT_EQ(out.streams_created, 2u);
    EXPECT_EQ(Contents((*db)->head()), want);
  }  // closed: reopening rebuilds the head from the WAL alone
  auto db = Db::Open(dir.path(), {}, "t1");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(Contents((*db)->head()), want);
  AppendOutcome retry = Push(**db, batch);
  EXPECT_EQ(retry.accepted, 0u);
  EXPECT_EQ(retry.duplicates, 4u);
  EXPECT_EQ(Contents((*db)->head()), want);

  std::vector<Rejection> refused;
  AppendLimits limits;
  limits.max_streams = 2;
  AppendOutcome more = Push(**db,
                            {{{{"app", "api"}}, {{3 * kSecond, "new", {}}, {-kHour, "old", {}}}},
                             {{{"app", "third"}}, {{kSecond, "x", {}}}}},
                            limits, &refused);
  EXPECT_EQ(more.accepted, 1u);
  EXPECT_EQ(refused, (std::vector<Rejection>{Rejection::kTooOld, Rejection::kStreamLimit}));
}

// Followers of a tenant get each entry its head takes, in append order, and nothing it
// refuses or already holds; other tenants' followers get nothing; unfollowing stops it.
TEST(LogDb, FollowersGetWhatTheHeadTakes) {
  testing::TempDir dir("logfollow");
  Followers followers;
  DbOptions opts;
  opts.followers = &followers;
  auto db = Db::Open(dir.path(), opts, "t1");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  using Got = std::tuple<std::string, int64_t, std::string, Labels>;  // stream, time, line, md
  std::vector<Got> got, other;
  auto collect = [](std::vector<Got>* into) {
    return [into](std::span<const StreamInput> streams, std::span<const Taken> taken) {
      for (const Taken& t : taken) {
        into->emplace_back(FormatLabels(streams[t.stream].labels), t.entry->ts_ns,
                           std::string(t.entry->line), ToLabels(t.entry->metadata));
      }
    };
  };
  auto follow = followers.Follow("t1", collect(&got));
  auto follow_other = followers.Follow("t2", collect(&other));
  std::vector<Pushed> batch = {
      {{{"app", "api"}}, {{2 * kSecond, "b", Md({{"trace_id", "t1"}})}, {kSecond, "a (late)", {}}}},
      {{{"app", "db"}}, {{5 * kSecond, "c", {}}}},
  };
  Push(**db, batch);
  Push(**db, batch);  // all held already
  Push(**db, {{{{"app", "api"}}, {{-kHour, "too old", {}}, {3 * kSecond, "d", {}}}}});
  EXPECT_EQ(got, (std::vector<Got>{{R"({app="api"})", 2 * kSecond, "b", {{"trace_id", "t1"}}},
                                   {R"({app="api"})", kSecond, "a (late)", {}},
                                   {R"({app="db"})", 5 * kSecond, "c", {}},
                                   {R"({app="api"})", 3 * kSecond, "d", {}}}));
  EXPECT_TRUE(other.empty());
  follow.reset();
  Push(**db, {{{{"app", "api"}}, {{4 * kSecond, "e", {}}}}});
  EXPECT_EQ(got.size(), 4u);
}

// Tenants are found again on reopening; a directory that is not a tenant ID is skipped; a
// second process cannot open the same directory.
TEST(LogStorage, ReopensTenantsAndLocksItsDirectory) {
  testing::TempDir dir("logstorage");
  StorageOptions opts;
  opts.dir = dir.path() + "/logs";
  {
    auto st = Storage::Open(opts);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    auto db = (*st)->GetOrCreate("team-a");
    ASSERT_TRUE(db.ok());
    Push(**db, {{{{"app", "x"}}, {{kSecond, "hello", {}}}}});
    EXPECT_FALSE((*st)->GetOrCreate("bad/tenant").ok());
    EXPECT_FALSE(Storage::Open(opts).ok());  // locked
  }
  std::filesystem::create_directories(opts.dir + "/tenants/not a tenant");
  auto st = Storage::Open(opts);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  auto tenants = (*st)->Tenants();
  ASSERT_EQ(tenants.size(), 1u);
  EXPECT_EQ(tenants[0].first, "team-a");
  EXPECT_EQ(Contents(tenants[0].second->head()),
            (std::map<Labels, std::vector<Entry>>{{{{"app", "x"}}, {{kSecond, "hello", {}}}}}));
  EXPECT_EQ((*st)->Find("team-b"), nullptr);
}

// A stream that left the head and came back has a new ref; until the checkpoint after its
// removal is written, the WAL holds both records. Replay takes the old ref as an alias, keeps
// every entry and never hands the new ref to another stream.
TEST(LogDb, ReplayAliasesTheRefOfAStreamThatCameBack) {
  testing::TempDir dir("logdb-alias");
  const std::vector<LabelView> labels = {{"app", "cron"}};
  {
    wal::WalOptions opts;
    opts.max_record_type = kMaxRecord;
    auto w = wal::Wal::Open(
        dir.path() + "/wal", opts, [](wal::RecordType, std::string_view) { return Status::Ok(); },
        nullptr);
    ASSERT_TRUE(w.ok());
    std::string frames, payload;
    index::EncodeSeries(payload, 1, labels);
    wal::AppendFrame(frames, kStreamRecord, payload);
    payload.clear();
    EncodeEntry(payload, 1, kSecond, "before the cut", {});
    wal::AppendFrame(frames, kEntriesRecord, payload);
    payload.clear();
    index::EncodeSeries(payload, 7, labels);
    wal::AppendFrame(frames, kStreamRecord, payload);
    payload.clear();
    EncodeEntry(payload, 7, 2 * kSecond, "after it came back", {});
    wal::AppendFrame(frames, kEntriesRecord, payload);
    ASSERT_TRUE((*w)->WaitDurable((*w)->Append(frames)).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto db = Db::Open(dir.path(), {}, "t");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(Contents((*db)->head()),
            (std::map<Labels, std::vector<Entry>>{
                {{{"app", "cron"}},
                 {{kSecond, "before the cut", {}}, {2 * kSecond, "after it came back", {}}}}}));
  EXPECT_EQ((*db)->replay_stats().truncated_bytes, 0u);
  Push(**db, {{{{"app", "new"}}, {{3 * kSecond, "x", {}}}}});
  const Stream* s = (*db)->head().Find(HashLabels(std::vector<LabelView>{{"app", "new"}}),
                                       std::vector<LabelView>{{"app", "new"}});
  ASSERT_NE(s, nullptr);
  EXPECT_GT(s->ref(), 7u);
}

}  // namespace
}  // namespace strata::logs
