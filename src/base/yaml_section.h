#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/units.h"

namespace strata {

// YamlSection reads the keys of one YAML mapping of a configuration file, remembering which
// were consumed so that the rest can be reported as unknown. Every error names the key's path.
// Users link yaml-cpp.
class YamlSection {
 public:
  YamlSection(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  Status Check() const {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      return Status::InvalidArgument(fmt::format("config: \"{}\" must be a mapping", path_));
    }
    return Status::Ok();
  }
  YAML::Node Get(const std::string& key) {
    used_.insert(key);
    return node_ && node_.IsMap() ? node_[key] : YAML::Node();
  }
  std::string Path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  Status Unknown() const {
    if (!node_ || !node_.IsMap()) return Status::Ok();
    for (const auto& kv : node_) {
      auto key = kv.first.as<std::string>();
      if (!used_.count(key)) {
        return Status::InvalidArgument(fmt::format("config: unknown key \"{}\"", Path(key)));
      }
    }
    return Status::Ok();
  }

  Status Str(const std::string& key, std::string& out) {
    return Scalar(key, [&](const std::string& v) -> Status {
      out = v;
      return Status::Ok();
    });
  }
  Status Bool(const std::string& key, bool& out) {
    return Scalar(key, [&](const std::string& v) -> Status {
      if (v == "true") {
        out = true;
      } else if (v == "false") {
        out = false;
      } else {
        return Status::InvalidArgument("want true or false");
      }
      return Status::Ok();
    });
  }
  // Integers may group digits with '_' (YAML 1.1's 100_000, which Go's YAML reads).
  template <typename T>
  Status Int(const std::string& key, T& out) {
    return Integer(key, false, [&](long long n) { out = static_cast<T>(n); });
  }
  // An integer that may be negative.
  Status SignedInt(const std::string& key, int64_t& out) {
    return Integer(key, true, [&](long long n) { out = n; });
  }
  Status Double(const std::string& key, double& out) {
    return Scalar(key, [&](const std::string& v) -> Status {
      try {
        size_t pos;
        out = std::stod(v, &pos);
        if (pos != v.size() || out < 0)
          return Status::InvalidArgument("want a non-negative number");
      } catch (...) {
        return Status::InvalidArgument("want a non-negative number");
      }
      return Status::Ok();
    });
  }
  Status Duration(const std::string& key, int64_t& out_ms) {
    return Scalar(key, [&](const std::string& v) -> Status {
      ASSIGN_OR_RETURN(out_ms, ParseDurationMillis(v));
      return Status::Ok();
    });
  }
  Status Bytes(const std::string& key, uint64_t& out) {
    return Scalar(key, [&](const std::string& v) -> Status {
      ASSIGN_OR_RETURN(out, ParseBytes(v));
      return Status::Ok();
    });
  }
  Status StrList(const std::string& key, std::vector<std::string>& out) {
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return Status::Ok();
    if (!n.IsSequence()) {
      return Status::InvalidArgument(fmt::format("config: \"{}\" must be a list", Path(key)));
    }
    out.clear();
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        return Status::InvalidArgument(fmt::format("config: \"{}\" must list strings", Path(key)));
      }
      out.push_back(item.as<std::string>());
    }
    return Status::Ok();
  }

 private:
  static std::string WithoutDigitGroups(std::string v) {
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      if (v[i] == '_' && std::isdigit(static_cast<unsigned char>(v[i - 1])) &&
          std::isdigit(static_cast<unsigned char>(v[i + 1]))) {
        v.erase(i, 1);
      }
    }
    return v;
  }
  template <typename Fn>
  Status Integer(const std::string& key, bool negative_ok, Fn set) {
    return Scalar(key, [&](const std::string& text) -> Status {
      const char* want = negative_ok ? "want an integer" : "want a non-negative integer";
      const std::string v = WithoutDigitGroups(text);
      try {
        size_t pos;
        long long n = std::stoll(v, &pos);
        if (pos != v.size() || (!negative_ok && n < 0)) return Status::InvalidArgument(want);
        set(n);
      } catch (...) {
        return Status::InvalidArgument(want);
      }
      return Status::Ok();
    });
  }
  template <typename Fn>
  Status Scalar(const std::string& key, Fn fn) {
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return Status::Ok();
    if (!n.IsScalar()) {
      return Status::InvalidArgument(
          fmt::format("config: \"{}\" must be a single value", Path(key)));
    }
    Status st = fn(n.as<std::string>());
    if (!st.ok()) {
      return Status::InvalidArgument(fmt::format("config: \"{}\": {}", Path(key), st.message()));
    }
    return Status::Ok();
  }

  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
};

// Parses a configuration document; a syntax error becomes kInvalidArgument.
inline Result<YAML::Node> ParseYaml(std::string_view text) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("config: invalid YAML: {}", e.what()));
  }
}

}  // namespace strata
