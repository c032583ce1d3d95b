#pragma once

#include <span>
#include <string_view>

#include "promql/ast.h"

namespace strata::promql {

// Every PromQL function of Prometheus 3.5, experimental ones included.
enum class Fn {
  kAbs,
  kAbsent,
  kAbsentOverTime,
  kAcos,
  kAcosh,
  kAsin,
  kAsinh,
  kAtan,
  kAtanh,
  kAvgOverTime,
  kCeil,
  kChanges,
  kClamp,
  kClampMax,
  kClampMin,
  kCos,
  kCosh,
  kCountOverTime,
  kDaysInMonth,
  kDayOfMonth,
  kDayOfWeek,
  kDayOfYear,
  kDeg,
  kDelta,
  kDeriv,
  kDoubleExponentialSmoothing,
  kExp,
  kFirstOverTime,  // LogQL's: not offered to PromQL queries
  kFloor,
  kHistogramAvg,
  kHistogramCount,
  kHistogramFraction,
  kHistogramQuantile,
  kHistogramStddev,
  kHistogramStdvar,
  kHistogramSum,
  kHour,
  kIdelta,
  kIncrease,
  kInfo,
  kIrate,
  kLabelJoin,
  kLabelReplace,
  kLastOverTime,
  kLn,
  kLog10,
  kLog2,
  kMadOverTime,
  kMaxOverTime,
  kMinOverTime,
  kMinute,
  kMonth,
  kPi,
  kPredictLinear,
  kPresentOverTime,
  kQuantileOverTime,
  kRad,
  kRate,
  kResets,
  kRound,
  kScalar,
  kSgn,
  kSin,
  kSinh,
  kSort,
  kSortByLabel,
  kSortByLabelDesc,
  kSortDesc,
  kSqrt,
  kStddevOverTime,
  kStdvarOverTime,
  kSumOverTime,
  kTan,
  kTanh,
  kTime,
  kTimestamp,
  kTsOfLastOverTime,
  kTsOfMaxOverTime,
  kTsOfMinOverTime,
  kVector,
  kYear,
};

struct FunctionDef {
  Fn fn;
  std::string_view name;
  std::span<const ValueType> arg_types;
  // 0: exactly arg_types; n > 0: the last argument is optional and may repeat up to n times;
  // -1: the last argument may repeat without bound. Prometheus's convention.
  int variadic;
  ValueType return_type;
};

// The function named `name` (case-sensitive), or nullptr.
const FunctionDef* FindFunction(std::string_view name);
// Functions the evaluator has for LogQL's metric queries that PromQL does not offer
// (first_over_time), or nullptr.
const FunctionDef* FindLogqlFunction(std::string_view name);

}  // namespace strata::promql
