#include "api/ast_json.h"

#include "base/units.h"
#include "promql/functions.h"

namespace strata::api {

namespace {

using namespace promql;

std::string_view TypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kString:
      return "string";
  }
  return "none";
}

std::string_view CardName(Cardinality c) {
  switch (c) {
    case Cardinality::kOneToOne:
      return "one-to-one";
    case Cardinality::kManyToOne:
      return "many-to-one";
    case Cardinality::kOneToMany:
      return "one-to-many";
    case Cardinality::kManyToMany:
      return "many-to-many";
  }
  return "";
}

void Strings(JsonWriter& w, const std::vector<std::string>& v) {
  w.BeginArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}

void Matchers(JsonWriter& w, const std::vector<Matcher>& ms) {
  static constexpr std::string_view kOps[] = {"=", "!=", "=~", "!~"};
  w.BeginArray();
  for (const auto& m : ms) {
    w.BeginObject().Key("name").String(m.name());
    w.Key("type").String(kOps[static_cast<int>(m.type())]).Key("value").String(m.value());
    w.EndObject();
  }
  w.EndArray();
}

void At(JsonWriter& w, const AtModifier& at) {
  w.Key("startOrEnd");
  if (at.kind == AtModifier::Kind::kStart) {
    w.String("start");
  } else if (at.kind == AtModifier::Kind::kEnd) {
    w.String("end");
  } else {
    w.Null();
  }
  w.Key("timestamp");
  if (at.kind == AtModifier::Kind::kTimestamp) {
    w.Int(at.ts_ms);
  } else {
    w.Null();
  }
}

void Selector(JsonWriter& w, const VectorSelector& vs, const int64_t* range) {
  w.BeginObject();
  Matchers(w.Key("matchers"), vs.matchers);
  w.Key("name").String(vs.name).Key("offset").Int(vs.offset_ms);
  if (range != nullptr) w.Key("range").Int(*range);
  At(w, vs.at);
  w.Key("type").String(range != nullptr ? "matrixSelector" : "vectorSelector");
  w.EndObject();
}

}  // namespace

void WriteAstJson(JsonWriter& w, const Expr& e) {
  switch (e.kind) {
    case ExprKind::kAggregate: {
      const auto& a = As<AggregateExpr>(e);
      w.BeginObject();
      WriteAstJson(w.Key("expr"), *a.expr);
      Strings(w.Key("grouping"), a.grouping);
      w.Key("op").String(AggOpName(a.op)).Key("param");
      if (a.param) {
        WriteAstJson(w, *a.param);
      } else {
        w.Null();
      }
      w.Key("type").String("aggregation").Key("without").Bool(a.without).EndObject();
      return;
    }
    case ExprKind::kBinary: {
      const auto& b = As<BinaryExpr>(e);
      w.BeginObject().Key("bool").Bool(b.return_bool);
      WriteAstJson(w.Key("lhs"), *b.lhs);
      w.Key("matching");
      if (b.matching) {
        w.BeginObject().Key("card").String(CardName(b.matching->card));
        Strings(w.Key("include"), b.matching->include);
        Strings(w.Key("labels"), b.matching->labels);
        w.Key("on").Bool(b.matching->on).EndObject();
      } else {
        w.Null();
      }
      w.Key("op").String(BinOpName(b.op));
      WriteAstJson(w.Key("rhs"), *b.rhs);
      w.Key("type").String("binaryExpr").EndObject();
      return;
    }
    case ExprKind::kCall: {
      const auto& c = As<Call>(e);
      w.BeginObject().Key("args").BeginArray();
      for (const auto& a : c.args) WriteAstJson(w, *a);
      w.EndArray().Key("func").BeginObject().Key("argTypes").BeginArray();
      for (ValueType t : c.func->arg_types) w.String(TypeName(t));
      w.EndArray().Key("name").String(c.func->name);
      w.Key("returnType").String(TypeName(c.func->return_type));
      w.Key("variadic").Int(c.func->variadic).EndObject();
      w.Key("type").String("call").EndObject();
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = As<MatrixSelector>(e);
      Selector(w, *m.vs, &m.range_ms);
      return;
    }
    case ExprKind::kSubquery: {
      const auto& s = As<SubqueryExpr>(e);
      w.BeginObject();
      WriteAstJson(w.Key("expr"), *s.expr);
      w.Key("offset").Int(s.offset_ms).Key("range").Int(s.range_ms);
      At(w, s.at);
      w.Key("step").Int(s.step_ms).Key("type").String("subquery").EndObject();
      return;
    }
    case ExprKind::kNumber:
      w.BeginObject().Key("type").String("numberLiteral");
      w.Key("val").String(FormatFloatF(As<NumberLiteral>(e).val)).EndObject();
      return;
    case ExprKind::kParen:
      w.BeginObject();
      WriteAstJson(w.Key("expr"), *As<ParenExpr>(e).expr);
      w.Key("type").String("parenExpr").EndObject();
      return;
    case ExprKind::kString:
      w.BeginObject().Key("type").String("stringLiteral");
      w.Key("val").String(As<StringLiteral>(e).val).EndObject();
      return;
    case ExprKind::kUnary:
      w.BeginObject();
      WriteAstJson(w.Key("expr"), *As<UnaryExpr>(e).expr);
      w.Key("op").String("-").Key("type").String("unaryExpr").EndObject();
      return;
    case ExprKind::kVectorSelector:
      Selector(w, As<VectorSelector>(e), nullptr);
      return;
  }
}

}  // namespace strata::api
