#include "tsdb/compact/downsample.h"

#include <algorithm>

namespace strata::tsdb::compact {
namespace {

int64_t Window(int64_t t, int64_t res) { return t / res - (t % res < 0 ? 1 : 0); }

void PushCounter(std::vector<Sample>& c, int64_t t, double v) {
  if (c.empty() || c.back().t < t) c.push_back({t, v});
}

}  // namespace

block::AggrSeries DownsampleRaw(std::span<const Sample> raw, int64_t res) {
  block::AggrSeries out;
  bool open = false;
  int64_t window = 0;
  double count = 0;
  double sum = 0;
  double mn = 0;
  double mx = 0;
  int64_t last_t = 0;
  double running = 0;
  double prev = 0;
  bool have_prev = false;
  auto close = [&] {
    out.count.push_back({last_t, count});
    out.sum.push_back({last_t, sum});
    out.min.push_back({last_t, mn});
    out.max.push_back({last_t, mx});
    PushCounter(out.counter, last_t, running);
  };
  for (const Sample& s : raw) {
    if (IsStaleNaN(s.v)) continue;
    int64_t w = Window(s.t, res);
    if (open && w != window) close();
    if (!open || w != window) {
      open = true;
      window = w;
      count = 0;
      sum = 0;
      mn = s.v;
      mx = s.v;
    }
    ++count;
    sum += s.v;
    mn = std::min(mn, s.v);
    mx = std::max(mx, s.v);
    last_t = s.t;
    if (!have_prev) {
      // The first raw sample starts the counter, so the first window's increase counts.
      running = s.v;
      out.counter.push_back({s.t, s.v});
      have_prev = true;
    } else {
      running += s.v >= prev ? s.v - prev : s.v;  // a drop is a reset: the counter restarted
    }
    prev = s.v;
  }
  if (open) close();
  return out;
}

block::AggrSeries DownsampleAggr(const block::AggrSeries& in, int64_t res) {
  block::AggrSeries out;
  for (size_t i = 0; i < in.count.size();) {
    int64_t w = Window(in.count[i].t, res);
    double count = 0;
    double sum = 0;
    double mn = in.min[i].v;
    double mx = in.max[i].v;
    int64_t last_t = 0;
    for (; i < in.count.size() && Window(in.count[i].t, res) == w; ++i) {
      count += in.count[i].v;
      sum += in.sum[i].v;
      mn = std::min(mn, in.min[i].v);
      mx = std::max(mx, in.max[i].v);
      last_t = in.count[i].t;
    }
    out.count.push_back({last_t, count});
    out.sum.push_back({last_t, sum});
    out.min.push_back({last_t, mn});
    out.max.push_back({last_t, mx});
  }
  // The counter is a running total already: keep its first sample and each window's last.
  for (size_t i = 0; i < in.counter.size(); ++i) {
    bool last_of_window = i + 1 == in.counter.size() ||
                          Window(in.counter[i + 1].t, res) != Window(in.counter[i].t, res);
    if (i == 0 || last_of_window) PushCounter(out.counter, in.counter[i].t, in.counter[i].v);
  }
  return out;
}

}  // namespace strata::tsdb::compact
