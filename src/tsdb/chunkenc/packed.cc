#include "tsdb/chunkenc/packed.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "base/coding.h"
#include "tsdb/chunkenc/bitstream.h"

namespace strata::chunkenc {
namespace {

constexpr int kMaxExponent = 15;
constexpr double kMaxMantissa = 9007199254740992.0;  // 2^53: exact in a double
constexpr size_t kExceptionBits = 80;                // rough cost of one patched exception

double Pow10(int e) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  return kPow10[e];
}

int64_t Add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t Sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int BitWidth(uint64_t v) { return v == 0 ? 0 : 64 - std::countl_zero(v); }

// Sorts v; long ones least significant digit first, 8 bits at a time, on each value's distance from
// the least one, skipping the digits every distance shares (a chunk's deltas span a few
// bytes at most). An encoder sorts each chunk's integer series a few dozen times while
// choosing frames; std::sort's comparisons were most of the encoder's time.
void RadixSort(std::vector<int64_t>& v, std::vector<int64_t>& tmp) {
  if (v.size() < 256) {  // a pass costs its 256 counters: comparisons win on short series
    std::sort(v.begin(), v.end());
    return;
  }
  const int64_t least = *std::min_element(v.begin(), v.end());
  auto key = [least](int64_t x) { return static_cast<uint64_t>(Sub(x, least)); };
  uint64_t any = 0;
  for (int64_t x : v) any |= key(x);
  tmp.resize(v.size());
  for (int shift = 0; shift < 64 && (any >> shift) != 0; shift += 8) {
    if (((any >> shift) & 0xff) == 0) continue;
    size_t pos[256] = {};
    for (int64_t x : v) ++pos[(key(x) >> shift) & 0xff];
    size_t sum = 0;
    for (size_t& p : pos) {
      size_t c = p;
      p = sum;
      sum += c;
    }
    for (int64_t x : v) tmp[pos[(key(x) >> shift) & 0xff]++] = x;
    v.swap(tmp);
  }
}

// Patched frame of reference: most values are stored as (v - base) in `width` bits; the few
// that do not fit are exceptions, stored whole after the bit stream.
struct Frame {
  int64_t base = 0;
  int width = 0;
  size_t exceptions = 0;
  size_t cost = 0;  // bits, exceptions at their rough cost
};

Frame ChooseFrame(const std::vector<int64_t>& v) {
  thread_local std::vector<int64_t> sorted;
  thread_local std::vector<int64_t> tmp;
  sorted = v;
  RadixSort(sorted, tmp);
  Frame best{sorted[0], BitWidth(static_cast<uint64_t>(Sub(sorted.back(), sorted[0]))), 0, 0};
  best.cost = sorted.size() * static_cast<size_t>(best.width);
  // Narrower widths leave more exceptions: stop once they alone cost more than the best.
  for (int w = best.width - 1; w >= 0; --w) {
    // The window [b, b + 2^w) holding the most values.
    uint64_t span = w == 0 ? 0 : (uint64_t{1} << w) - 1;
    size_t lo = 0;
    size_t covered = 0;
    int64_t base = sorted[0];
    for (size_t hi = 0; hi < sorted.size(); ++hi) {
      while (static_cast<uint64_t>(Sub(sorted[hi], sorted[lo])) > span) ++lo;
      if (hi - lo + 1 > covered) {
        covered = hi - lo + 1;
        base = sorted[lo];
      }
    }
    size_t exceptions = sorted.size() - covered;
    if (exceptions * kExceptionBits >= best.cost) break;
    size_t cost = sorted.size() * static_cast<size_t>(w) + exceptions * kExceptionBits;
    if (cost < best.cost) best = {base, w, exceptions, cost};
  }
  return best;
}

// Writes v in frame f, chosen for it by ChooseFrame.
void PutPatched(std::string& out, const std::vector<int64_t>& v, const Frame& f) {
  PutVarint(out, f.base);
  out.push_back(static_cast<char>(f.width));
  std::vector<uint8_t> bits;
  BitWriter bw(bits, 0);
  std::vector<std::pair<size_t, int64_t>> exceptions;
  uint64_t limit = f.width == 0 ? 0 : (f.width == 64 ? ~uint64_t{0} : (uint64_t{1} << f.width) - 1);
  for (size_t i = 0; i < v.size(); ++i) {
    auto off = static_cast<uint64_t>(Sub(v[i], f.base));
    if (off > limit) {
      exceptions.emplace_back(i, v[i]);
      off = 0;
    }
    bw.WriteBits(off, f.width);
  }
  out.append(reinterpret_cast<const char*>(bits.data()), bits.size());
  PutUvarint(out, exceptions.size());
  size_t prev = 0;
  for (const auto& [i, x] : exceptions) {
    PutUvarint(out, i - prev);
    PutVarint(out, x);
    prev = i;
  }
}

bool ReadPatched(ByteReader& r, size_t n, std::vector<int64_t>& v) {
  int64_t base = 0;
  uint8_t w = 0;
  if (!r.ReadVarint(&base) || !r.ReadByte(&w) || w > 64) return false;
  std::string_view packed;
  if (!r.ReadBytes((n * w + 7) / 8, &packed)) return false;
  BitReader br({reinterpret_cast<const uint8_t*>(packed.data()), packed.size()});
  v.resize(n);
  for (size_t i = 0; i < n; ++i) v[i] = Add(base, static_cast<int64_t>(br.ReadBits(w)));
  uint64_t exceptions = 0;
  if (br.overflow() || !r.ReadUvarint(&exceptions) || exceptions > n) return false;
  size_t pos = 0;
  for (uint64_t k = 0; k < exceptions; ++k) {
    uint64_t gap = 0;
    int64_t x = 0;
    if (!r.ReadUvarint(&gap) || !r.ReadVarint(&x) || gap > n || pos + gap >= n ||
        (k > 0 && gap == 0)) {
      return false;
    }
    pos += gap;
    v[pos] = x;
  }
  return true;
}

std::vector<int64_t> Deltas(const std::vector<int64_t>& x) {
  std::vector<int64_t> d(x.size() - 1);
  for (size_t i = 1; i < x.size(); ++i) d[i - 1] = Sub(x[i], x[i - 1]);
  return d;
}

// How an integer series is stored after its first value.
enum IntMode : uint8_t {
  kDeltas = 0,          // x[i] - x[i-1]
  kDeltasOfDeltas = 1,  // (x[i] - x[i-1]) - (x[i-1] - x[i-2]), after the first delta
  kGrid = 2,            // x[i] - (x[0] + i * step): regular scrapes with jitter
};

int64_t GridPoint(int64_t x0, size_t i, int64_t step) {
  return Add(x0, static_cast<int64_t>(static_cast<uint64_t>(i) * static_cast<uint64_t>(step)));
}

std::vector<int64_t> GridResiduals(const std::vector<int64_t>& x, int64_t step) {
  std::vector<int64_t> r(x.size() - 1);
  for (size_t i = 1; i < x.size(); ++i) r[i - 1] = Sub(x[i], GridPoint(x[0], i, step));
  return r;
}

// The cheapest way to store x (size >= 2): its mode, the first delta or grid step, and
// the integers to patch.
struct IntPlan {
  IntMode mode = kDeltas;
  int64_t param = 0;
  std::vector<int64_t> rest;
  Frame frame;  // of rest
  size_t cost = 0;
};

IntPlan PlanIntSeries(const std::vector<int64_t>& x) {
  IntPlan best{kDeltas, 0, Deltas(x), {}, 0};
  best.frame = ChooseFrame(best.rest);
  best.cost = best.frame.cost;
  if (x.size() < 3) return best;
  auto consider = [&best](IntMode mode, int64_t param, std::vector<int64_t> rest) {
    Frame f = ChooseFrame(rest);
    size_t cost = f.cost + 64;  // the parameter's varint, at worst
    if (cost < best.cost) best = {mode, param, std::move(rest), f, cost};
  };
  std::vector<int64_t> d1 = best.rest;
  consider(kDeltasOfDeltas, d1[0], Deltas(d1));
  // A grid through the first point: the median step (robust to a missed scrape) and the
  // mean step (exact when jitter averages out).
  std::vector<int64_t> sorted = d1;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2),
                   sorted.end());
  int64_t median = sorted[sorted.size() / 2];
  auto span = static_cast<int64_t>(x.size() - 1);
  int64_t total = Sub(x.back(), x[0]);
  int64_t mean = total / span + (2 * (total % span) >= span ? 1 : 0);
  consider(kGrid, median, GridResiduals(x, median));
  if (mean != median) consider(kGrid, mean, GridResiduals(x, mean));
  return best;
}

