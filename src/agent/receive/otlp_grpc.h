#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/receive/intake.h"
#include "base/status.h"

namespace grpc {
class Server;
class CallbackGenericService;
}  // namespace grpc

namespace strata::agent {

// OTLP over gRPC: the Export methods of opentelemetry.proto.collector.{metrics,logs,trace}.v1
// on one port (default 4317). A generic service hands the raw request bytes to the same
// decoding as OTLP/HTTP, so no generated code is involved. Answers OK with an empty
// Export*ServiceResponse once the request is durable; INVALID_ARGUMENT for malformed requests;
// UNAVAILABLE (retryable) for back-pressure and rate limits. The tenant comes from the
// x-scope-orgid metadata, else `default_tenant`.
class OtlpGrpcServer {
 public:
  OtlpGrpcServer(Intake& intake, uint64_t max_message_bytes, std::string default_tenant);
  ~OtlpGrpcServer();

  // Listens on `listen` (":4317", "host:port"; port 0 picks one).
  Status Start(const std::string& listen);
  void Shutdown();
  int port() const { return port_; }

 private:
  Intake& intake_;
  const uint64_t max_message_bytes_;
  const std::string default_tenant_;
  std::unique_ptr<grpc::CallbackGenericService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace strata::agent
