#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "agent/receive/intake.h"
#include "agent/scrape/relabel.h"
#include "base/labels.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace strata::agent {

// A target to scrape: its labels after relabelling (without "__" labels) and its URL.
struct ScrapeTarget {
  Labels labels;
  std::string host, port, target;  // target = path and query
  std::string Key() const;         // identity: URL and labels
};

// Builds the targets of one job from a group of addresses and labels (static_configs or one
// file_sd entry), as Prometheus does: __address__, __scheme__, __metrics_path__, __param_*,
// job; relabel_configs; instance defaults to __address__; "__" labels dropped.
std::vector<ScrapeTarget> TargetsOf(const ScrapeConfig& job, const Relabeler& relabel,
                                    const std::vector<std::string>& addresses,
                                    const std::map<std::string, std::string>& group_labels);

class ScrapeLoop;

// ScrapeManager scrapes the targets of every job (static_configs and file_sd_configs, polled
// for changes every second and re-read every refresh_interval) and queues each scrape as a
// remote-write record through the intake. One thread per target. A target that disappears
// (from the config or its file) gets staleness markers for all its series. While the queues
// are full (policy block) scrapes pause, counted in strata_agent_scrapes_total{result="paused"}.
// Thread-safe.
class ScrapeManager {
 public:
  ScrapeManager(Intake& intake, prometheus::Registry& registry);
  ~ScrapeManager();

  // Replaces the jobs. Loops of targets that stay keep running (no gap); new targets start.
  void ApplyConfig(std::vector<ScrapeConfig> jobs);
  // Stops every loop without staleness markers (agent shutdown, as Prometheus does).
  void Stop();

  struct Metrics {
    prometheus::Family<prometheus::Counter>& scrapes;  // by job and result
    prometheus::Family<prometheus::Gauge>& targets;    // by job
  };

 private:
  struct Job {
    ScrapeConfig config;
    std::shared_ptr<const Relabeler> relabel, metric_relabel;
    // file_sd: per file path, its targets as last read, and the signature of its state.
    std::map<std::string, std::vector<ScrapeTarget>> file_targets;
    std::string files_signature;
    int64_t next_refresh_ms = 0;
  };
  void DiscoveryLoop();
  // Re-reads the file_sd files of jobs whose files changed or whose refresh is due.
  bool RefreshFiles(int64_t now_ms) REQUIRES(mu_);
  // Starts and stops loops to match the jobs' targets.
  void Sync() REQUIRES(mu_);

  Intake& intake_;
  Metrics metrics_;
  Mutex mu_;
  std::condition_variable cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<Job> jobs_ GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<ScrapeLoop>> loops_ GUARDED_BY(mu_);  // by job + key
  std::thread discovery_;
};

}  // namespace strata::agent
