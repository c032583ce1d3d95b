#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/server.h"

namespace strata::http {

// Compresses `in` into one gzip (RFC 1952) member.
std::string Gzip(std::string_view in);

// Decompresses a gzip (RFC 1952) body into `out`, refusing output beyond `max_bytes`
// (kTooLarge) and malformed input (kInvalidArgument). Concatenated members are read in full.
strata::Status Gunzip(std::string_view body, size_t max_bytes, std::string& out);

// Decompresses `body` by its Content-Encoding ("", "identity" or "gzip"); other encodings are
// kUnsupported naming them. With no encoding `out` is a copy of `body`.
strata::Status DecodeContent(std::string_view encoding, std::string_view body, size_t max_bytes,
                             std::string& out);

// The request's Content-Type without parameters ("application/json; charset=utf-8" ->
// "application/json").
std::string_view MediaType(const Request& req);

// The remote write message a request's Content-Type names (2.0's negotiation): 1 for
// prometheus.WriteRequest (also when no `proto` is given), 2 for
// io.prometheus.write.v2.Request; kUnsupported (415) for another.
strata::Result<int> RemoteWriteVersion(const Request& req);

// Remote write 2.0's answer headers: what was written.
std::vector<std::pair<std::string, std::string>> RemoteWriteWritten(uint64_t samples,
                                                                    uint64_t histograms,
                                                                    uint64_t exemplars);
void SetRemoteWriteWritten(Response& res, uint64_t samples, uint64_t histograms,
                           uint64_t exemplars);

// Decodes a request body by its Content-Encoding (none or gzip) into `out`: kUnsupported for
// another encoding, kTooLarge beyond `max_bytes`, kInvalidArgument for corrupt data.
strata::Status DecodeBody(const Request& req, size_t max_bytes, std::string& out);

}  // namespace strata::http
