# Strata: `make run` and `make test` do all setup on a fresh Debian machine.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
RUN_ARGS ?=

.PHONY: all deps deps-peers build run test test-asan test-tsan lint fuzz fuzz-smoke format clean

all: build

deps:
	@bash scripts/install-deps.sh

deps-peers:
	@bash scripts/install-deps.sh --with-peers

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/strata serve $(RUN_ARGS)

test: deps-peers $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2

# Unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (libraries and unit tests
# only; the results-cache tests start memcached, a peer).
test-asan: deps-peers
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=ON -DSTRATA_UNIT_TESTS_ONLY=ON
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j 2

# Unit tests under ThreadSanitizer: the WAL's group commit, the head's stripes, the HTTP server,
# the query scheduler, the agent. scripts/tsan.supp silences Debian's uninstrumented gRPC.
test-tsan: deps-peers
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_TSAN=ON -DSTRATA_UNIT_TESTS_ONLY=ON
	cmake --build build-tsan -j $(JOBS)
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/scripts/tsan.supp" ctest --test-dir build-tsan --output-on-failure -j 2

# clang-tidy over every source file, with the checks in .clang-tidy (warnings are errors).
lint: deps $(BUILD_DIR)/build.ninja
	run-clang-tidy -p $(BUILD_DIR) -quiet -j $(JOBS) '$(CURDIR)/(src|tests|fuzz)/.*\.cc$$' >$(BUILD_DIR)/clang-tidy.log 2>&1 \
	  || { grep -E 'error:' $(BUILD_DIR)/clang-tidy.log | sort -u; exit 1; }
	@echo "lint: clang-tidy clean"

fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_BUILD_FUZZ=ON -DSTRATA_UNIT_TESTS_ONLY=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets

# A short run of every fuzz target over its seed corpus (CI); run longer by hand with FUZZ_SECONDS.
FUZZ_SECONDS ?= 30
fuzz-smoke: fuzz
	bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
