#include "base/histogram.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <tuple>
#include <type_traits>
#include <utility>

#include "base/units.h"

namespace strata::histogram {
namespace {

// Prometheus's exponentialBounds: the fractions 2^(k/2^s)/2 of schema s, as Prometheus tabulates
// them (some differ from the correctly rounded value in the last bit, so they are data, not
// computed).
constexpr double kBoundFractions[] = {
    // schema 0
    0.5,
    // schema 1
    0.5,
    0.7071067811865475,
    // schema 2
    0.5,
    0.5946035575013605,
    0.7071067811865475,
    0.8408964152537144,
    // schema 3
    0.5,
    0.5452538663326288,
    0.5946035575013605,
    0.6484197773255048,
    0.7071067811865475,
    0.7711054127039704,
    0.8408964152537144,
    0.9170040432046711,
    // schema 4
    0.5,
    0.5221368912137069,
    0.5452538663326288,
    0.5693943173783458,
    0.5946035575013605,
    0.620928906036742,
    0.6484197773255048,
    0.6771277734684463,
    0.7071067811865475,
    0.7384130729697496,
    0.7711054127039704,
    0.805245165974627,
    0.8408964152537144,
    0.8781260801866495,
    0.9170040432046711,
    0.9576032806985735,
    // schema 5
    0.5,
    0.5109485743270583,
    0.5221368912137069,
    0.5335702003384117,
    0.5452538663326288,
    0.5571933712979462,
    0.5693943173783458,
    0.5818624293887887,
    0.5946035575013605,
    0.6076236799902344,
    0.620928906036742,
    0.6345254785958666,
    0.6484197773255048,
    0.6626183215798706,
    0.6771277734684463,
    0.6919549409819159,
    0.7071067811865475,
    0.7225904034885232,
    0.7384130729697496,
    0.7545822137967112,
    0.7711054127039704,
    0.7879904225539431,
    0.805245165974627,
    0.8228777390769823,
    0.8408964152537144,
    0.8593096490612387,
    0.8781260801866495,
    0.8973545375015533,
    0.9170040432046711,
    0.9370838170551498,
    0.9576032806985735,
    0.9785720620876999,
    // schema 6
    0.5,
    0.5054446430258502,
    0.5109485743270583,
    0.5165124395106142,
    0.5221368912137069,
    0.5278225891802786,
    0.5335702003384117,
    0.5393803988785598,
    0.5452538663326288,
    0.5511912916539204,
    0.5571933712979462,
    0.5632608093041209,
    0.5693943173783458,
    0.5755946149764913,
    0.5818624293887887,
    0.5881984958251406,
    0.5946035575013605,
    0.6010783657263515,
    0.6076236799902344,
    0.6142402680534349,
    0.620928906036742,
    0.6276903785123455,
    0.6345254785958666,
    0.6414350080393891,
    0.6484197773255048,
    0.6554806057623822,
    0.6626183215798706,
    0.6698337620266515,
    0.6771277734684463,
    0.6845012114872953,
    0.6919549409819159,
    0.6994898362691555,
    0.7071067811865475,
    0.7148066691959849,
    0.7225904034885232,
    0.7304588970903234,
    0.7384130729697496,
    0.7464538641456323,
    0.7545822137967112,
    0.762799075372269,
    0.7711054127039704,
    0.7795022001189185,
    0.7879904225539431,
    0.7965710756711334,
    0.805245165974627,
    0.8140137109286738,
    0.8228777390769823,
    0.8318382901633681,
    0.8408964152537144,
    0.8500531768592616,
    0.8593096490612387,
    0.8686669176368529,
    0.8781260801866495,
    0.8876882462632604,
    0.8973545375015533,
    0.9071260877501991,
    0.9170040432046711,
    0.9269895625416926,
    0.9370838170551498,
    0.9472879907934827,
    0.9576032806985735,
    0.9680308967461471,
    0.9785720620876999,
    0.9892280131939752,
    // schema 7
    0.5,
    0.5027149505564014,
    0.5054446430258502,
    0.5081891574554764,
    0.5109485743270583,
    0.5137229745593818,
    0.5165124395106142,
    0.5193170509806894,
    0.5221368912137069,
    0.5249720429003435,
    0.5278225891802786,
    0.5306886136446309,
    0.5335702003384117,
    0.5364674337629877,
    0.5393803988785598,
    0.5423091811066545,
    0.5452538663326288,
    0.5482145409081883,
    0.5511912916539204,
    0.5541842058618393,
    0.5571933712979462,
    0.5602188762048033,
    0.5632608093041209,
    0.5663192597993595,
    0.5693943173783458,
    0.572486072215902,
    0.5755946149764913,
    0.5787200368168754,
    0.5818624293887887,
    0.585021884841625,
    0.5881984958251406,
    0.5913923554921704,
    0.5946035575013605,
    0.5978321960199137,
    0.6010783657263515,
    0.6043421618132907,
    0.6076236799902344,
    0.6109230164863786,
    0.6142402680534349,
    0.6175755319684665,
    0.620928906036742,
    0.6243004885946023,
    0.6276903785123455,
    0.6310986751971253,
    0.6345254785958666,
    0.637970889198196,
    0.6414350080393891,
    0.6449179367033329,
    0.6484197773255048,
    0.6519406325959679,
    0.6554806057623822,
    0.659039800633032,
    0.6626183215798706,
    0.6662162735415805,
    0.6698337620266515,
    0.6734708931164728,
    0.6771277734684463,
    0.6808045103191123,
    0.6845012114872953,
    0.688217985377265,
    0.6919549409819159,
    0.6957121878859629,
    0.6994898362691555,
    0.7032879969095076,
    0.7071067811865475,
    0.7109463010845827,
    0.7148066691959849,
    0.718687998724491,
    0.7225904034885232,
    0.7265139979245261,
    0.7304588970903234,
    0.7344252166684908,
    0.7384130729697496,
    0.7424225829363761,
    0.7464538641456323,
    0.7505070348132126,
    0.7545822137967112,
    0.7586795205991071,
    0.762799075372269,
    0.7669409989204777,
    0.7711054127039704,
    0.7752924388424999,
    0.7795022001189185,
    0.7837348199827764,
    0.7879904225539431,
    0.7922691326262467,
    0.7965710756711334,
    0.8008963778413465,
    0.805245165974627,
    0.8096175675974316,
    0.8140137109286738,
    0.8184337248834821,
    0.8228777390769823,
    0.8273458838280969,
    0.8318382901633681,
    0.8363550898207981,
    0.8408964152537144,
    0.8454623996346523,
    0.8500531768592616,
    0.8546688815502312,
    0.8593096490612387,
    0.8639756154809185,
    0.8686669176368529,
    0.8733836930995842,
    0.8781260801866495,
    0.8828942179666361,
    0.8876882462632604,
    0.8925083056594671,
    0.8973545375015533,
    0.9022270839033115,
    0.9071260877501991,
    0.9120516927035263,
    0.9170040432046711,
    0.9219832844793128,
    0.9269895625416926,
    0.9320230241988943,
    0.9370838170551498,
    0.9421720895161669,
    0.9472879907934827,
    0.9524316709088368,
    0.9576032806985735,
    0.9628029718180622,
    0.9680308967461471,
    0.9732872087896164,
    0.9785720620876999,
    0.9838856116165875,
    0.9892280131939752,
    0.9945994234836328,
    // schema 8
    0.5,
    0.5013556375251013,
    0.5027149505564014,
    0.5040779490592088,
    0.5054446430258502,
    0.5068150424757447,
    0.5081891574554764,
    0.509566998038869,
    0.5109485743270583,
    0.5123338964485679,
    0.5137229745593818,
    0.5151158188430205,
    0.5165124395106142,
    0.5179128468009786,
    0.5193170509806894,
    0.520725062344158,
    0.5221368912137069,
    0.5235525479396449,
    0.5249720429003435,
    0.526395386502313,
    0.5278225891802786,
    0.5292536613972564,
    0.5306886136446309,
    0.5321274564422321,
    0.5335702003384117,
    0.5350168559101208,
    0.5364674337629877,
    0.5379219445313954,
    0.5393803988785598,
    0.5408428074966075,
    0.5423091811066545,
    0.5437795304588847,
    0.5452538663326288,
    0.5467321995364429,
    0.5482145409081883,
    0.549700901315111,
    0.5511912916539204,
    0.5526857228508706,
    0.5541842058618393,
    0.5556867516724088,
    0.5571933712979462,
    0.5587040757836845,
    0.5602188762048033,
    0.5617377836665098,
    0.5632608093041209,
    0.564787964283144,
    0.5663192597993595,
    0.5678547070789026,
    0.5693943173783458,
    0.5709381019847808,
    0.572486072215902,
    0.5740382394200894,
    0.5755946149764913,
    0.5771552102951081,
    0.5787200368168754,
    0.5802891060137493,
    0.5818624293887887,
    0.5834400184762408,
    0.585021884841625,
    0.5866080400818185,
    0.5881984958251406,
    0.5897932637314379,
    0.5913923554921704,
    0.5929957828304968,
    0.5946035575013605,
    0.5962156912915756,
    0.5978321960199137,
    0.5994530835371903,
    0.6010783657263515,
    0.6027080545025619,
    0.6043421618132907,
    0.6059806996384005,
    0.6076236799902344,
    0.6092711149137041,
    0.6109230164863786,
    0.6125793968185725,
    0.6142402680534349,
    0.6159056423670379,
    0.6175755319684665,
    0.6192499490999082,
    0.620928906036742,
    0.622612415087629,
    0.6243004885946023,
    0.6259931389331581,
    0.6276903785123455,
    0.6293922197748583,
    0.6310986751971253,
    0.6328097572894031,
    0.6345254785958666,
    0.6362458516947014,
    0.637970889198196,
    0.6397006037528346,
    0.6414350080393891,
    0.6431741147730128,
    0.6449179367033329,
    0.6466664866145447,
    0.6484197773255048,
    0.6501778216898253,
    0.6519406325959679,
    0.6537082229673385,
    0.6554806057623822,
    0.6572577939746774,
    0.659039800633032,
    0.6608266388015788,
    0.6626183215798706,
    0.6644148621029772,
    0.6662162735415805,
    0.6680225691020727,
    0.6698337620266515,
    0.6716498655934177,
    0.6734708931164728,
    0.6752968579460171,
    0.6771277734684463,
    0.6789636531064505,
    0.6808045103191123,
    0.6826503586020058,
    0.6845012114872953,
    0.6863570825438342,
    0.688217985377265,
    0.690083933630119,
    0.6919549409819159,
    0.6938310211492645,
    0.6957121878859629,
    0.6975984549830999,
    0.6994898362691555,
    0.7013863456101023,
    0.7032879969095076,
    0.7051948041086352,
    0.7071067811865475,
    0.7090239421602076,
    0.7109463010845827,
    0.7128738720527471,
    0.7148066691959849,
    0.7167447066838943,
    0.718687998724491,
    0.7206365595643126,
    0.7225904034885232,
    0.7245495448210174,
    0.7265139979245261,
    0.7284837772007218,
    0.7304588970903234,
    0.7324393720732029,
    0.7344252166684908,
    0.7364164454346837,
    0.7384130729697496,
    0.7404151139112358,
    0.7424225829363761,
    0.7444354947621984,
    0.7464538641456323,
    0.7484777058836176,
    0.7505070348132126,
    0.7525418658117031,
    0.7545822137967112,
    0.7566280937263048,
    0.7586795205991071,
    0.7607365094544071,
    0.762799075372269,
    0.7648672334736434,
    0.7669409989204777,
    0.7690203869158282,
    0.7711054127039704,
    0.7731960915705107,
    0.7752924388424999,
    0.7773944698885442,
    0.7795022001189185,
    0.7816156449856788,
    0.7837348199827764,
    0.7858597406461707,
    0.7879904225539431,
    0.7901268813264122,
    0.7922691326262467,
    0.7944171921585818,
    0.7965710756711334,
    0.7987307989543135,
    0.8008963778413465,
    0.8030678282083853,
    0.805245165974627,
    0.8074284071024302,
    0.8096175675974316,
    0.8118126635086642,
    0.8140137109286738,
    0.8162207259936375,
    0.8184337248834821,
    0.820652723822003,
    0.8228777390769823,
    0.8251087869603088,
    0.8273458838280969,
    0.8295890460808079,
    0.8318382901633681,
    0.8340936325652911,
    0.8363550898207981,
    0.8386226785089391,
    0.8408964152537144,
    0.8431763167241966,
    0.8454623996346523,
    0.8477546807446661,
    0.8500531768592616,
    0.8523579048290255,
    0.8546688815502312,
    0.8569861239649629,
    0.8593096490612387,
    0.8616394738731368,
    0.8639756154809185,
    0.8663180910111553,
    0.8686669176368529,
    0.871022112577578,
    0.8733836930995842,
    0.8757516765159389,
    0.8781260801866495,
    0.8805069215187917,
    0.8828942179666361,
    0.8852879870317771,
    0.8876882462632604,
    0.890095013257712,
    0.8925083056594671,
    0.8949281411607002,
    0.8973545375015533,
    0.8997875124702672,
    0.9022270839033115,
    0.9046732696855155,
    0.9071260877501991,
    0.909585556079304,
    0.9120516927035263,
    0.9145245157024483,
    0.9170040432046711,
    0.9194902933879467,
    0.9219832844793128,
    0.9244830347552253,
    0.9269895625416926,
    0.92950288621441,
    0.9320230241988943,
    0.9345499949706191,
    0.9370838170551498,
    0.93962450902828,
    0.9421720895161669,
    0.9447265771954693,
    0.9472879907934827,
    0.9498563490882775,
    0.9524316709088368,
    0.9550139751351947,
    0.9576032806985735,
    0.9601996065815236,
    0.9628029718180622,
    0.9654133954938133,
    0.9680308967461471,
    0.9706554947643201,
    0.9732872087896164,
    0.9759260581154889,
    0.9785720620876999,
    0.9812252401044634,
    0.9838856116165875,
    0.9865531961276168,
    0.9892280131939752,
    0.9919100824251095,
    0.9945994234836328,
    0.9972960560854698,
};

constexpr size_t FractionsStart(int32_t schema) { return (size_t{1} << schema) - 1; }

// A side's buckets as (index, count) pairs in index order: the form the operations below work
// on, turned back into spans by Layout.
struct IndexedCount {
  int32_t index;
  double count;
};
using BucketList = std::vector<IndexedCount>;

BucketList Expand(const std::vector<Span>& spans, const std::vector<double>& buckets) {
  BucketList out;
  out.reserve(buckets.size());
  int64_t idx = 0;
  size_t b = 0;
  for (const Span& s : spans) {
    idx += s.offset;
    for (uint32_t j = 0; j < s.length && b < buckets.size(); ++j, ++idx, ++b) {
      out.push_back({static_cast<int32_t>(idx), buckets[b]});
    }
  }
  return out;
}

void Layout(const BucketList& list, std::vector<Span>* spans, std::vector<double>* buckets) {
  spans->clear();
  buckets->clear();
  buckets->reserve(list.size());
  int32_t prev = 0;
  for (const IndexedCount& b : list) {
    if (spans->empty()) {
      spans->push_back({b.index, 1});
    } else if (b.index == prev + 1) {
      ++spans->back().length;
    } else {
      spans->push_back({b.index - prev - 1, 1});
    }
    prev = b.index;
    buckets->push_back(b.count);
  }
}

int32_t TargetIndex(int32_t idx, int32_t origin, int32_t target) {
  return ((idx - 1) >> (origin - target)) + 1;
}

// Merges the buckets of `list` into the buckets of a lower schema.
BucketList Reduce(const BucketList& list, int32_t origin, int32_t target) {
  if (origin == target) return list;
  BucketList out;
  for (const IndexedCount& b : list) {
    int32_t t = TargetIndex(b.index, origin, target);
    if (!out.empty() && out.back().index == t) {
      out.back().count += b.count;
    } else {
      out.push_back({t, b.count});
    }
  }
  return out;
}

// a + b (or a - b), bucket by bucket. Leading buckets of b that lie inside the zero bucket of
// threshold `threshold` are skipped: Reconcile counted them into the zero bucket.
BucketList AddLists(const BucketList& a, const BucketList& b, int32_t schema, double threshold,
                    bool subtract) {
  size_t j = 0;
  if (IsExponentialSchema(schema)) {
    while (j < b.size() && BucketBound(b[j].index, schema, {}) <= threshold) ++j;
  }
  BucketList out;
  out.reserve(a.size() + b.size() - j);
  size_t i = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].index < b[j].index)) {
      out.push_back(a[i++]);
      continue;
    }
    double add = subtract ? -b[j].count : b[j].count;
    if (i < a.size() && a[i].index == b[j].index) {
      out.push_back({a[i].index, a[i].count + add});
      ++i;
    } else {
      out.push_back({b[j].index, add});
    }
    ++j;
  }
  return out;
}