// Writes x by `plan`, PlanIntSeries(x) (unused when x has one value).
void PutIntSeries(std::string& out, const std::vector<int64_t>& x, const IntPlan& plan) {
  PutVarint(out, x[0]);
  if (x.size() == 1) return;
  out.push_back(static_cast<char>(plan.mode));
  if (plan.mode != kDeltas) PutVarint(out, plan.param);
  PutPatched(out, plan.rest, plan.frame);
}

bool ReadIntSeries(ByteReader& r, size_t n, std::vector<int64_t>& x) {
  x.resize(n);
  if (!r.ReadVarint(&x[0])) return false;
  if (n == 1) return true;
  uint8_t mode = 0;
  int64_t param = 0;
  if (!r.ReadByte(&mode) || mode > kGrid || (mode != kDeltas && (n < 3 || !r.ReadVarint(&param)))) {
    return false;
  }
  std::vector<int64_t> d;
  switch (mode) {
    case kDeltas:
      if (!ReadPatched(r, n - 1, d)) return false;
      for (size_t i = 1; i < n; ++i) x[i] = Add(x[i - 1], d[i - 1]);
      break;
    case kDeltasOfDeltas: {
      if (!ReadPatched(r, n - 2, d)) return false;
      x[1] = Add(x[0], param);
      int64_t delta = param;
      for (size_t i = 2; i < n; ++i) {
        delta = Add(delta, d[i - 2]);
        x[i] = Add(x[i - 1], delta);
      }
      break;
    }
    default:
      if (!ReadPatched(r, n - 1, d)) return false;
      for (size_t i = 1; i < n; ++i) x[i] = Add(GridPoint(x[0], i, param), d[i - 1]);
  }
  return true;
}

