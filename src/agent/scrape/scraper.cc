#include "agent/scrape/scraper.h"

#include <fmt/format.h>
#include <glob.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <future>
#include <unordered_map>

#include "base/encoding.h"
#include "base/mutex.h"
#include "base/units.h"
#include "base/version.h"
#include "http/client.h"
#include "proto/exposition.h"
#include "proto/remote_write.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {

constexpr const char* kScrapeReceiver = "scrape";
constexpr const char* kAccept = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

Labels FromMap(const std::map<std::string, std::string>& m) {
  Labels out;
  for (const auto& [k, v] : m) {
    if (!v.empty()) out.push_back({k, v});
  }
  return out;
}

uint64_t KeyOf(const Labels& labels) { return HashLabels(ViewOf(labels)); }

// Sample labels with the target's added. Without honor_labels the target wins and a clashing
// scraped label is kept as exported_<name>; with it, the scraped label wins.
Labels MergeTargetLabels(const Labels& target, const Labels& sample, bool honor_labels) {
  std::map<std::string, std::string> merged;
  for (const auto& l : sample) merged[l.name] = l.value;
  for (const auto& t : target) {
    auto it = merged.find(t.name);
    if (it != merged.end()) {
      if (honor_labels) continue;
      std::string renamed = "exported_" + t.name;
      while (merged.count(renamed)) renamed.insert(0, "exported_");
      merged[renamed] = std::move(it->second);
    }
    merged[t.name] = t.value;
  }
  return FromMap(merged);
}

}  // namespace

std::string ScrapeTarget::Key() const {
  return fmt::format("{}:{}{} {}", host, port, target, FormatLabels(labels));
}

std::vector<ScrapeTarget> TargetsOf(const ScrapeConfig& job, const Relabeler& relabel,
                                    const std::vector<std::string>& addresses,
                                    const std::map<std::string, std::string>& group_labels) {
  std::vector<ScrapeTarget> out;
  for (const auto& address : addresses) {
    std::map<std::string, std::string> m = group_labels;
    m["__address__"] = address;
    m.try_emplace("job", job.job_name);
    m.try_emplace("__scheme__", job.scheme);
    m.try_emplace("__metrics_path__", job.metrics_path);
    m.try_emplace("__scrape_interval__", FormatDurationMillis(job.interval_ms));
    m.try_emplace("__scrape_timeout__", FormatDurationMillis(job.timeout_ms));
    for (const auto& [name, values] : job.params) {
      if (!values.empty()) m.try_emplace("__param_" + name, values.front());
    }
    Labels labels = FromMap(m);
    if (!relabel.Apply(labels)) continue;
    std::string addr(GetLabel(labels, "__address__"));
    if (addr.empty()) continue;
    ScrapeTarget t;
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos || addr.find(']', colon) != std::string::npos) {
      t.host = addr;
      t.port = "80";
    } else {
      t.host = addr.substr(0, colon);
      t.port = addr.substr(colon + 1);
    }
    if (!t.host.empty() && t.host.front() == '[' && t.host.back() == ']') {
      t.host = t.host.substr(1, t.host.size() - 2);
    }
    t.target = std::string(GetLabel(labels, "__metrics_path__"));
    if (t.target.empty() || t.target.front() != '/') t.target.insert(0, "/");
    std::string query;
    for (const auto& l : labels) {
      if (!l.name.starts_with("__param_")) continue;
      query += query.empty() ? "?" : "&";
      query += PercentEncode(l.name.substr(8), false) + "=" + PercentEncode(l.value, false);
    }
    t.target += query;
    bool has_instance = !GetLabel(labels, "instance").empty();
    for (const auto& l : labels) {
      if (!l.name.starts_with("__")) t.labels.push_back(l);
    }
    if (!has_instance) {
      t.labels.push_back({"instance", addr});
      std::sort(t.labels.begin(), t.labels.end());
    }
    out.push_back(std::move(t));
  }
  return out;
}

// One target's scrapes, on its own thread.
class ScrapeLoop {
 public:
  ScrapeLoop(Intake& intake, ScrapeConfig config, std::shared_ptr<const Relabeler> metric_relabel,
             ScrapeTarget target, ScrapeManager::Metrics& metrics)
      : intake_(intake),
        config_(std::move(config)),
        metric_relabel_(std::move(metric_relabel)),
        target_(std::move(target)),
        ok_(metrics.scrapes.Add({{"job", config_.job_name}, {"result", "ok"}})),
        failed_(metrics.scrapes.Add({{"job", config_.job_name}, {"result", "failed"}})),
        paused_(metrics.scrapes.Add({{"job", config_.job_name}, {"result", "paused"}})),
        not_queued_(metrics.scrapes.Add({{"job", config_.job_name}, {"result", "not_queued"}})),
        thread_([this] { Run(); }) {}

