#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "objstore/bucket.h"
#include "objstore/sigv4.h"

typedef void CURL;  // NOLINT: libcurl's own declaration

namespace strata::objstore {

struct S3Options {
  std::string
      endpoint;  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:4568"; empty: AWS
  std::string bucket;
  std::string region = "us-east-1";
  std::string prefix;      // optional key prefix inside the bucket ("strata/")
  bool path_style = true;  // false: virtual-hosted (<bucket>.<endpoint host>)
  // Credentials: these if set, else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
  // AWS_SESSION_TOKEN, else the [profile] of an AWS shared credentials file.
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string credentials_file;  // default ~/.aws/credentials
  std::string profile;           // default $AWS_PROFILE or "default"
  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 60'000;  // per attempt, for requests without a large body
  int max_retries = 8;                  // after the first attempt
  int64_t backoff_base_ms = 100;        // full jitter, doubling, capped at backoff_max_ms
  int64_t backoff_max_ms = 10'000;
  uint64_t multipart_threshold = 64u << 20;  // PutFile of larger files uses multipart upload
  uint64_t part_size = 16u << 20;
};

// S3Bucket speaks the S3 REST API (SigV4) over libcurl to AWS S3 or any compatible store.
// Retries connection failures, timeouts, 5xx and throttling (429, SlowDown) with exponential
// backoff and full jitter; other 4xx fail at once. Multipart uploads complete only when every
// part is stored and are aborted otherwise, so an object is never half visible. Thread-safe:
// connections come from a small pool.
class S3Bucket : public Bucket {
 public:
  static Result<std::unique_ptr<S3Bucket>> Open(S3Options opts);
  ~S3Bucket() override;

  Result<std::string> Get(const std::string& key) override;
  Result<std::string> GetRange(const std::string& key, uint64_t offset, uint64_t length) override;
  Status Put(const std::string& key, std::string_view data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool recursive) override;
  Status Delete(const std::string& key) override;
  Result<bool> Exists(const std::string& key) override;

 private:
  struct Response {
    long code = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
    std::string Header(std::string_view name) const;
  };
  struct Request {
    std::string method;
    std::string key;  // object key without the prefix; empty for bucket-level requests
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string_view body;
  };

  S3Bucket(S3Options opts, Credentials creds);
  // One request with retries. Non-retryable HTTP errors come back as a Response; transport
  // failures and exhausted retries as Unavailable.
  Result<Response> Do(const Request& req);
  Result<Response> Attempt(CURL* curl, const Request& req, int64_t timeout_ms);
  CURL* Acquire();
  void Release(CURL* curl);
  Status MultipartUpload(const std::string& key, const std::string& path, uint64_t size);

  const S3Options opts_;
  const Credentials creds_;
  std::string scheme_host_;  // "http://127.0.0.1:4568"
  std::string host_;         // Host header
  std::string path_prefix_;  // "/<bucket>" in path style, else ""
  Mutex pool_mu_;
  std::vector<CURL*> pool_ GUARDED_BY(pool_mu_);
};

}  // namespace strata::objstore
