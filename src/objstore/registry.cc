#include "objstore/registry.h"

#include <fmt/format.h>

#include <set>

#include "base/mutex.h"
#include "objstore/fs_bucket.h"
#include "objstore/memory_bucket.h"

namespace strata::objstore {

Result<std::shared_ptr<Bucket>> OpenBucket(const BucketConfig& config,
                                           const std::string& default_dir) {
  if (config.type == "filesystem") {
    ASSIGN_OR_RETURN(auto b, FsBucket::Open(config.dir.empty() ? default_dir : config.dir));
    return std::shared_ptr<Bucket>(std::move(b));
  }
  if (config.type == "s3") {
    ASSIGN_OR_RETURN(auto b, S3Bucket::Open(config.s3));
    return std::shared_ptr<Bucket>(std::move(b));
  }
  if (config.type == "memory") return std::shared_ptr<Bucket>(std::make_shared<MemoryBucket>());
  return Status::InvalidArgument(
      fmt::format("bucket type \"{}\" is not one of filesystem, s3, memory", config.type));
}

BucketRegistry::BucketRegistry(std::shared_ptr<Bucket> default_bucket,
                               std::map<std::string, std::shared_ptr<Bucket>> tenant_buckets,
                               std::shared_ptr<BucketMetrics> metrics)
    : default_(std::move(default_bucket)),
      tenant_buckets_(std::move(tenant_buckets)),
      metrics_(std::move(metrics)) {}

Result<std::unique_ptr<BucketRegistry>> BucketRegistry::Open(
    const BucketConfig& default_config, const std::map<std::string, BucketConfig>& overrides,
    const std::string& data_dir, std::shared_ptr<BucketMetrics> metrics) {
  ASSIGN_OR_RETURN(auto def, OpenBucket(default_config, data_dir + "/bucket"));
  std::map<std::string, std::shared_ptr<Bucket>> tenants;
  for (const auto& [tenant, cfg] : overrides) {
    auto b = OpenBucket(cfg, fmt::format("{}/bucket-{}", data_dir, tenant));
    if (!b.ok()) return b.status().Annotate(fmt::format("bucket of tenant {}", tenant));
    tenants[tenant] = std::move(*b);
  }
  return std::make_unique<BucketRegistry>(std::move(def), std::move(tenants), std::move(metrics));
}

std::shared_ptr<Bucket> BucketRegistry::For(const std::string& tenant, Component component,
                                            Signal signal) {
  MutexLock lk(mu_);
  auto& view = views_[{tenant, component, signal}];
  if (!view) {
    auto it = tenant_buckets_.find(tenant);
    auto raw = it == tenant_buckets_.end() ? default_ : it->second;
    view = metrics_
               ? std::make_shared<InstrumentedBucket>(raw, *metrics_, component, signal, tenant)
               : raw;
  }
  return view;
}

Result<std::vector<std::string>> BucketRegistry::Tenants(Component component, Signal signal) {
  std::set<std::string> out;
  ASSIGN_OR_RETURN(auto dirs, For("", component, signal)->List("", false));
  for (const auto& d : dirs) {
    if (d.key.ends_with('/')) {
      std::string t = d.key.substr(0, d.key.size() - 1);
      if (!tenant_buckets_.count(t)) out.insert(t);
    }
  }
  for (const auto& [t, b] : tenant_buckets_) out.insert(t);
  return std::vector<std::string>(out.begin(), out.end());
}

}  // namespace strata::objstore
