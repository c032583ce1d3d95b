# Strata: `make run` and `make test` do all setup on a fresh Debian machine.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
RUN_ARGS ?=

.PHONY: all deps deps-peers deps-bench build run test test-asan test-tsan lint fuzz fuzz-smoke format clean

all: build

deps:
	@bash scripts/install-deps.sh

deps-peers:
	@bash scripts/install-deps.sh --with-peers

deps-bench:
	@bash scripts/install-deps.sh --with-bench

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/strata serve $(RUN_ARGS)

test: deps-peers $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2

# The sanitizer trees: clang at -O1 with line tables (reports keep file:line, compiles stay
# cheap), libraries and unit tests only (the results-cache tests start memcached, a peer).
SAN_CMAKE = -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  '-DCMAKE_C_FLAGS_DEBUG=-O1 -gline-tables-only' '-DCMAKE_CXX_FLAGS_DEBUG=-O1 -gline-tables-only' \
  -DSTRATA_UNIT_TESTS_ONLY=ON

# One tree for AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer: the unit tests and
# the fuzz targets are built from the same instrumented libraries.
build-asan/build.ninja:
	cmake -S . -B build-asan $(SAN_CMAKE) -DSTRATA_BUILD_FUZZ=ON

test-asan: deps-peers build-asan/build.ninja
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j 2

# Unit tests under ThreadSanitizer: the WAL's group commit, the head's stripes, the HTTP server,
# the query scheduler, the agent. scripts/tsan.supp silences Debian's uninstrumented gRPC.
build-tsan/build.ninja:
	cmake -S . -B build-tsan $(SAN_CMAKE) -DSTRATA_TSAN=ON

test-tsan: deps-peers build-tsan/build.ninja
	cmake --build build-tsan -j $(JOBS)
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/scripts/tsan.supp" ctest --test-dir build-tsan --output-on-failure -j 2

# clang-tidy over every source file, with the checks in .clang-tidy (warnings are errors); files
# unchanged since they last passed are not checked again (scripts/lint.py).
lint: deps
	python3 scripts/lint.py --jobs $(JOBS)

fuzz: deps build-asan/build.ninja
	cmake --build build-asan -j $(JOBS) --target fuzz_targets

# A short run of every fuzz target over its seed corpus (CI); run longer by hand with FUZZ_SECONDS.
FUZZ_SECONDS ?= 30
fuzz-smoke: fuzz
	bash fuzz/run.sh build-asan $(FUZZ_SECONDS) $(JOBS)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-lint