  ~ScrapeLoop() { Stop(false); }

  const ScrapeConfig& config() const { return config_; }

  // Ends the loop; with `stale`, queues staleness markers for every series it reported.
  void Stop(bool stale) {
    {
      MutexLock lk(mu_);
      if (stopped_) return;
      stopped_ = true;
      cv_.notify_all();
    }
    thread_.join();
    if (!stale || last_series_.empty()) return;
    proto::WriteRequest wr;
    const int64_t now = NowMillis();
    for (const auto& [key, labels] : last_series_)
      wr.series.push_back({labels, {{now, StaleNaN()}}});
    for (const char* name : kReportNames) {
      wr.series.push_back({ReportLabels(name), {{now, StaleNaN()}}});
    }
    if (Status st = Submit(wr); !st.ok()) {
      spdlog::warn(
          "msg=\"staleness markers of a removed target not queued\" job={} target={} "
          "err=\"{}\"",
          config_.job_name, target_.Key(), st.message());
    }
  }

 private:
  static constexpr const char* kReportNames[] = {"up", "scrape_duration_seconds",
                                                 "scrape_samples_scraped",
                                                 "scrape_samples_post_metric_relabeling"};

  Labels ReportLabels(const char* name) const {
    Labels l = target_.labels;
    l.push_back({std::string(kMetricNameLabel), name});
    std::sort(l.begin(), l.end());
    return l;
  }

  void Run() {
    const int64_t interval = config_.interval_ms;
    // Targets spread over the interval by their identity, as Prometheus does.
    const int64_t offset = static_cast<int64_t>(std::hash<std::string>{}(target_.Key()) %
                                                static_cast<uint64_t>(interval));
    int64_t next = NowMillis() / interval * interval + offset;
    if (next < NowMillis()) next += interval;
    UniqueLock lk(mu_);
    while (true) {
      int64_t wait = next - NowMillis();
      if (lk.WaitFor(cv_, std::chrono::milliseconds(std::max<int64_t>(wait, 0)),
                     [&]() REQUIRES(mu_) { return stopped_; })) {
        return;
      }
      lk.unlock();
      ScrapeOnce();
      lk.lock();
      next += interval;
      if (int64_t now = NowMillis(); next <= now)
        next += (now - next) / interval * interval + interval;
    }
  }

  Result<proto::Exposition> Fetch() {
    if (!client_) {
      client_ = std::make_unique<http::Client>(target_.host, target_.port, config_.timeout_ms);
      client_->set_body_limit(config_.body_size_limit_bytes);
    }
    http::Request req{bhttp::verb::get, target_.target, 11};
    req.set(bhttp::field::accept, kAccept);
    req.set(bhttp::field::user_agent, std::string("strata-agent/") + kVersion);
    req.set("X-Prometheus-Scrape-Timeout-Seconds",
            fmt::format("{}", static_cast<double>(config_.timeout_ms) / 1000));
    ASSIGN_OR_RETURN(http::Response res, client_->Do(std::move(req)));
    if (res.result_int() != 200) {
      return Status::Unavailable(fmt::format("server returned HTTP status {}", res.result_int()));
    }
    size_t max = config_.sample_limit > 0 ? config_.sample_limit : SIZE_MAX;
    return proto::ParseExposition(res.body(), max);
  }

