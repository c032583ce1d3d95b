#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "agent/config.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "proto/faro.h"
#include "proto/sourcemap.h"

namespace strata::agent {

// SourceMapStore rewrites Faro exception stack frames through source maps, as Alloy's
// faro.receiver does: a frame's file is looked up in the configured directories first
// (minified_path_prefix stripped, the rest under `path`, plus ".map"), then, when downloads are
// on and the frame's origin is allowed, fetched: the script, then the map its trailing
// sourceMappingURL comment names (or carries as a data: URL), each within the timeout and
// 16 MiB. Maps, and failures to find one, are cached per file and release (failures retried
// after an hour; at most 256 files, the least recently used going first). Thread-safe.
class SourceMapStore {
 public:
  SourceMapStore(FaroSourceMaps config, prometheus::Registry& registry);

  // Rewrites `frame` (file, function, line, column; module dropped) through its file's map;
  // false, leaving it alone, when there is none or the map has no mapping there.
  bool Resolve(proto::FaroFrame& frame, std::string_view release);

 private:
  Result<std::shared_ptr<const proto::SourceMap>> Load(const std::string& file,
                                                       std::string_view release);
  Result<std::shared_ptr<const proto::SourceMap>> FromLocations(const std::string& file,
                                                                std::string_view release);
  Result<std::shared_ptr<const proto::SourceMap>> Download(const std::string& file);
  Result<std::string> Fetch(const std::string& url);

  const FaroSourceMaps config_;
  prometheus::Family<prometheus::Counter>& loads_;

  struct Entry {
    std::shared_ptr<const proto::SourceMap> map;  // null: none found
    int64_t loaded_ms = 0;
    int64_t used_ms = 0;
  };
  Mutex mu_;
  std::map<std::string, Entry> cache_ GUARDED_BY(mu_);
};

}  // namespace strata::agent
