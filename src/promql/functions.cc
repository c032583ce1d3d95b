#include "promql/functions.h"

#include <array>

namespace strata::promql {

namespace {

using VT = ValueType;
constexpr VT kS = VT::kScalar;
constexpr VT kV = VT::kVector;
constexpr VT kM = VT::kMatrix;
constexpr VT kStr = VT::kString;

constexpr std::array<VT, 0> kNone{};
constexpr std::array<VT, 1> kVec{kV};
constexpr std::array<VT, 1> kMat{kM};
constexpr std::array<VT, 1> kSca{kS};
constexpr std::array<VT, 2> kVecSca{kV, kS};
constexpr std::array<VT, 3> kVecScaSca{kV, kS, kS};
constexpr std::array<VT, 2> kMatSca{kM, kS};
constexpr std::array<VT, 2> kScaMat{kS, kM};
constexpr std::array<VT, 3> kMatScaSca{kM, kS, kS};
constexpr std::array<VT, 2> kScaVec{kS, kV};
constexpr std::array<VT, 3> kScaScaVec{kS, kS, kV};
constexpr std::array<VT, 2> kVecVec{kV, kV};
constexpr std::array<VT, 4> kLabelJoinArgs{kV, kStr, kStr, kStr};
constexpr std::array<VT, 5> kLabelReplaceArgs{kV, kStr, kStr, kStr, kStr};
constexpr std::array<VT, 2> kVecStr{kV, kStr};

constexpr FunctionDef kFunctions[] = {
    {Fn::kAbs, "abs", kVec, 0, kV},
    {Fn::kAbsent, "absent", kVec, 0, kV},
    {Fn::kAbsentOverTime, "absent_over_time", kMat, 0, kV},
    {Fn::kAcos, "acos", kVec, 0, kV},
    {Fn::kAcosh, "acosh", kVec, 0, kV},
    {Fn::kAsin, "asin", kVec, 0, kV},
    {Fn::kAsinh, "asinh", kVec, 0, kV},
    {Fn::kAtan, "atan", kVec, 0, kV},
    {Fn::kAtanh, "atanh", kVec, 0, kV},
    {Fn::kAvgOverTime, "avg_over_time", kMat, 0, kV},
    {Fn::kCeil, "ceil", kVec, 0, kV},
    {Fn::kChanges, "changes", kMat, 0, kV},
    {Fn::kClamp, "clamp", kVecScaSca, 0, kV},
    {Fn::kClampMax, "clamp_max", kVecSca, 0, kV},
    {Fn::kClampMin, "clamp_min", kVecSca, 0, kV},
    {Fn::kCos, "cos", kVec, 0, kV},
    {Fn::kCosh, "cosh", kVec, 0, kV},
    {Fn::kCountOverTime, "count_over_time", kMat, 0, kV},
    {Fn::kDaysInMonth, "days_in_month", kVec, 1, kV},
    {Fn::kDayOfMonth, "day_of_month", kVec, 1, kV},
    {Fn::kDayOfWeek, "day_of_week", kVec, 1, kV},
    {Fn::kDayOfYear, "day_of_year", kVec, 1, kV},
    {Fn::kDeg, "deg", kVec, 0, kV},
    {Fn::kDelta, "delta", kMat, 0, kV},
    {Fn::kDeriv, "deriv", kMat, 0, kV},
    {Fn::kDoubleExponentialSmoothing, "double_exponential_smoothing", kMatScaSca, 0, kV},
    {Fn::kExp, "exp", kVec, 0, kV},
    {Fn::kFloor, "floor", kVec, 0, kV},
    {Fn::kHistogramAvg, "histogram_avg", kVec, 0, kV},
    {Fn::kHistogramCount, "histogram_count", kVec, 0, kV},
    {Fn::kHistogramFraction, "histogram_fraction", kScaScaVec, 0, kV},
    {Fn::kHistogramQuantile, "histogram_quantile", kScaVec, 0, kV},
    {Fn::kHistogramStddev, "histogram_stddev", kVec, 0, kV},
    {Fn::kHistogramStdvar, "histogram_stdvar", kVec, 0, kV},
    {Fn::kHistogramSum, "histogram_sum", kVec, 0, kV},
    {Fn::kHour, "hour", kVec, 1, kV},
    {Fn::kIdelta, "idelta", kMat, 0, kV},
    {Fn::kIncrease, "increase", kMat, 0, kV},
    {Fn::kInfo, "info", kVecVec, 1, kV},
    {Fn::kIrate, "irate", kMat, 0, kV},
    {Fn::kLabelJoin, "label_join", kLabelJoinArgs, -1, kV},
    {Fn::kLabelReplace, "label_replace", kLabelReplaceArgs, 0, kV},
    {Fn::kLastOverTime, "last_over_time", kMat, 0, kV},
    {Fn::kLn, "ln", kVec, 0, kV},
    {Fn::kLog10, "log10", kVec, 0, kV},
    {Fn::kLog2, "log2", kVec, 0, kV},
    {Fn::kMadOverTime, "mad_over_time", kMat, 0, kV},
    {Fn::kMaxOverTime, "max_over_time", kMat, 0, kV},
    {Fn::kMinOverTime, "min_over_time", kMat, 0, kV},
    {Fn::kMinute, "minute", kVec, 1, kV},
    {Fn::kMonth, "month", kVec, 1, kV},
    {Fn::kPi, "pi", kNone, 0, kS},
    {Fn::kPredictLinear, "predict_linear", kMatSca, 0, kV},
    {Fn::kPresentOverTime, "present_over_time", kMat, 0, kV},
    {Fn::kQuantileOverTime, "quantile_over_time", kScaMat, 0, kV},
    {Fn::kRad, "rad", kVec, 0, kV},
    {Fn::kRate, "rate", kMat, 0, kV},
    {Fn::kResets, "resets", kMat, 0, kV},
    {Fn::kRound, "round", kVecSca, 1, kV},
    {Fn::kScalar, "scalar", kVec, 0, kS},
    {Fn::kSgn, "sgn", kVec, 0, kV},
    {Fn::kSin, "sin", kVec, 0, kV},
    {Fn::kSinh, "sinh", kVec, 0, kV},
    {Fn::kSort, "sort", kVec, 0, kV},
    {Fn::kSortByLabel, "sort_by_label", kVecStr, -1, kV},
    {Fn::kSortByLabelDesc, "sort_by_label_desc", kVecStr, -1, kV},
    {Fn::kSortDesc, "sort_desc", kVec, 0, kV},
    {Fn::kSqrt, "sqrt", kVec, 0, kV},
    {Fn::kStddevOverTime, "stddev_over_time", kMat, 0, kV},
    {Fn::kStdvarOverTime, "stdvar_over_time", kMat, 0, kV},
    {Fn::kSumOverTime, "sum_over_time", kMat, 0, kV},
    {Fn::kTan, "tan", kVec, 0, kV},
    {Fn::kTanh, "tanh", kVec, 0, kV},
    {Fn::kTime, "time", kNone, 0, kS},
    {Fn::kTimestamp, "timestamp", kVec, 0, kV},
    {Fn::kTsOfLastOverTime, "ts_of_last_over_time", kMat, 0, kV},
    {Fn::kTsOfMaxOverTime, "ts_of_max_over_time", kMat, 0, kV},
    {Fn::kTsOfMinOverTime, "ts_of_min_over_time", kMat, 0, kV},
    {Fn::kVector, "vector", kSca, 0, kV},
    {Fn::kYear, "year", kVec, 1, kV},
};

constexpr std::array<FunctionDef, 1> kLogqlFunctions = {{
    {Fn::kFirstOverTime, "first_over_time", kMat, 0, kV},
}};

}  // namespace

const FunctionDef* FindFunction(std::string_view name) {
  for (const auto& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const FunctionDef* FindLogqlFunction(std::string_view name) {
  for (const auto& f : kLogqlFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace strata::promql