  void ScrapeOnce() {
    if (!intake_.HasRoom(ItemKind::kRemoteWrite, last_request_bytes_)) {
      paused_.Increment();  // the queues are full: scraping waits for them to drain
      return;
    }
    const int64_t start = NowMillis();
    const auto t0 = std::chrono::steady_clock::now();
    auto scraped = Fetch();
    const double duration =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    proto::WriteRequest wr;
    std::unordered_map<uint64_t, Labels> current;
    uint64_t scraped_count = 0;
    if (scraped.ok()) {
      scraped_count = scraped->samples.size();
      for (auto& s : scraped->samples) {
        Labels labels = MergeTargetLabels(target_.labels, s.labels, config_.honor_labels);
        if (metric_relabel_ && !metric_relabel_->Apply(labels)) continue;
        int64_t t = config_.honor_timestamps && s.timestamp_ms ? *s.timestamp_ms : start;
        uint64_t key = KeyOf(labels);
        if (!current.emplace(key, labels).second) continue;  // a repeated series keeps its first
        wr.series.push_back({std::move(labels), {{t, s.value}}});
      }
      for (const auto& [family, type] : scraped->types) {
        auto help = scraped->help.find(family);
        wr.metadata.push_back(
            {type, family, help == scraped->help.end() ? std::string() : help->second, ""});
      }
    } else {
      spdlog::debug("msg=\"scrape failed\" job={} target={} err=\"{}\"", config_.job_name,
                    target_.Key(), scraped.status().message());
    }
    // Series gone since the last successful scrape (or all of them, when this one failed)
    // end with a staleness marker.
    for (const auto& [key, labels] : last_series_) {
      if (!current.count(key)) wr.series.push_back({labels, {{start, StaleNaN()}}});
    }
    const double report[] = {scraped.ok() ? 1.0 : 0.0, duration, static_cast<double>(scraped_count),
                             static_cast<double>(current.size())};
    for (size_t i = 0; i < std::size(kReportNames); ++i) {
      wr.series.push_back({ReportLabels(kReportNames[i]), {{start, report[i]}}});
    }
    Status st = Submit(wr);
    if (!st.ok()) {
      not_queued_.Increment();
      spdlog::warn("msg=\"scrape not queued\" job={} target={} err=\"{}\"", config_.job_name,
                   target_.Key(), st.message());
      return;
    }
    (scraped.ok() ? ok_ : failed_).Increment();
    last_series_ = std::move(current);
  }

  // Queues `wr` and waits until it is durable.
  Status Submit(const proto::WriteRequest& wr) {
    QueueRecord rec;
    rec.kind = ItemKind::kRemoteWrite;
    rec.tenant = config_.tenant;
    rec.items = static_cast<uint32_t>(wr.series.size());
    rec.received_ms = NowMillis();
    rec.body = proto::SnappyCompress(proto::EncodeWriteRequest(wr));
    last_request_bytes_ = rec.body.size();
    std::promise<Status> done;
    auto future = done.get_future();
    intake_.Submit(kScrapeReceiver, {&rec, 1}, [&done](const Status& st) { done.set_value(st); });
    return future.get();
  }

  Intake& intake_;
  const ScrapeConfig config_;
  const std::shared_ptr<const Relabeler> metric_relabel_;
  const ScrapeTarget target_;
  prometheus::Counter& ok_;
  prometheus::Counter& failed_;
  prometheus::Counter& paused_;
  prometheus::Counter& not_queued_;
  std::unique_ptr<http::Client> client_;              // loop thread only
  std::unordered_map<uint64_t, Labels> last_series_;  // loop thread, then Stop
  uint64_t last_request_bytes_ = 0;

  Mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // guarded by mu_
  std::thread thread_;    // last: starts running in the constructor
};

ScrapeManager::ScrapeManager(Intake& intake, prometheus::Registry& registry)
    : intake_(intake),
      metrics_{prometheus::BuildCounter()
                   .Name("strata_agent_scrapes_total")
                   .Help("Scrapes by job and result: ok, failed (target down or unparseable; "
                         "up = 0), paused (skipped while the queues are full), not_queued.")
                   .Register(registry),
               prometheus::BuildGauge()
                   .Name("strata_agent_scrape_targets")
                   .Help("Targets being scraped, by job.")
                   .Register(registry)},
      discovery_([this] { DiscoveryLoop(); }) {}

ScrapeManager::~ScrapeManager() { Stop(); }

void ScrapeManager::Stop() {
  std::map<std::string, std::unique_ptr<ScrapeLoop>> loops;
  {
    MutexLock lk(mu_);
    if (stop_) return;
    stop_ = true;
    cv_.notify_all();
    loops = std::move(loops_);
  }
  discovery_.join();
  for (auto& [key, loop] : loops) loop->Stop(false);
}

void ScrapeManager::ApplyConfig(std::vector<ScrapeConfig> configs) {
  MutexLock lk(mu_);
  std::vector<Job> jobs;
  for (auto& c : configs) {
    Job j;
    // Validated when the configuration was parsed.
    j.relabel = std::make_shared<const Relabeler>(
        *Relabeler::Compile(c.relabel_configs, "relabel_configs"));
    j.metric_relabel = std::make_shared<const Relabeler>(
        *Relabeler::Compile(c.metric_relabel_configs, "metric_relabel_configs"));
    j.config = std::move(c);
    jobs.push_back(std::move(j));
  }
  for (auto& old : jobs_) metrics_.targets.Add({{"job", old.config.job_name}}).Set(0);
  jobs_ = std::move(jobs);
  RefreshFiles(NowMillis());
  Sync();
}

