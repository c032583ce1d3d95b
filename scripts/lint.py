#!/usr/bin/env python3
"""clang-tidy over every C++ source file of src/, tests/, fuzz/ and bench/, with .clang-tidy's
checks (warnings are errors).

clang-tidy checks the builds' unity batches, not file by file: parsing the standard library,
fmt, spdlog and Asio is most of its time, and a batch parses them once for all its files (a cold
check of everything takes a third of the time). The batch files CMake writes are copied with
their `#include "x.cc"` lines marked NOLINT(bugprone-suspicious-include), and checked with the
batch's compile flags. The files of a batch are compiled together in every build, so a batch is
what the compilers see too.

A batch that passed is remembered by the hash of what clang-tidy sees: its preprocessed text with
comments (so NOLINT counts), every file and header included, the compile flags, .clang-tidy and
the clang-tidy version. Only a batch whose hash is new is checked again, so a clone in any folder
reuses the passes of another (paths under the source tree are hashed relative to it). Failures
are never cached.

Usage: scripts/lint.py [--build-dir DIR] [--jobs N] [--cache-dir DIR] [FILE...]
  (with FILE..., the batches that hold those files)
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ("src/", "tests/", "fuzz/", "bench/")
# Pinned: another clang-tidy has other checks and would pass or fail other code.
TIDY = os.environ.get("CLANG_TIDY", "clang-tidy-22")
KEEP_DAYS = 30


def configure(build_dir):
    """Configures a tree whose compile database lists the unity batches the builds compile (fuzz
    targets included); nothing is built. Returns {source file: its translation unit}, where a
    unit is (the file clang-tidy checks, the compile entry)."""
    subprocess.run(
        ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_UNITY_BUILD=ON",
         "-DSTRATA_BUILD_FUZZ=ON", "-DCMAKE_C_COMPILER=clang", "-DCMAKE_CXX_COMPILER=clang++"],
        check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        db = json.load(f)
    batches = os.path.join(build_dir, "lint-batches")
    os.makedirs(batches, exist_ok=True)
    units = {}
    for entry in db:
        path = os.path.normpath(entry["file"])
        with open(path) as f:
            included = re.findall(r'^#include "([^"]+\.cc)"$', f.read(), re.M)
        if not included:
            units[path] = (path, entry)
            continue
        # build-lint/src/api/CMakeFiles/strata_api.dir/Unity/unity_0_cxx.cxx -> strata_api.0.cc
        target = os.path.basename(os.path.dirname(os.path.dirname(path)))[:-len(".dir")]
        number = re.search(r"unity_(\d+)_", os.path.basename(path)).group(1)
        copy = os.path.join(batches, f"{target}.{number}.cc")
        text = "".join(f'#include "{inc}"  // NOLINT(bugprone-suspicious-include)\n'
                       for inc in included)
        if not os.path.exists(copy) or open(copy).read() != text:
            with open(copy, "w") as f:
                f.write(text)
        for inc in included:
            units[os.path.normpath(inc)] = (copy, entry)
    return units


def compile_args(entry, source):
    """The entry's compiler arguments for `source`, without its output file."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    if "-o" in args:
        i = args.index("-o")
        del args[i:i + 2]
    return [source if a == entry["file"] else a for a in args]


def tracked_sources():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "--", *(d + "*.cc" for d in DIRS)],
                         check=True, capture_output=True, text=True).stdout
    return [os.path.join(ROOT, p) for p in out.split()]


def cache_key(args, directory, salt):
    pre = subprocess.run(args + ["-E", "-C", "-o", "-"], cwd=directory, capture_output=True,
                         check=True).stdout
    h = hashlib.sha256(salt)
    h.update(" ".join(args).replace(ROOT, "@ROOT@").encode())
    h.update(pre.replace(ROOT.encode(), b"@ROOT@"))
    return h.hexdigest()


def check(unit, cache_dir, salt):
    """Returns (unit, cached, output); output is None when the unit passed."""
    source, entry = unit
    args = compile_args(entry, source)
    key = cache_key(args, entry["directory"], salt)
    marker = os.path.join(cache_dir, key[:2], key)
    if os.path.exists(marker):
        os.utime(marker)
        return source, True, None
    # libstdc++ 12's stable_sort calls get_temporary_buffer, which clang 22 deprecates in C++20;
    # compiler warnings are the builds' to report (gcc and clang, -Werror).
    p = subprocess.run([TIDY, "--quiet", "--config-file", os.path.join(ROOT, ".clang-tidy"),
                        "--extra-arg=-Wno-deprecated-declarations", source, "--"] +
                       [a for a in args[1:] if a != source and a != "-c"],
                       cwd=entry["directory"], capture_output=True, text=True)
    if p.returncode != 0:
        return source, False, p.stdout + p.stderr
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    open(marker, "w").close()
    return source, False, None


def prune(cache_dir):
    cutoff = time.time() - KEEP_DAYS * 86400
    for d, _, files in os.walk(cache_dir):
        for f in files:
            p = os.path.join(d, f)
            if os.path.getmtime(p) < cutoff:
                os.remove(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-lint"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--cache-dir", default=os.environ.get(
        "STRATA_TIDY_CACHE", os.path.expanduser("~/.cache/strata-clang-tidy")))
    ap.add_argument("files", nargs="*", help="only these files (default: all)")
    a = ap.parse_args()

    units = configure(a.build_dir)
    files = [os.path.abspath(f) for f in a.files] or tracked_sources()
    missing = [f for f in files if f not in units]
    if missing:
        sys.exit("lint: not in the compile database (add them to a CMake target): " +
                 " ".join(os.path.relpath(f, ROOT) for f in missing))
    version = subprocess.run([TIDY, "--version"], check=True, capture_output=True).stdout
    with open(os.path.join(ROOT, ".clang-tidy"), "rb") as f:
        salt = version + f.read()

    todo = {units[f][0]: units[f] for f in files}
    failed, cached = {}, 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        jobs = [pool.submit(check, unit, a.cache_dir, salt) for unit in todo.values()]
        for j in concurrent.futures.as_completed(jobs):
            name, hit, output = j.result()
            cached += hit
            if output is not None:
                failed[name] = output
    prune(a.cache_dir)
    print(f"lint: {len(files)} files in {len(todo)} batches: {cached} unchanged since a clean "
          f"check, {len(todo) - cached} checked, {len(failed)} failed")
    if failed:
        # A header's finding shows up once for every batch that includes it.
        seen = set()
        for name in sorted(failed):
            for line in failed[name].splitlines():
                if "error:" in line and line not in seen:
                    seen.add(line)
                    print(line)
        sys.exit(1)


if __name__ == "__main__":
    main()
