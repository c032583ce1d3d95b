#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"

namespace strata {

// ParallelFor runs fn(begin, end) over [0, n) in chunks of at most `grain` items, on the
// calling thread and on a process-wide set of helper threads (one per core). The caller
// works on chunks too and only waits for chunks already started, so nested or concurrent
// calls cannot deadlock even when every helper is busy. fn must be safe to call from several
// threads at once on disjoint ranges.
void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

// Runs `wait`, which blocks for a while (a query pausing for other tenants' work). Called on
// one of ParallelFor's helper threads, a spare helper is started first if none is idle, so
// other ParallelFor calls keep their helpers meanwhile.
void BlockingRegion(const std::function<void()>& wait);

// Runs fn(i) for i in [0, n) on up to `threads` threads (the caller is one of them) of a
// process-wide pool for blocking work such as object-store requests, which must not occupy
// the CPU helpers; the pool keeps its threads, so calls whose work turns out to be quick
// (cached) pay no thread start-up, and the caller waits only for helpers that took an item.
// Stops handing out work after the first error and returns it.
Status RunConcurrently(size_t n, size_t threads, const std::function<Status(size_t)>& fn);

}  // namespace strata