// The double a value's correction is relative to. kDivided: mantissa / 10^e, exact for
// decimal values. kAccumulated: the previous value plus the mantissa's step / 10^e, exact
// for counters a sender keeps as a running double sum of decimal increments (their
// division noise drifts; the sum's does not).
enum BaseMode : uint8_t { kDivided = 0, kAccumulated = 0x80 };

double BaseValue(BaseMode mode, int e, const std::vector<int64_t>& m, size_t i, double prev) {
  if (mode == kDivided || i == 0) return static_cast<double>(m[i]) / Pow10(e);
  return prev + static_cast<double>(Sub(m[i], m[i - 1])) / Pow10(e);
}

// Mantissas of s at exponent e; false if one does not fit in 53 bits.
bool Mantissas(std::span<const Sample> s, int e, std::vector<int64_t>& m) {
  m.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    double scaled = s[i].v * Pow10(e);
    if (std::fabs(scaled) >= kMaxMantissa) return false;
    m[i] = static_cast<int64_t>(std::nearbyint(scaled));
  }
  return true;
}

// Each value's distance in ULPs from its base (computed as the decoder will, so -0 and
// tiny values round-trip too).
std::vector<int64_t> Ulps(std::span<const Sample> s, BaseMode mode, int e,
                          const std::vector<int64_t>& m) {
  std::vector<int64_t> ulps(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    double base = BaseValue(mode, e, m, i, i == 0 ? 0.0 : s[i - 1].v);
    ulps[i] = Sub(std::bit_cast<int64_t>(s[i].v), std::bit_cast<int64_t>(base));
  }
  return ulps;
}

}  // namespace

