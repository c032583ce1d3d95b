#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::objstore {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional (temporary credentials)
};

// One HTTP request to sign. `path` is the raw (unencoded) object path starting with '/';
// `query` holds raw (unencoded) parameters; `headers` must include "host" and may include
// others that are signed too (names in lower case).
struct SignRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256_hex;
};

// AWS Signature Version 4 for S3. Returns the Authorization header value for `req` at
// `amz_date` ("YYYYMMDD'T'HHMMSS'Z'").
std::string SignV4(const SignRequest& req, const Credentials& creds, std::string_view region,
                   std::string_view amz_date);

// RFC 3986 percent-encoding as SigV4 wants it; '/' kept when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);
std::string Sha256Hex(std::string_view data);

}  // namespace strata::objstore