BucketList DropEmpty(BucketList list) {
  std::erase_if(list, [](const IndexedCount& b) { return b.count == 0; });
  return list;
}

bool BitsEqual(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

bool BitsEqual(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!BitsEqual(a[i], b[i])) return false;
  }
  return true;
}

bool AllEmpty(std::span<const Span> s) {
  for (const Span& x : s) {
    if (x.length > 0) return false;
  }
  return true;
}

// Prometheus's spansMatch: equal once spans of length 0 are folded into the next span.
bool SpansMatch(const std::vector<Span>& s1, const std::vector<Span>& s2) {
  size_t i1 = 0;
  size_t i2 = 0;
  auto next = [](const std::vector<Span>& s, size_t& i) {
    Span cur = s[i++];
    if (cur.length == 0) {
      for (; i < s.size() && s[i].length == 0; ++i) cur.offset += s[i].offset;
      if (i < s.size()) {
        cur.offset += s[i].offset;
        cur.length = s[i].length;
        ++i;
      }
    }
    return cur;
  };
  while (true) {
    if (i1 >= s1.size()) return AllEmpty(std::span(s2).subspan(i2));
    if (i2 >= s2.size()) return AllEmpty(std::span(s1).subspan(i1));
    Span a = next(s1, i1);
    Span b = next(s2, i2);
    if (a.length == 0 && b.length == 0) return true;
    if (a != b) return false;
  }
}

