#include "proto/loki.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "proto/wire.h"

namespace strata::proto {

namespace {

// PushRequest { repeated StreamAdapter streams = 1; }
// StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
// EntryAdapter { google.protobuf.Timestamp timestamp = 1; string line = 2;
//                repeated LabelPairAdapter structuredMetadata = 3; }
// Timestamp { int64 seconds = 1; int32 nanos = 2; }  LabelPairAdapter { name = 1; value = 2; }
constexpr uint32_t kStreams = 1, kLabels = 1, kEntries = 2, kTimestamp = 1, kLine = 2,
                   kStructuredMetadata = 3, kSeconds = 1, kNanos = 2, kPairName = 1, kPairValue = 2;

Status MalformedPush(std::string_view what) {
  return Status::InvalidArgument(fmt::format("malformed Loki push request: {}", what));
}

// google.protobuf.Timestamp as Unix nanoseconds: seconds within what int64 nanoseconds hold,
// nanos in [0, 1e9).
bool DecodeTimestamp(std::string_view b, int64_t* ns) {
  uint64_t seconds = 0, nanos = 0;
  WireReader t(b);
  while (t.NextField()) {
    if (t.field() == kSeconds || t.field() == kNanos) {
      if (!t.Expect(WireType::kVarint) ||
          !t.ReadVarint(t.field() == kSeconds ? &seconds : &nanos)) {
        return false;
      }
    } else if (!t.Skip()) {
      return false;
    }
  }
  if (t.error()) return false;
  // Varints carry int64 seconds as two's complement; negative and far-future times do not
  // fit int64 nanoseconds (the last second that does, up to INT64_MAX's nanos).
  constexpr uint64_t kMaxSeconds = INT64_MAX / 1'000'000'000;
  if (seconds > kMaxSeconds || nanos >= 1'000'000'000) return false;
  const int64_t whole = static_cast<int64_t>(seconds) * 1'000'000'000;
  if (static_cast<int64_t>(nanos) > INT64_MAX - whole) return false;
  *ns = whole + static_cast<int64_t>(nanos);
  return true;
}

Status DecodeEntry(std::string_view entry, LokiPush& push, LokiEntry& out) {
  bool has_timestamp = false;
  out.metadata_begin = static_cast<uint32_t>(push.metadata.size());
  WireReader r(entry);
  while (r.NextField()) {
    if (r.field() == kTimestamp || r.field() == kLine || r.field() == kStructuredMetadata) {
      std::string_view b;
      if (!r.Expect(WireType::kLen) || !r.ReadBytes(&b)) break;
      if (r.field() == kTimestamp) {
        if (!DecodeTimestamp(b, &out.ts_ns)) return MalformedPush("invalid entry timestamp");
        has_timestamp = true;
      } else if (r.field() == kLine) {
        out.line = b;
      } else {
        LabelView pair;
        WireReader m(b);
        while (m.NextField()) {
          if (m.field() == kPairName || m.field() == kPairValue) {
            std::string_view v;
            if (!m.Expect(WireType::kLen) || !m.ReadBytes(&v)) break;
            (m.field() == kPairName ? pair.name : pair.value) = v;
          } else if (!m.Skip()) {
            break;
          }
        }
        if (m.error()) return MalformedPush("invalid structured metadata");
        push.metadata.push_back(pair);
      }
    } else if (!r.Skip()) {
      break;
    }
  }
  if (r.error()) return MalformedPush("truncated entry");
  if (!has_timestamp) return MalformedPush("an entry has no timestamp");
  out.metadata_count = static_cast<uint32_t>(push.metadata.size()) - out.metadata_begin;
  return Status::Ok();
}

Status DecodeStream(std::string_view stream, LokiPush& push) {
  bool has_labels = false;
  LokiStream out;
  WireReader r(stream);
  while (r.NextField()) {
    if (r.field() == kLabels) {
      std::string_view labels;
      if (!r.Expect(WireType::kLen) || !r.ReadBytes(&labels)) break;
      auto parsed = ParseLokiLabels(labels);
      if (!parsed.ok()) {
        return MalformedPush(
            fmt::format("stream labels {}: {}", labels.substr(0, 200), parsed.status().message()));
      }
      out.labels = std::move(parsed).value();
      has_labels = true;
    } else if (r.field() == kEntries) {
      std::string_view entry;
      if (!r.Expect(WireType::kLen) || !r.ReadBytes(&entry)) break;
      RETURN_IF_ERROR(DecodeEntry(entry, push, out.entries.emplace_back()));
    } else if (!r.Skip()) {
      break;
    }
  }
  if (r.error()) return MalformedPush("truncated stream");
  if (!has_labels) return MalformedPush("a stream has no labels");
  push.streams.push_back(std::move(out));
  return Status::Ok();
}

bool IsLabelNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

}  // namespace

Result<Labels> ParseLokiLabels(std::string_view s) {
  auto skip_space = [&](size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
  };
  size_t i = 0;
  skip_space(i);
  if (i >= s.size() || s[i] != '{') return Status::InvalidArgument("expected '{'");
  ++i;
  Labels labels;
  while (true) {
    skip_space(i);
    if (i < s.size() && s[i] == '}') {
      ++i;
      break;
    }
    size_t name_begin = i;
    while (i < s.size() && IsLabelNameChar(s[i], i == name_begin)) ++i;
    if (i == name_begin) return Status::InvalidArgument("expected a label name");
    std::string name(s.substr(name_begin, i - name_begin));
    skip_space(i);
    if (i >= s.size() || s[i] != '=') {
      return Status::InvalidArgument(fmt::format("expected '=' after label {}", name));
    }
    ++i;
    skip_space(i);
    if (i >= s.size() || (s[i] != '"' && s[i] != '`')) {
      return Status::InvalidArgument(fmt::format("expected a quoted value for label {}", name));
    }
    const char quote = s[i];
    size_t end = i + 1;
    while (end < s.size() && s[end] != quote) end += (quote == '"' && s[end] == '\\') ? 2 : 1;
    if (end >= s.size()) return Status::InvalidArgument("unterminated label value");
    auto value = GoUnquote(s.substr(i, end - i + 1));
    if (!value.ok()) {
      return Status::InvalidArgument(fmt::format("label {}: {}", name, value.status().message()));
    }
    i = end + 1;
    labels.push_back({std::move(name), std::move(*value)});
    skip_space(i);
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    skip_space(i);
    if (i < s.size() && s[i] == '}') {
      ++i;
      break;
    }
    return Status::InvalidArgument("expected ',' or '}'");
  }
  skip_space(i);
  if (i != s.size()) return Status::InvalidArgument("unexpected text after '}'");
  if (labels.empty()) return Status::InvalidArgument("at least one label pair is required");
  std::sort(labels.begin(), labels.end());
  for (size_t k = 1; k < labels.size(); ++k) {
    if (labels[k].name == labels[k - 1].name) {
      return Status::InvalidArgument(fmt::format("duplicate label name {}", labels[k].name));
    }
  }
  return labels;
}

Result<LokiPush> DecodeLokiPush(std::string_view data) {
  LokiPush push;
  WireReader r(data);
  while (r.NextField()) {
    if (r.field() == kStreams) {
      std::string_view stream;
      if (!r.Expect(WireType::kLen) || !r.ReadBytes(&stream)) break;
      RETURN_IF_ERROR(DecodeStream(stream, push));
    } else if (!r.Skip()) {
      break;
    }
  }
  if (r.error()) return MalformedPush("truncated or invalid protobuf");
  return push;
}

Result<LokiCounts> ScanLokiPush(std::string_view data) {
  ASSIGN_OR_RETURN(LokiPush push, DecodeLokiPush(data));
  LokiCounts counts;
  for (const auto& s : push.streams) {
    counts.entries += s.entries.size();
    for (const auto& e : s.entries) counts.line_bytes += e.line.size();
  }
  return counts;
}

Result<std::string> LokiJsonToProtobuf(std::string_view json) {
  auto invalid = [](std::string_view what) {
    return Status::InvalidArgument(fmt::format("invalid Loki push JSON: {}", what));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err != simdjson::SUCCESS) {
    return invalid(simdjson::error_message(err));
  }
  simdjson::dom::array streams;
  if (doc["streams"].get_array().get(streams) != simdjson::SUCCESS) {
    return invalid("expected {\"streams\": [...]}");
  }
  LokiPushBuilder push;
  std::vector<LabelView> metadata;
  for (auto stream : streams) {
    simdjson::dom::object labels_obj;
    if (stream["stream"].get_object().get(labels_obj) != simdjson::SUCCESS) {
      return invalid("a stream has no \"stream\" object of labels");
    }
    Labels labels;
    for (auto [k, v] : labels_obj) {
      std::string_view value;
      if (v.get_string().get(value) != simdjson::SUCCESS) {
        return invalid(fmt::format("label {} is not a string", std::string_view(k)));
      }
      labels.push_back({std::string(k), std::string(value)});
    }
    std::sort(labels.begin(), labels.end());
    if (auto parsed = ParseLokiLabels(FormatLokiLabels(labels)); !parsed.ok()) {
      return invalid(
          fmt::format("stream {}: {}", FormatLokiLabels(labels), parsed.status().message()));
    }
    push.BeginStream(labels);
    simdjson::dom::array values;
    if (stream["values"].get_array().get(values) != simdjson::SUCCESS) {
      return invalid(fmt::format("stream {} has no \"values\" array", FormatLokiLabels(labels)));
    }
    for (auto value : values) {
      simdjson::dom::array tuple;
      if (value.get_array().get(tuple) != simdjson::SUCCESS || tuple.size() < 2 ||
          tuple.size() > 3) {
        return invalid(
            "each value must be [\"<unix ns>\", \"<line>\"] or with a third object "
            "of structured metadata");
      }
      std::string_view ns_text, line;
      if (tuple.at(0).get_string().get(ns_text) != simdjson::SUCCESS ||
          tuple.at(1).get_string().get(line) != simdjson::SUCCESS) {
        return invalid("timestamp and line must be strings");
      }
      int64_t ns = 0;
      auto [p, ec] = std::from_chars(ns_text.data(), ns_text.data() + ns_text.size(), ns);
      if (ec != std::errc() || p != ns_text.data() + ns_text.size() || ns < 0) {
        return invalid(fmt::format("timestamp \"{}\" is not Unix nanoseconds", ns_text));
      }
      metadata.clear();
      if (tuple.size() == 3) {
        simdjson::dom::object md;
        if (tuple.at(2).get_object().get(md) != simdjson::SUCCESS) {
          return invalid("structured metadata must be an object");
        }
        for (auto [k, v] : md) {
          std::string_view mv;
          if (v.get_string().get(mv) != simdjson::SUCCESS) {
            return invalid("structured metadata values must be strings");
          }
          metadata.push_back({k, mv});
        }
      }
      push.AddEntry(ns, line, metadata);
    }
  }
  return push.Finish();
}

void LokiPushBuilder::BeginStream(const Labels& labels) {
  EndStream();
  PutBytesField(stream_, kLabels, FormatLokiLabels(labels));
  open_ = true;
}

void LokiPushBuilder::AddEntry(int64_t ts_ns, std::string_view line,
                               std::span<const LabelView> structured_metadata) {
  entry_.clear();
  scratch_.clear();
  PutVarintField(scratch_, kSeconds, static_cast<uint64_t>(ts_ns / 1'000'000'000));
  if (ts_ns % 1'000'000'000 != 0) PutVarintField(scratch_, kNanos, ts_ns % 1'000'000'000);
  PutBytesField(entry_, kTimestamp, scratch_);
  PutBytesField(entry_, kLine, line);
  for (const auto& l : structured_metadata) {
    scratch_.clear();
    PutBytesField(scratch_, kPairName, l.name);
    PutBytesField(scratch_, kPairValue, l.value);
    PutBytesField(entry_, kStructuredMetadata, scratch_);
  }
  PutBytesField(stream_, kEntries, entry_);
}

void LokiPushBuilder::EndStream() {
  if (open_) PutBytesField(out_, kStreams, stream_);
  stream_.clear();
  open_ = false;
}

std::string LokiPushBuilder::Finish() {
  EndStream();
  return std::exchange(out_, {});
}

std::string FormatLokiLabels(const Labels& labels) {
  std::string text = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) text += ", ";
    text += labels[i].name;
    text += '=';
    AppendGoQuoted(text, labels[i].value);
  }
  text += '}';
  return text;
}

}  // namespace strata::proto
