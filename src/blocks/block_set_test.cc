#include "blocks/block_set.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace strata::blocks {
namespace {

struct FakeReader {
  std::string id;
};

// Opens a FakeReader per ID and remembers which IDs it was asked for.
struct Opener {
  std::vector<std::string> asked;
  BlockSet<FakeReader>::OpenFn Fn() {
    return [this](const std::vector<std::string>& ids)
               -> Result<std::vector<std::shared_ptr<FakeReader>>> {
      std::vector<std::shared_ptr<FakeReader>> out;
      out.reserve(ids.size());
      for (const auto& id : ids) {
        asked.push_back(id);
        out.push_back(id == "unreadable" ? nullptr : std::make_shared<FakeReader>(FakeReader{id}));
      }
      return out;
    };
  }
};

std::vector<std::string> Ids(const std::vector<std::shared_ptr<FakeReader>>& rs) {
  std::vector<std::string> out;
  out.reserve(rs.size());
  for (const auto& r : rs) out.push_back(r->id);
  return out;
}

TEST(BlockSet, SyncOpensNewKeepsOpenDropsGone) {
  BlockSet<FakeReader> set;
  Opener opener;
  ASSERT_TRUE(set.Sync("t1",
                       {{"a", true, false},
                        {"b", true, false},
                        {"partial", false, false},
                        {"unreadable", true, false}},
                       opener.Fn())
                  .ok());
  EXPECT_EQ(Ids(set.Of("t1")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(opener.asked, (std::vector<std::string>{"a", "b", "unreadable"}));
  auto a_before = set.Of("t1")[0];

  // b is marked, c appeared, a stays open (not read again).
  opener.asked.clear();
  ASSERT_TRUE(
      set.Sync("t1", {{"a", true, false}, {"b", true, true}, {"c", true, false}}, opener.Fn())
          .ok());
  EXPECT_EQ(Ids(set.Of("t1")), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(opener.asked, (std::vector<std::string>{"c"}));
  EXPECT_EQ(set.Of("t1")[0], a_before);
  EXPECT_TRUE(set.Of("t2").empty());

  // A block this process adds while a sync is under way (after its listing) stays; one added
  // before the listing that the listing lacks is gone from the bucket and is dropped.
  set.Add("t1", "d", std::make_shared<FakeReader>(FakeReader{"d"}));
  EXPECT_EQ(Ids(set.Of("t1")), (std::vector<std::string>{"a", "c", "d"}));
  auto add_e_meanwhile = [&](const std::vector<std::string>& ids) {
    set.Add("t1", "e", std::make_shared<FakeReader>(FakeReader{"e"}));
    return opener.Fn()(ids);
  };
  ASSERT_TRUE(set.Sync("t1", {{"a", true, false}, {"c", true, false}}, add_e_meanwhile).ok());
  EXPECT_EQ(Ids(set.Of("t1")), (std::vector<std::string>{"a", "c", "e"}));
  EXPECT_EQ(set.All().size(), 3u);
}

}  // namespace
}  // namespace strata::blocks