Bucket MakeBucket(int32_t idx, double count, bool positive, int32_t schema,
                  std::span<const double> custom) {
  Bucket b;
  b.count = count;
  b.index = idx;
  if (positive) {
    b.upper = BucketBound(idx, schema, custom);
    b.lower = BucketBound(idx - 1, schema, custom);
  } else {
    b.lower = -BucketBound(idx, schema, custom);
    b.upper = -BucketBound(idx - 1, schema, custom);
  }
  if (IsCustomBucketsSchema(schema)) {
    b.lower_inclusive = idx == 0;
    b.upper_inclusive = true;
  } else {
    b.lower_inclusive = b.lower < 0;
    b.upper_inclusive = b.upper > 0;
  }
  return b;
}

Status CheckSpans(const char* side, const std::vector<Span>& spans, size_t buckets) {
  size_t need = 0;
  for (size_t n = 0; n < spans.size(); ++n) {
    if (n > 0 && spans[n].offset < 0) {
      return Status::InvalidArgument(
          fmt::format("{} side: span number {} with offset {}: histogram has a span whose offset "
                      "is negative",
                      side, n + 1, spans[n].offset));
    }
    need += spans[n].length;
  }
  if (need != buckets) {
    return Status::InvalidArgument(
        fmt::format("{} side: spans need {} buckets, have {} buckets: histogram spans specify "
                    "different number of buckets than provided",
                    side, need, buckets));
  }
  return Status::Ok();
}

