#include "http/error_response.h"

#include "base/json.h"
#include "proto/wire.h"

namespace strata::http {
namespace bhttp = boost::beast::http;

int32_t RpcCode(Status code) {
  switch (code) {
    case Status::bad_request:
    case Status::unsupported_media_type:
      return 3;  // INVALID_ARGUMENT
    case Status::not_found:
      return 5;  // NOT_FOUND
    case Status::unauthorized:
      return 16;  // UNAUTHENTICATED
    case Status::payload_too_large:
    case Status::too_many_requests:
      return 8;  // RESOURCE_EXHAUSTED
    default:
      return 14;  // UNAVAILABLE
  }
}

Response ErrorResponse(unsigned version, bool keep_alive, ErrorFormat format, Status code,
                       const std::string& message) {
  Response res(code, version);
  res.keep_alive(keep_alive);
  switch (format) {
    case ErrorFormat::kText:
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.body() = message + "\n";
      break;
    case ErrorFormat::kOtlpProtobuf: {
      // google.rpc.Status: code (1), message (2).
      std::string body;
      proto::PutVarintField(body, 1, static_cast<uint64_t>(int64_t{RpcCode(code)}));
      proto::PutBytesField(body, 2, message);
      res.set(bhttp::field::content_type, "application/x-protobuf");
      res.body() = std::move(body);
      break;
    }
    case ErrorFormat::kOtlpJson: {
      JsonWriter w;
      w.BeginObject().Key("code").Int(RpcCode(code)).Key("message").String(message).EndObject();
      res.set(bhttp::field::content_type, "application/json");
      res.body() = std::move(w.str());
      break;
    }
  }
  res.prepare_payload();
  return res;
}

}  // namespace strata::http