bool ScrapeManager::RefreshFiles(int64_t now_ms) {
  bool changed = false;
  for (auto& job : jobs_) {
    if (job.config.file_sd_configs.empty()) continue;
    std::vector<std::string> paths;
    int64_t refresh = INT64_MAX;
    for (const auto& sd : job.config.file_sd_configs) {
      refresh = std::min(refresh, sd.refresh_interval_ms);
      for (const auto& pattern : sd.files) {
        glob_t g{};
        if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
          for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
        }
        globfree(&g);
      }
    }
    std::string signature;
    for (const auto& p : paths) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0) {
        signature +=
            fmt::format("{}:{}.{}:{};", p, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size);
      }
    }
    if (signature == job.files_signature && now_ms < job.next_refresh_ms) continue;
    job.files_signature = signature;
    job.next_refresh_ms = now_ms + refresh;
    std::map<std::string, std::vector<ScrapeTarget>> next;
    for (const auto& path : paths) {
      try {
        YAML::Node groups = YAML::LoadFile(path);  // YAML or JSON
        std::vector<ScrapeTarget> targets;
        if (groups && !groups.IsNull() && !groups.IsSequence()) {
          throw YAML::Exception(YAML::Mark::null_mark(), "want a list of target groups");
        }
        for (const auto& g : groups) {
          std::vector<std::string> addresses;
          std::map<std::string, std::string> labels;
          if (g["targets"]) addresses = g["targets"].as<std::vector<std::string>>();
          if (g["labels"]) labels = g["labels"].as<std::map<std::string, std::string>>();
          labels["__meta_filepath"] = path;
          auto t = TargetsOf(job.config, *job.relabel, addresses, labels);
          targets.insert(targets.end(), t.begin(), t.end());
        }
        next[path] = std::move(targets);
      } catch (const std::exception& e) {
        spdlog::warn(
            "msg=\"file_sd: cannot read targets; keeping the previous ones\" job={} "
            "file={} err=\"{}\"",
            job.config.job_name, path, e.what());
        if (auto it = job.file_targets.find(path); it != job.file_targets.end()) {
          next[path] = it->second;
        }
      }
    }
    job.file_targets = std::move(next);
    changed = true;
  }
  return changed;
}

void ScrapeManager::Sync() {
  std::map<std::string, std::pair<const Job*, ScrapeTarget>> want;
  for (const auto& job : jobs_) {
    std::vector<ScrapeTarget> targets;
    for (const auto& group : job.config.static_configs) {
      auto t = TargetsOf(job.config, *job.relabel, group.targets, group.labels);
      targets.insert(targets.end(), t.begin(), t.end());
    }
    for (const auto& [path, t] : job.file_targets)
      targets.insert(targets.end(), t.begin(), t.end());
    for (auto& t : targets) want.emplace(job.config.job_name + " " + t.Key(), std::pair{&job, t});
  }
  for (auto it = loops_.begin(); it != loops_.end();) {
    auto w = want.find(it->first);
    if (w == want.end()) {
      it->second->Stop(true);  // the target is gone: its series end
      it = loops_.erase(it);
    } else if (!(w->second.first->config == it->second->config())) {
      it->second->Stop(false);  // the job changed: the replacement continues its series
      it = loops_.erase(it);
    } else {
      ++it;
    }
  }
  std::map<std::string, double> per_job;
  for (auto& [key, jt] : want) {
    auto& [job, target] = jt;
    per_job[job->config.job_name] += 1;
    if (loops_.count(key)) continue;
    loops_[key] = std::make_unique<ScrapeLoop>(intake_, job->config, job->metric_relabel,
                                               std::move(target), metrics_);
  }
  for (const auto& job : jobs_) {
    metrics_.targets.Add({{"job", job.config.job_name}}).Set(per_job[job.config.job_name]);
  }
}

void ScrapeManager::DiscoveryLoop() {
  UniqueLock lk(mu_);
  while (!lk.WaitFor(cv_, std::chrono::seconds(1), [&]() REQUIRES(mu_) { return stop_; })) {
    if (RefreshFiles(NowMillis())) Sync();
  }
}

}  // namespace strata::agent
