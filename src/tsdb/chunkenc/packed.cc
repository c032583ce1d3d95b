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

// Patched frame of reference: most values are stored as (v - base) in `width` bits; the few
// that do not fit are exceptions, stored whole after the bit stream.
struct Frame {
  int64_t base = 0;
  int width = 0;
  size_t exceptions = 0;
};

Frame ChooseFrame(const std::vector<int64_t>& v) {
  std::vector<int64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  Frame best{sorted[0], BitWidth(static_cast<uint64_t>(Sub(sorted.back(), sorted[0]))), 0};
  size_t best_cost = sorted.size() * static_cast<size_t>(best.width);
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
    if (exceptions * kExceptionBits >= best_cost) break;
    size_t cost = sorted.size() * static_cast<size_t>(w) + exceptions * kExceptionBits;
    if (cost < best_cost) {
      best_cost = cost;
      best = {base, w, exceptions};
    }
  }
  return best;
}

size_t FrameCost(const std::vector<int64_t>& v) {
  Frame f = ChooseFrame(v);
  return v.size() * static_cast<size_t>(f.width) + f.exceptions * kExceptionBits;
}

void PutPatched(std::string& out, const std::vector<int64_t>& v) {
  Frame f = ChooseFrame(v);
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

// Writes x as its first value, then deltas or deltas of deltas (whichever packs smaller).
void PutIntSeries(std::string& out, const std::vector<int64_t>& x) {
  PutVarint(out, x[0]);
  if (x.size() == 1) return;
  std::vector<int64_t> d1 = Deltas(x);
  std::vector<int64_t> d2 = d1.size() > 1 ? Deltas(d1) : std::vector<int64_t>{};
  bool dod = !d2.empty() && FrameCost(d2) < FrameCost(d1);
  out.push_back(static_cast<char>(dod ? 1 : 0));
  if (dod) {
    PutVarint(out, d1[0]);
    PutPatched(out, d2);
  } else {
    PutPatched(out, d1);
  }
}

bool ReadIntSeries(ByteReader& r, size_t n, std::vector<int64_t>& x) {
  x.resize(n);
  if (!r.ReadVarint(&x[0])) return false;
  if (n == 1) return true;
  uint8_t dod = 0;
  if (!r.ReadByte(&dod) || dod > 1) return false;
  std::vector<int64_t> d;
  if (dod) {
    int64_t first = 0;
    if (!r.ReadVarint(&first) || !ReadPatched(r, n - 2, d)) return false;
    x[1] = Add(x[0], first);
    int64_t delta = first;
    for (size_t i = 2; i < n; ++i) {
      delta = Add(delta, d[i - 2]);
      x[i] = Add(x[i - 1], delta);
    }
  } else {
    if (!ReadPatched(r, n - 1, d)) return false;
    for (size_t i = 1; i < n; ++i) x[i] = Add(x[i - 1], d[i - 1]);
  }
  return true;
}

// Mantissas at exponent e, and each value's distance in ULPs from mantissa / 10^e (0 for
// decimal values; small for sums of decimals that picked up rounding noise).
bool Split(std::span<const Sample> s, int e, std::vector<int64_t>& m, std::vector<int64_t>& ulps) {
  m.resize(s.size());
  ulps.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    double scaled = s[i].v * Pow10(e);
    if (std::fabs(scaled) >= kMaxMantissa) return false;
    double r = std::nearbyint(scaled);
    m[i] = static_cast<int64_t>(r);
    // Relative to what the decoder computes, so -0 and tiny values round-trip too.
    double base = static_cast<double>(m[i]) / Pow10(e);
    ulps[i] = Sub(std::bit_cast<int64_t>(s[i].v), std::bit_cast<int64_t>(base));
  }
  return true;
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
  // The exponent with the cheapest mantissa deltas plus ULP corrections.
  std::vector<int64_t> m;
  std::vector<int64_t> ulps;
  int best_e = 0;
  size_t best_cost = SIZE_MAX;
  for (int e = 0; e <= kMaxExponent; ++e) {
    if (!Split(samples, e, m, ulps)) break;
    size_t ulp_cost = FrameCost(ulps);
    size_t cost = (samples.size() > 1 ? FrameCost(Deltas(m)) : 0) + ulp_cost;
    if (cost < best_cost) {
      best_cost = cost;
      best_e = e;
    }
    // Exact at this exponent: a larger one only makes mantissas wider.
    if (ulp_cost == 0) break;
  }
  Split(samples, best_e, m, ulps);
  PutUvarint(out, samples.size());
  out.push_back(static_cast<char>(best_e));
  std::vector<int64_t> ts(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) ts[i] = samples[i].t;
  PutIntSeries(out, ts);
  PutIntSeries(out, m);
  PutPatched(out, ulps);
}

Status DecodePacked(std::string_view data, std::vector<Sample>& out) {
  ByteReader r(data);
  uint64_t n = 0;
  uint8_t e = 0;
  if (!r.ReadUvarint(&n) || n == 0 || n > kMaxPackedSamples || !r.ReadByte(&e) ||
      e > kMaxExponent) {
    return Status::Corruption("packed chunk: bad header");
  }
  std::vector<int64_t> ts;
  std::vector<int64_t> ms;
  std::vector<int64_t> ulps;
  if (!ReadIntSeries(r, n, ts) || !ReadIntSeries(r, n, ms) || !ReadPatched(r, n, ulps) ||
      !r.empty()) {
    return Status::Corruption("packed chunk: truncated or malformed");
  }
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && ts[i] <= ts[i - 1]) return Status::Corruption("packed chunk: unordered time");
    double base = static_cast<double>(ms[i]) / Pow10(e);
    out.push_back({ts[i], std::bit_cast<double>(Add(std::bit_cast<int64_t>(base), ulps[i]))});
  }
  return Status::Ok();
}

}  // namespace strata::chunkenc
