#pragma once

// The build's version and git revision, for build_info metrics, --version and User-Agent.
// Defined in a generated file of their own, so a new commit recompiles only that file.
namespace strata {
// NOLINTBEGIN(readability-identifier-naming): constants, named as constexpr ones are
extern const char* const kVersion;
extern const char* const kRevision;
// NOLINTEND(readability-identifier-naming)
}  // namespace strata
