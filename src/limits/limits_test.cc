#include "limits/limits.h"

#include <gtest/gtest.h>

#include "limits/token_bucket.h"

namespace strata::limits {
namespace {

TEST(TokenBucket, RateAndBurst) {
  TokenBucket b;
  auto t0 = TokenBucket::Clock::now();
  EXPECT_EQ(b.Take(100, 10, 100, t0), 0);  // the burst is available at once
  EXPECT_GT(b.Take(10, 10, 100, t0), 0);   // then empty
  EXPECT_EQ(b.Take(10, 10, 100, t0 + std::chrono::seconds(1)), 0);  // refilled at 10/s
  // Larger than the burst: never passes; the wait is until the bucket is full (90 more).
  EXPECT_EQ(b.Take(1000, 10, 100, t0 + std::chrono::seconds(2)), 9);
  EXPECT_EQ(b.Take(1e9, 0, 0, t0), 0);  // rate 0 = unlimited
}

TEST(Overrides, TenantsWithoutAnOverrideGetTheDefaults) {
  TenantOverrides o;
  o.defaults.ingest.ingestion_rate = 10;
  TenantLimits big = o.defaults;
  big.ingest.ingestion_rate = 1000;
  o.tenants["big"] = big;
  EXPECT_EQ(o.For("big").ingest.ingestion_rate, 1000);
  EXPECT_EQ(&o.For("small"), &o.defaults);
}

}  // namespace
}  // namespace strata::limits