Status CheckCustomBounds(const std::vector<double>& bounds, const std::vector<Span>& spans,
                         size_t buckets) {
  double prev = -HUGE_VAL;
  for (double b : bounds) {
    if (!(b > prev)) {
      return Status::InvalidArgument(fmt::format(
          "custom buckets: previous bound is {} and current is {}: histogram custom bounds must "
          "be in strictly increasing order",
          prev, b));
    }
    prev = b;
  }
  if (prev == HUGE_VAL) {
    return Status::InvalidArgument(
        "custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds "
        "must be finite");
  }
  size_t need = 0;
  int64_t total = 0;
  for (size_t n = 0; n < spans.size(); ++n) {
    if (spans[n].offset < 0) {
      return Status::InvalidArgument(
          fmt::format("custom buckets: span number {} with offset {}: histogram has a span whose "
                      "offset is negative",
                      n + 1, spans[n].offset));
    }
    need += spans[n].length;
    total += int64_t{spans[n].offset} + spans[n].length;
  }
  if (need != buckets) {
    return Status::InvalidArgument(
        fmt::format("custom buckets: spans need {} buckets, have {} buckets: histogram spans "
                    "specify different number of buckets than provided",
                    need, buckets));
  }
  if (static_cast<int64_t>(bounds.size()) + 1 < total) {
    return Status::InvalidArgument(
        fmt::format("custom buckets: only {} custom bounds defined which is insufficient to cover "
                    "total span length of {}: histogram custom bounds are too few",
                    bounds.size(), total));
  }
  return Status::Ok();
}

