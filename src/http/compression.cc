#include "http/compression.h"

#include <fmt/format.h>
#include <zlib.h>

namespace strata::http {

std::string Gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

strata::Status Gunzip(std::string_view body, size_t max_bytes, std::string& out) {
  out.clear();
  z_stream zs{};
  // 16 + MAX_WBITS: gzip framing only.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return strata::Status::IOError("gzip: cannot initialise zlib");
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
      st = strata::Status::TooLarge(
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
      st = strata::Status::InvalidArgument(
          fmt::format("body is not valid gzip: {}", zs.msg ? zs.msg : "truncated"));
      break;
    }
    if (zs.avail_in == 0 && produced == 0) {
      st = strata::Status::InvalidArgument("body is not valid gzip: truncated");
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
      return strata::Status::TooLarge(fmt::format("body exceeds the limit of {} bytes", max_bytes));
    }
    out.assign(body);
    return strata::Status::Ok();
  }
  if (encoding == "gzip") return Gunzip(body, max_bytes, out);
  return strata::Status::Unsupported(
      fmt::format("unsupported Content-Encoding \"{}\" (want gzip or none)", encoding));
}

std::string_view MediaType(const Request& req) {
  auto it = req.find(boost::beast::http::field::content_type);
  if (it == req.end()) return {};
  std::string_view v(it->value().data(), it->value().size());
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}

strata::Result<int> RemoteWriteVersion(const Request& req) {
  auto ct = req.find(boost::beast::http::field::content_type);
  if (ct == req.end()) return 1;
  std::string_view rest(ct->value().data(), ct->value().size());
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  for (size_t at = rest.find(';'); at != std::string_view::npos; at = rest.find(';')) {
    rest.remove_prefix(at + 1);
    std::string_view param = trim(rest.substr(0, rest.find(';')));
    if (!param.starts_with("proto=")) continue;
    param.remove_prefix(6);
    if (param == "prometheus.WriteRequest") return 1;
    if (param == "io.prometheus.write.v2.Request") return 2;
    return strata::Status::Unsupported(
        fmt::format("unsupported remote write message \"{}\": send prometheus.WriteRequest or "
                    "io.prometheus.write.v2.Request",
                    param));
  }
  return 1;
}

std::vector<std::pair<std::string, std::string>> RemoteWriteWritten(uint64_t samples,
                                                                    uint64_t histograms,
                                                                    uint64_t exemplars) {
  return {{"X-Prometheus-Remote-Write-Samples-Written", std::to_string(samples)},
          {"X-Prometheus-Remote-Write-Histograms-Written", std::to_string(histograms)},
          {"X-Prometheus-Remote-Write-Exemplars-Written", std::to_string(exemplars)}};
}

void SetRemoteWriteWritten(Response& res, uint64_t samples, uint64_t histograms,
                           uint64_t exemplars) {
  for (const auto& [name, value] : RemoteWriteWritten(samples, histograms, exemplars)) {
    res.set(name, value);
  }
}

strata::Status DecodeBody(const Request& req, size_t max_bytes, std::string& out) {
  std::string_view encoding;
  if (auto it = req.find(boost::beast::http::field::content_encoding); it != req.end()) {
    encoding = std::string_view(it->value().data(), it->value().size());
  }
  return DecodeContent(encoding, req.body(), max_bytes, out);
}

}  // namespace strata::http