bool CanPack(std::span<const Sample> samples) {
  if (samples.empty() || samples.size() > kMaxPackedSamples) return false;
  for (const Sample& s : samples) {
    if (!std::isfinite(s.v) || std::fabs(s.v) >= kMaxMantissa) return false;
  }
  return true;
}

void EncodePacked(std::span<const Sample> samples, std::string& out) {
  // The exponent and base with the cheapest mantissas plus ULP corrections; the winner's
  // plans are kept for writing.
  std::vector<int64_t> m;
  int best_e = 0;
  BaseMode best_mode = kDivided;
  size_t best_cost = SIZE_MAX;
  std::vector<int64_t> best_m;
  IntPlan best_m_plan;
  std::vector<int64_t> best_ulps;
  Frame best_ulp_frame;
  for (int e = 0; e <= kMaxExponent && Mantissas(samples, e, m); ++e) {
    IntPlan m_plan;
    if (samples.size() > 1) m_plan = PlanIntSeries(m);
    size_t min_ulp_cost = SIZE_MAX;
    for (BaseMode mode : {kDivided, kAccumulated}) {
      std::vector<int64_t> ulps = Ulps(samples, mode, e, m);
      Frame f = ChooseFrame(ulps);
      min_ulp_cost = std::min(min_ulp_cost, f.cost);
      if (m_plan.cost + f.cost < best_cost) {
        best_cost = m_plan.cost + f.cost;
        best_e = e;
        best_mode = mode;
        best_m = m;
        best_m_plan = m_plan;
        best_ulps = std::move(ulps);
        best_ulp_frame = f;
      }
    }
    // Exact at this exponent: a larger one only makes mantissas wider.
    if (min_ulp_cost == 0) break;
  }
  PutUvarint(out, samples.size());
  out.push_back(static_cast<char>(best_e | best_mode));
  std::vector<int64_t> ts(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) ts[i] = samples[i].t;
  PutIntSeries(out, ts, samples.size() > 1 ? PlanIntSeries(ts) : IntPlan{});
  PutIntSeries(out, best_m, best_m_plan);
  PutPatched(out, best_ulps, best_ulp_frame);
}

Status DecodePacked(std::string_view data, std::vector<Sample>& out) {
  ByteReader r(data);
  uint64_t n = 0;
  uint8_t header = 0;
  if (!r.ReadUvarint(&n) || n == 0 || n > kMaxPackedSamples || !r.ReadByte(&header) ||
      (header & ~kAccumulated) > kMaxExponent) {
    return Status::Corruption("packed chunk: bad header");
  }
  int e = header & ~kAccumulated;
  auto mode = static_cast<BaseMode>(header & kAccumulated);
  std::vector<int64_t> ts;
  std::vector<int64_t> ms;
  std::vector<int64_t> ulps;
  if (!ReadIntSeries(r, n, ts) || !ReadIntSeries(r, n, ms) || !ReadPatched(r, n, ulps) ||
      !r.empty()) {
    return Status::Corruption("packed chunk: truncated or malformed");
  }
  double prev = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && ts[i] <= ts[i - 1]) return Status::Corruption("packed chunk: unordered time");
    double base = BaseValue(mode, e, ms, i, prev);
    prev = std::bit_cast<double>(Add(std::bit_cast<int64_t>(base), ulps[i]));
    out.push_back({ts[i], prev});
  }
  return Status::Ok();
}

}  // namespace strata::chunkenc