template <typename T>
Status CheckCounts(const char* side, const std::vector<T>& buckets, bool deltas, uint64_t* total) {
  T last = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    T c = buckets[i];
    if (deltas) {
      if constexpr (std::is_integral_v<T>) {
        if (__builtin_add_overflow(last, buckets[i], &c)) {
          return Status::InvalidArgument(fmt::format(
              "{} side: bucket number {}: the bucket's count overflows 64 bits", side, i + 1));
        }
      } else {
        c = last + buckets[i];
      }
    }
    if (c < 0) {
      return Status::InvalidArgument(
          fmt::format("{} side: bucket number {} has observation count of {}: histogram has a "
                      "bucket whose observation count is negative",
                      side, i + 1, c));
    }
    last = c;
    if constexpr (std::is_integral_v<T>) *total += static_cast<uint64_t>(c);
  }
  return Status::Ok();
}

// The checks of Validate that do not depend on the count type.
template <typename H, typename T>
Status ValidateLayout(const H& h, const std::vector<T>& pos, const std::vector<T>& neg, bool deltas,
                      uint64_t* total) {
  if (!IsValidSchema(h.schema)) {
    return Status::InvalidArgument(fmt::format(
        "histogram has schema {}: it must be -53 (custom buckets) or between -4 and 8", h.schema));
  }
  if (pos.size() + neg.size() + h.custom_values.size() > kMaxBuckets ||
      h.positive_spans.size() > kMaxBuckets || h.negative_spans.size() > kMaxBuckets) {
    return Status::InvalidArgument(
        fmt::format("histogram has {} buckets, {} custom bounds and {}+{} spans: more than {}",
                    pos.size() + neg.size(), h.custom_values.size(), h.positive_spans.size(),
                    h.negative_spans.size(), kMaxBuckets));
  }
  if (!IndexesInRange(h.positive_spans) || !IndexesInRange(h.negative_spans)) {
    return Status::InvalidArgument(
        fmt::format("histogram has a bucket index beyond +-{}", kMaxBucketIndex));
  }
  if (h.UsesCustomBuckets()) {
    if (Status s = CheckCustomBounds(h.custom_values, h.positive_spans, pos.size()); !s.ok()) {
      return s;
    }
    if (h.zero_count != 0) {
      return Status::InvalidArgument("custom buckets: must have zero count of 0");
    }
    if (h.zero_threshold != 0) {
      return Status::InvalidArgument("custom buckets: must have zero threshold of 0");
    }
    if (!h.negative_spans.empty()) {
      return Status::InvalidArgument("custom buckets: must not have negative spans");
    }
    if (!neg.empty()) {
      return Status::InvalidArgument("custom buckets: must not have negative buckets");
    }
  } else {
    if (!(h.zero_threshold >= 0)) {
      return Status::InvalidArgument(fmt::format(
          "histogram has zero threshold {}: it must be a number >= 0", h.zero_threshold));
    }
    if (Status s = CheckSpans("positive", h.positive_spans, pos.size()); !s.ok()) return s;
    if (Status s = CheckSpans("negative", h.negative_spans, neg.size()); !s.ok()) return s;
    if (Status s = CheckCounts("negative", neg, deltas, total); !s.ok()) return s;
    if (!h.custom_values.empty()) {
      return Status::InvalidArgument(
          "histogram with exponential schema must not have custom bounds");
    }
  }
  return CheckCounts("positive", pos, deltas, total);
}

}  // namespace

bool IndexesInRange(std::span<const Span> spans) {
  int64_t idx = 0;
  for (size_t n = 0; n < spans.size(); ++n) {
    idx += spans[n].offset;
    if (idx < -kMaxBucketIndex) return false;
    idx += spans[n].length;
    if (idx > kMaxBucketIndex) return false;
  }
  return true;
}

double BucketBound(int32_t idx, int32_t schema, std::span<const double> custom_bounds) {
  if (IsCustomBucketsSchema(schema)) {
    if (idx < 0) return -HUGE_VAL;
    if (static_cast<size_t>(idx) >= custom_bounds.size()) return HUGE_VAL;
    return custom_bounds[static_cast<size_t>(idx)];
  }
  if (schema < 0) {
    int64_t exp = int64_t{idx} * (int64_t{1} << -schema);
    if (exp == 1024) return DBL_MAX;
    return std::ldexp(1.0, static_cast<int>(std::clamp<int64_t>(exp, -4096, 4096)));
  }
  double frac = kBoundFractions[FractionsStart(schema) +
                                static_cast<size_t>(idx & ((int32_t{1} << schema) - 1))];
  int64_t exp = (int64_t{idx} >> schema) + 1;
  if (frac == 0.5 && exp == 1025) return DBL_MAX;
  return std::ldexp(frac, static_cast<int>(std::clamp<int64_t>(exp, -4096, 4096)));
}

Status FloatHistogram::Validate() const {
  uint64_t unused = 0;
  return ValidateLayout(*this, positive_buckets, negative_buckets, false, &unused);
}

FloatHistogram FloatHistogram::CopyToSchema(int32_t target) const {
  if (target == schema) return *this;
  FloatHistogram c;  // the hint is left unknown, as Prometheus's CopyToSchema leaves it
  c.schema = target;
  c.zero_threshold = zero_threshold;
  c.zero_count = zero_count;
  c.count = count;
  c.sum = sum;
  Layout(Reduce(Expand(positive_spans, positive_buckets), schema, target), &c.positive_spans,
         &c.positive_buckets);
  Layout(Reduce(Expand(negative_spans, negative_buckets), schema, target), &c.negative_spans,
         &c.negative_buckets);
  return c;
}

