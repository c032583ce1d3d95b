#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "base/mutex.h"
#include "base/signal.h"
#include "base/thread_annotations.h"
#include "objstore/bucket.h"
#include "objstore/instrumented.h"
#include "objstore/s3_bucket.h"

namespace strata::objstore {

struct BucketConfig {
  std::string type = "filesystem";  // filesystem | s3 | memory
  std::string dir;                  // filesystem: default <data_dir>/bucket
  S3Options s3;
};

// Opens the bucket a config describes. `default_dir` is used by a filesystem bucket without
// a dir.
Result<std::shared_ptr<Bucket>> OpenBucket(const BucketConfig& config,
                                           const std::string& default_dir);

// BucketRegistry maps tenants to buckets: the default one, or the tenant's own ("bring your
// own bucket"), whose data then goes only there. It hands out per-(tenant, component, signal)
// instrumented views so every request is counted. Thread-safe.
class BucketRegistry {
 public:
  BucketRegistry(std::shared_ptr<Bucket> default_bucket,
                 std::map<std::string, std::shared_ptr<Bucket>> tenant_buckets,
                 std::shared_ptr<BucketMetrics> metrics);

  // Opens the default bucket and every tenant override from config.
  static Result<std::unique_ptr<BucketRegistry>> Open(
      const BucketConfig& default_config, const std::map<std::string, BucketConfig>& overrides,
      const std::string& data_dir, std::shared_ptr<BucketMetrics> metrics);

  std::shared_ptr<Bucket> For(const std::string& tenant, Component component, Signal signal)
      EXCLUDES(mu_);
  // Tenants with data in any bucket: top-level directories of the default bucket plus the
  // tenants with their own bucket.
  Result<std::vector<std::string>> Tenants(Component component, Signal signal);

 private:
  std::shared_ptr<Bucket> default_;
  std::map<std::string, std::shared_ptr<Bucket>> tenant_buckets_;
  std::shared_ptr<BucketMetrics> metrics_;
  Mutex mu_;
  std::map<std::tuple<std::string, Component, Signal>, std::shared_ptr<Bucket>> views_
      GUARDED_BY(mu_);
};

}  // namespace strata::objstore
