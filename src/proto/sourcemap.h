#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace simdjson::dom {
class element;
}

namespace strata::proto {

// A Source Map revision 3 (the format bundlers write beside minified JavaScript), as Grafana
// Alloy's faro.receiver uses one (through go-sourcemap) to rewrite exception stack frames.
class SourceMap {
 public:
  struct Original {
    std::string source;    // made absolute: against sourceRoot, else the map's own URL
    std::string function;  // the mapping's name, "?" without one
    int64_t line = 0;      // 1-based
    int64_t column = 0;    // 0-based, as the map stores it
  };

  // Parses `json`; `map_url` (the map's URL or path) resolves relative sources. Indexed maps
  // (`sections`) hold their maps inline (sections that name a `url` are refused, as
  // go-sourcemap refuses them); malformed mappings are refused, naming the fault.
  static Result<SourceMap> Parse(std::string_view json, std::string_view map_url);

  // The original position of generated line `line` (1-based) and column `column` (given as
  // the browser reports it, passed on unchanged as Alloy does): the last mapping at or before
  // it, or, when none is at it exactly, the one just before it even on an earlier line; none
  // before the first mapping, or past the last when the last is on another line. In an
  // indexed map, in the last section whose offset line is before `line`, both offsets taken
  // off the position (go-sourcemap's reading).
  std::optional<Original> Resolve(int64_t line, int64_t column) const;

  size_t mappings() const;

 private:
  struct Mapping {
    int64_t line, column;  // generated, line 1-based
    int32_t source = -1, name = -1;
    int64_t src_line = 0, src_column = 0;
  };
  // A map, or one section of an indexed map at its offset (0-based line, column).
  struct Section {
    int64_t line = 0, column = 0;
    std::vector<std::string> sources, names;
    std::vector<Mapping> mappings;  // by generated line and column
  };
  static Status ParseSection(const simdjson::dom::element& doc, std::string_view map_url,
                             Section& m);
  static std::optional<Original> Resolve(const Section& s, int64_t line, int64_t column);

  std::vector<Section> sections_;  // in offset order
};

// Resolves `ref` (a URL or path, as sourceMappingURL or `sources` give it) against `base`
// (the URL or path of the file that names it), as RFC 3986 does for URLs.
std::string ResolveReference(std::string_view base, std::string_view ref);

}  // namespace strata::proto