void FloatHistogram::ReduceResolution(int32_t target) {
  if (target >= schema || UsesCustomBuckets()) return;
  Layout(Reduce(Expand(positive_spans, positive_buckets), schema, target), &positive_spans,
         &positive_buckets);
  Layout(Reduce(Expand(negative_spans, negative_buckets), schema, target), &negative_spans,
         &negative_buckets);
  schema = target;
}

FloatHistogram& FloatHistogram::Mul(double factor) {
  zero_count *= factor;
  count *= factor;
  sum *= factor;
  for (double& b : positive_buckets) b *= factor;
  for (double& b : negative_buckets) b *= factor;
  return *this;
}

FloatHistogram& FloatHistogram::Div(double divisor) {
  zero_count /= divisor;
  count /= divisor;
  sum /= divisor;
  if (divisor == 0) {
    positive_buckets.clear();
    negative_buckets.clear();
    positive_spans.clear();
    negative_spans.clear();
    return *this;
  }
  for (double& b : positive_buckets) b /= divisor;
  for (double& b : negative_buckets) b /= divisor;
  return *this;
}

namespace {

// Prometheus's zeroCountForLargerThreshold: the zero count `h` would have with a threshold of
// at least `larger`, and that threshold, raised to the upper bound of a populated bucket it
// would cut through.
std::pair<double, double> ZeroCountForLargerThreshold(const FloatHistogram& h, double larger) {
  if (larger == h.zero_threshold) return {h.zero_count, larger};
  const std::vector<Bucket> pos = h.SideBuckets(true);
  const std::vector<Bucket> neg = h.SideBuckets(false);
  while (true) {
    double count = h.zero_count;
    for (const Bucket& b : pos) {
      if (b.lower >= larger) break;
      count += b.count;
      if (b.upper > larger) {
        if (b.count != 0) larger = b.upper;
        break;
      }
    }
    bool again = false;
    for (const Bucket& b : neg) {
      if (b.upper <= -larger) break;
      count += b.count;
      if (b.lower < -larger) {
        if (b.count != 0) {
          larger = -b.lower;
          again = true;
        }
        break;
      }
    }
    if (!again) return {count, larger};
  }
}

// Empties the buckets that now lie inside the zero bucket, then compacts.
void TrimBucketsInZeroBucket(FloatHistogram& h) {
  const std::vector<Bucket> pos = h.SideBuckets(true);
  for (size_t i = 0; i < pos.size() && pos[i].lower < h.zero_threshold; ++i) {
    h.positive_buckets[i] = 0;
  }
  const std::vector<Bucket> neg = h.SideBuckets(false);
  for (size_t i = 0; i < neg.size() && neg[i].upper > -h.zero_threshold; ++i) {
    h.negative_buckets[i] = 0;
  }
  h.Compact();
}

// Widens the zero bucket of the one with the smaller threshold until both agree; returns the
// zero count of `other` at the agreed threshold.
double ReconcileZeroBuckets(FloatHistogram& h, const FloatHistogram& other) {
  double other_count = other.zero_count;
  double other_threshold = other.zero_threshold;
  // Validated thresholds are numbers; the bound guards the loop against any that are not.
  for (int guard = 0; other_threshold != h.zero_threshold && guard < 64; ++guard) {
    if (h.zero_threshold > other_threshold) {
      std::tie(other_count, other_threshold) = ZeroCountForLargerThreshold(other, h.zero_threshold);
    }
    if (other_threshold > h.zero_threshold) {
      std::tie(h.zero_count, h.zero_threshold) = ZeroCountForLargerThreshold(h, other_threshold);
      TrimBucketsInZeroBucket(h);
    }
  }
  return other_count;
}

ResetHint AddedHint(ResetHint a, ResetHint b) {
  if (a == b || a == ResetHint::kGauge) return a;
  if (b == ResetHint::kGauge) return ResetHint::kGauge;
  return ResetHint::kUnknown;
}

// Whether a and b lay their buckets out alike (then bucket i of one is bucket i of the other).
bool SameLayout(const FloatHistogram& a, const FloatHistogram& b) {
  return a.schema == b.schema && a.zero_threshold == b.zero_threshold &&
         a.positive_spans == b.positive_spans && a.negative_spans == b.negative_spans &&
         a.positive_buckets.size() == b.positive_buckets.size() &&
         a.negative_buckets.size() == b.negative_buckets.size() &&
         BitsEqual(a.custom_values, b.custom_values);
}

// Whether no bucket of h lies inside its zero bucket (the operations below leave such
// buckets out, as Prometheus's do).
bool NoBucketInZeroBucket(const FloatHistogram& h) {
  if (!IsExponentialSchema(h.schema) || h.zero_threshold == 0) return true;
  for (const auto* spans : {&h.positive_spans, &h.negative_spans}) {
    if (!spans->empty() && BucketBound(spans->front().offset, h.schema, {}) <= h.zero_threshold) {
      return false;
    }
  }
  return true;
}

CombineError Combine(FloatHistogram& h, const FloatHistogram& other, bool subtract) {
  if (h.UsesCustomBuckets() != other.UsesCustomBuckets()) return CombineError::kMixedSchemas;
  if (h.UsesCustomBuckets() && !BitsEqual(h.custom_values, other.custom_values)) {
    return CombineError::kIncompatibleBounds;
  }
  if (!subtract) h.hint = AddedHint(h.hint, other.hint);
  if (SameLayout(h, other) && NoBucketInZeroBucket(other)) {
    // The common case (a series' samples over time): bucket by bucket, the same sums as the
    // general path below.
    auto combine = [subtract](double a, double b) { return subtract ? a - b : a + b; };
    h.zero_count = combine(h.zero_count, other.zero_count);
    h.count = combine(h.count, other.count);
    h.sum = combine(h.sum, other.sum);
    for (size_t i = 0; i < h.positive_buckets.size(); ++i) {
      h.positive_buckets[i] = combine(h.positive_buckets[i], other.positive_buckets[i]);
    }
    for (size_t i = 0; i < h.negative_buckets.size(); ++i) {
      h.negative_buckets[i] = combine(h.negative_buckets[i], other.negative_buckets[i]);
    }
    return CombineError::kNone;
  }
  if (!h.UsesCustomBuckets()) {
    double other_zero = ReconcileZeroBuckets(h, other);
    h.zero_count = subtract ? h.zero_count - other_zero : h.zero_count + other_zero;
  }
  h.count = subtract ? h.count - other.count : h.count + other.count;
  h.sum = subtract ? h.sum - other.sum : h.sum + other.sum;

  BucketList hp = Expand(h.positive_spans, h.positive_buckets);
  BucketList op = Expand(other.positive_spans, other.positive_buckets);
  BucketList hn = Expand(h.negative_spans, h.negative_buckets);
  BucketList on = Expand(other.negative_spans, other.negative_buckets);
  if (!h.UsesCustomBuckets()) {
    if (other.schema < h.schema) {
      hp = Reduce(hp, h.schema, other.schema);
      hn = Reduce(hn, h.schema, other.schema);
      h.schema = other.schema;
    } else if (other.schema > h.schema) {
      op = Reduce(op, other.schema, h.schema);
      on = Reduce(on, other.schema, h.schema);
    }
  }
  Layout(AddLists(hp, op, h.schema, h.zero_threshold, subtract), &h.positive_spans,
         &h.positive_buckets);
  if (!h.UsesCustomBuckets()) {
    Layout(AddLists(hn, on, h.schema, h.zero_threshold, subtract), &h.negative_spans,
           &h.negative_buckets);
  }
  return CombineError::kNone;
}

// The buckets of one side of `h` at schema `target` (at most h's), leaving out the leading
// buckets whose upper bound is at most `start` (Prometheus's floatBucketIterator).
BucketList SideAt(const FloatHistogram& h, bool positive, double start, int32_t target) {
  BucketList list = positive ? Expand(h.positive_spans, h.positive_buckets)
                             : Expand(h.negative_spans, h.negative_buckets);
  if (!h.UsesCustomBuckets()) list = Reduce(list, h.schema, target);
  if (start != 0 && IsExponentialSchema(target)) {
    size_t skip = 0;
    while (skip < list.size() && BucketBound(list[skip].index, target, {}) <= start) ++skip;
    list.erase(list.begin(), list.begin() + static_cast<ptrdiff_t>(skip));
  }
  return list;
}

// Whether a bucket of `prev` lost observations in `curr` (both at one schema).
bool BucketsReset(const BucketList& curr, const BucketList& prev) {
  size_t c = 0;
  for (const IndexedCount& p : prev) {
    while (c < curr.size() && curr[c].index < p.index) ++c;
    if (c == curr.size() || curr[c].index > p.index) {
      if (p.count != 0) return true;
    } else if (curr[c].count < p.count) {
      return true;
    }
  }
  return false;
}

}  // namespace

