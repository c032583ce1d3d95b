#include <gtest/gtest.h>

#include <memory>

#include "api/request.h"
#include "base/json.h"

namespace strata::api {
namespace {

// The expected bytes are Prometheus 3.5's own (web/api/v1/json_codec_test.go).
TEST(ResultJsonTest, NativeHistogramsAsPrometheusWritesThem) {
  histogram::FloatHistogram h;
  h.schema = 2;
  h.zero_threshold = 0.001;
  h.zero_count = 12;
  h.count = 10;
  h.sum = 20;
  h.positive_spans = {{3, 2}, {1, 3}};
  h.negative_spans = {{2, 2}};
  h.positive_buckets = {1, 2, 2, 1, 1};
  h.negative_buckets = {2, 1};
  auto shared = std::make_shared<const histogram::FloatHistogram>(h);

  promql::QueryResult matrix;
  matrix.type = promql::ValueType::kMatrix;
  matrix.series.push_back({{{"__name__", "foo"}}, {}, {{1000, shared}}});
  JsonWriter w;
  WriteResult(w, matrix, nullptr);
  EXPECT_EQ(w.str(),
            R"({"resultType":"matrix","result":[{"metric":{"__name__":"foo"},"histograms":[[1,)"
            R"({"count":"10","sum":"20","buckets":[[1,"-1.6817928305074288","-1.414213562373095",)"
            R"("1"],[1,"-1.414213562373095","-1.189207115002721","2"],[3,"-0.001","0.001","12"],)"
            R"([0,"1.414213562373095","1.6817928305074288","1"],[0,"1.6817928305074288","2","2"],)"
            R"([0,"2.378414230005442","2.82842712474619","2"],[0,"2.82842712474619",)"
            R"("3.3635856610148576","1"],[0,"3.3635856610148576","4","1"]]}]]}]})");

  // An instant vector element carries "histogram"; no populated bucket, no "buckets". The
  // time is written as Prometheus's MarshalTimestamp writes it: three decimals when any.
  promql::QueryResult vector;
  vector.type = promql::ValueType::kVector;
  vector.series.push_back({{}, {}, {{1500, std::make_shared<const histogram::FloatHistogram>()}}});
  JsonWriter v;
  WriteResult(v, vector, nullptr);
  EXPECT_EQ(v.str(), R"({"resultType":"vector","result":[{"metric":{},"histogram":[1.500,)"
                     R"({"count":"0","sum":"0"}]}]})");
}

}  // namespace
}  // namespace strata::api
