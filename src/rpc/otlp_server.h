#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "proto/otlp.h"

namespace grpc {
class Server;
class CallbackGenericService;
}  // namespace grpc

namespace strata::otlpgrpc {

// The google.rpc codes an OTLP/gRPC Export is answered with.
enum class Code : int {
  kOk = 0,
  kInvalidArgument = 3,
  kNotFound = 5,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};
// "OK", "INVALID_ARGUMENT", ...: the name the code has in gRPC, for counters.
std::string_view CodeName(Code c);

// The answer to one Export call: OK with a serialized Export*ServiceResponse (the partial
// success, or empty), or an error code and message.
struct Reply {
  Code code = Code::kOk;
  std::string message;
  std::string response;
};

// One Export call: its signal, the x-scope-orgid metadata (nullopt when absent) and the
// serialized Export*ServiceRequest. `done` must be called once, from any thread.
using Handler = std::function<void(proto::OtlpSignal signal, std::optional<std::string> tenant,
                                   std::string request, std::function<void(Reply)> done)>;

// OTLP over gRPC: the Export methods of opentelemetry.proto.collector.{metrics,logs,trace}.v1
// on one port. A generic service hands the raw request bytes to `handler`, so no generated
// code is involved; other methods are UNIMPLEMENTED. What the agent's receiver and the
// server's OTLP endpoint share. Thread-safe.
class Server {
 public:
  Server(Handler handler, uint64_t max_message_bytes);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens on `listen` (":4317", "host:port"; port 0 picks one).
  Status Start(const std::string& listen);
  // Stops taking calls and waits up to 10 s for those in flight.
  void Shutdown();
  int port() const { return port_; }

 private:
  const Handler handler_;
  const uint64_t max_message_bytes_;
  std::unique_ptr<grpc::CallbackGenericService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace strata::otlpgrpc
