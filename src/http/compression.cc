#include "http/compression.h"

#include <fmt/format.h>
#include <zlib.h>

namespace strata::http {

strata::Status Gunzip(std::string_view body, size_t max_bytes, std::string& out) {
  out.clear();
  z_stream zs{};
  // 16 + MAX_WBITS: gzip framing only.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return Status::IOError("gzip: cannot initialise zlib");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  char buf[64 * 1024];
  strata::Status st;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = sizeof(buf) - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      st = Status::TooLarge(
          fmt::format("decompressed body exceeds the limit of {} bytes", max_bytes));
      break;
    }
    out.append(buf, produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK) {
      st = Status::InvalidArgument(
          fmt::format("body is not valid gzip: {}", zs.msg ? zs.msg : "truncated"));
      break;
    }
    if (zs.avail_in == 0 && produced == 0) {
      st = Status::InvalidArgument("body is not valid gzip: truncated");
      break;
    }
  }
  inflateEnd(&zs);
  return st;
}

strata::Status DecodeContent(std::string_view encoding, std::string_view body, size_t max_bytes,
                     std::string& out) {
  if (encoding.empty() || encoding == "identity") {
    if (body.size() > max_bytes) {
      return Status::TooLarge(fmt::format("body exceeds the limit of {} bytes", max_bytes));
    }
    out.assign(body);
    return Status::Ok();
  }
  if (encoding == "gzip") return Gunzip(body, max_bytes, out);
  return Status::InvalidArgument(
      fmt::format("unsupported Content-Encoding \"{}\" (want gzip or none)", encoding));
}

}  // namespace strata::http