CombineError FloatHistogram::Add(const FloatHistogram& other) {
  return Combine(*this, other, false);
}

CombineError FloatHistogram::Sub(const FloatHistogram& other) {
  return Combine(*this, other, true);
}

namespace {

// Whether a side is compact already: no empty bucket, no empty span, no span right after
// another (Prometheus's compactBuckets' early exit).
bool IsCompact(const std::vector<Span>& spans, const std::vector<double>& buckets) {
  for (double b : buckets) {
    if (b == 0) return false;
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].length == 0 || (i > 0 && spans[i].offset == 0)) return false;
  }
  return true;
}

}  // namespace

FloatHistogram& FloatHistogram::Compact() {
  if (!IsCompact(positive_spans, positive_buckets)) {
    Layout(DropEmpty(Expand(positive_spans, positive_buckets)), &positive_spans, &positive_buckets);
  }
  if (!IsCompact(negative_spans, negative_buckets)) {
    Layout(DropEmpty(Expand(negative_spans, negative_buckets)), &negative_spans, &negative_buckets);
  }
  return *this;
}

bool FloatHistogram::DetectReset(const FloatHistogram& previous) const {
  if (hint == ResetHint::kReset) return true;
  if (hint == ResetHint::kNotReset) return false;
  if (count < previous.count) return true;
  if (UsesCustomBuckets() != previous.UsesCustomBuckets() ||
      (UsesCustomBuckets() && !BitsEqual(custom_values, previous.custom_values))) {
    return true;
  }
  if (schema > previous.schema) return true;
  if (zero_threshold < previous.zero_threshold) return true;
  auto [previous_zero, threshold] = ZeroCountForLargerThreshold(previous, zero_threshold);
  if (threshold != zero_threshold) return true;
  if (zero_count < previous_zero) return true;
  if (SameLayout(*this, previous) && NoBucketInZeroBucket(*this)) {
    for (size_t i = 0; i < positive_buckets.size(); ++i) {
      if (positive_buckets[i] < previous.positive_buckets[i]) return true;
    }
    for (size_t i = 0; i < negative_buckets.size(); ++i) {
      if (negative_buckets[i] < previous.negative_buckets[i]) return true;
    }
    return false;
  }
  for (bool positive : {true, false}) {
    if (BucketsReset(SideAt(*this, positive, zero_threshold, schema),
                     SideAt(previous, positive, zero_threshold, schema))) {
      return true;
    }
  }
  return false;
}

