#pragma once

// What every decoded Loki push must hold, for the fuzz targets that make one.

#include <cstddef>
#include <cstdlib>

#include "proto/loki.h"

namespace strata::fuzz {

// Aborts unless every stream has labels and every entry's structured metadata lies within
// the push's.
inline void CheckLokiPush(const proto::LokiPush& push) {
  for (const auto& s : push.streams) {
    if (s.labels.empty()) std::abort();
    for (const auto& e : s.entries) {
      if (size_t{e.metadata_begin} + e.metadata_count > push.metadata.size()) std::abort();
    }
  }
}

}  // namespace strata::fuzz