bool FloatHistogram::Equals(const FloatHistogram& o) const {
  if (schema != o.schema || !BitsEqual(count, o.count) || !BitsEqual(sum, o.sum)) return false;
  if (UsesCustomBuckets() && !BitsEqual(custom_values, o.custom_values)) return false;
  if (zero_threshold != o.zero_threshold || !BitsEqual(zero_count, o.zero_count)) return false;
  return SpansMatch(negative_spans, o.negative_spans) &&
         BitsEqual(negative_buckets, o.negative_buckets) &&
         SpansMatch(positive_spans, o.positive_spans) &&
         BitsEqual(positive_buckets, o.positive_buckets);
}

std::vector<Bucket> FloatHistogram::SideBuckets(bool positive) const {
  const BucketList list = positive ? Expand(positive_spans, positive_buckets)
                                   : Expand(negative_spans, negative_buckets);
  std::vector<Bucket> out;
  out.reserve(list.size());
  for (const IndexedCount& b : list) {
    out.push_back(
        MakeBucket(b.index, b.count, positive, schema,
                   positive ? std::span<const double>(custom_values) : std::span<const double>()));
  }
  return out;
}

namespace {

void ClipToZeroBucket(Bucket& b, double zero_threshold) {
  if (b.upper < 0 && b.upper > -zero_threshold) {
    b.upper = -zero_threshold;
  } else if (b.lower > 0 && b.lower < zero_threshold) {
    b.lower = zero_threshold;
  }
}

// `first` runs from its end to its start, then the zero bucket, then `second` in order.
std::vector<Bucket> Concatenate(const FloatHistogram& h, std::vector<Bucket> first,
                                const std::vector<Bucket>& second) {
  std::vector<Bucket> out;
  out.reserve(first.size() + second.size() + 1);
  for (auto it = first.rbegin(); it != first.rend(); ++it) {
    out.push_back(*it);
    ClipToZeroBucket(out.back(), h.zero_threshold);
  }
  if (h.zero_count > 0) {
    out.push_back({-h.zero_threshold, h.zero_threshold, true, true, h.zero_count, 0});
  }
  for (const Bucket& b : second) {
    out.push_back(b);
    ClipToZeroBucket(out.back(), h.zero_threshold);
  }
  return out;
}

}  // namespace

std::vector<Bucket> FloatHistogram::AllBuckets() const {
  return Concatenate(*this, SideBuckets(false), SideBuckets(true));
}

std::vector<Bucket> FloatHistogram::AllBucketsReverse() const {
  return Concatenate(*this, SideBuckets(true), SideBuckets(false));
}

std::string FloatHistogram::ToString() const {
  auto bucket = [](const Bucket& b) {
    return fmt::format(", {}{},{}{}:{}", b.lower_inclusive ? '[' : '(', FormatFloatG(b.lower),
                       FormatFloatG(b.upper), b.upper_inclusive ? ']' : ')', FormatFloatG(b.count));
  };
  std::string out = fmt::format("{{count:{}, sum:{}", FormatFloatG(count), FormatFloatG(sum));
  std::vector<Bucket> negative = SideBuckets(false);
  for (auto it = negative.rbegin(); it != negative.rend(); ++it) {
    if (it->count != 0) out += bucket(*it);
  }
  if (zero_count != 0) out += bucket({-zero_threshold, zero_threshold, true, true, zero_count, 0});
  for (const Bucket& b : SideBuckets(true)) {
    if (b.count != 0) out += bucket(b);
  }
  out += '}';
  return out;
}

Status IntHistogram::Validate() const {
  uint64_t observed = zero_count;
  if (Status s = ValidateLayout(*this, positive_deltas, negative_deltas, true, &observed);
      !s.ok()) {
    return s;
  }
  if (std::isnan(sum)) {
    if (observed > count) {
      return Status::InvalidArgument(fmt::format(
          "{} observations found in buckets, but the Count field is {}: histogram's observation "
          "count should be at least the number of observations found in the buckets",
          observed, count));
    }
  } else if (observed != count) {
    return Status::InvalidArgument(fmt::format(
        "{} observations found in buckets, but the Count field is {}: histogram's observation "
        "count should equal the number of observations found in the buckets (in absence of NaN)",
        observed, count));
  }
  return Status::Ok();
}

FloatHistogram IntHistogram::ToFloat() const {
  FloatHistogram f;
  f.hint = hint;
  f.schema = schema;
  f.count = static_cast<double>(count);
  f.sum = sum;
  auto cumulate = [](const std::vector<int64_t>& deltas) {
    std::vector<double> out;
    out.reserve(deltas.size());
    double current = 0;
    for (int64_t d : deltas) {
      current += static_cast<double>(d);
      out.push_back(current);
    }
    return out;
  };
  if (UsesCustomBuckets()) {
    f.custom_values = custom_values;
  } else {
    f.zero_threshold = zero_threshold;
    f.zero_count = static_cast<double>(zero_count);
    f.negative_spans = negative_spans;
    f.negative_buckets = cumulate(negative_deltas);
  }
  f.positive_spans = positive_spans;
  f.positive_buckets = cumulate(positive_deltas);
  return f;
}

}  // namespace strata::histogram
