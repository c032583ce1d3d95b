#!/usr/bin/env python3
"""clang-tidy over every C++ source file of src/, tests/, fuzz/ and bench/, with .clang-tidy's
checks (warnings are errors).

A file that passed is remembered by the hash of what clang-tidy sees: its preprocessed text with
comments (so NOLINT counts), every header included, the compile flags, .clang-tidy and the
clang-tidy version. Only a file whose hash is new is checked again, so a clone in any folder
reuses the passes of another (paths under the source tree are hashed relative to it). Failures
are never cached.

Usage: scripts/lint.py [--build-dir DIR] [--jobs N] [--cache-dir DIR] [FILE...]
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
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
    """A compile database of every source file, one entry a file (no unity batches), fuzz
    targets included; configuring is enough, nothing is built."""
    subprocess.run(
        ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_UNITY_BUILD=OFF",
         "-DSTRATA_BUILD_FUZZ=ON", "-DCMAKE_C_COMPILER=clang", "-DCMAKE_CXX_COMPILER=clang++"],
        check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        return {os.path.normpath(e["file"]): e for e in json.load(f)}


def tracked_sources():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "--", *(d + "*.cc" for d in DIRS)],
                         check=True, capture_output=True, text=True).stdout
    return [os.path.join(ROOT, p) for p in out.split()]


def cache_key(entry, salt):
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    if "-o" in args:
        i = args.index("-o")
        del args[i:i + 2]
    pre = subprocess.run(args + ["-E", "-C", "-o", "-"], cwd=entry["directory"],
                         capture_output=True, check=True).stdout
    h = hashlib.sha256(salt)
    h.update(" ".join(args).replace(ROOT, "@ROOT@").encode())
    h.update(pre.replace(ROOT.encode(), b"@ROOT@"))
    return h.hexdigest()


def check(entry, build_dir, cache_dir, salt):
    """Returns (file, cached, output); output is None when the file passed."""
    key = cache_key(entry, salt)
    marker = os.path.join(cache_dir, key[:2], key)
    if os.path.exists(marker):
        os.utime(marker)
        return entry["file"], True, None
    # libstdc++ 12's stable_sort calls get_temporary_buffer, which clang 22 deprecates in C++20;
    # compiler warnings are the builds' to report (gcc and clang, -Werror).
    p = subprocess.run([TIDY, "-p", build_dir, "--quiet", "--extra-arg=-Wno-deprecated-declarations",
                        entry["file"]],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return entry["file"], False, p.stdout + p.stderr
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    open(marker, "w").close()
    return entry["file"], False, None


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

    db = configure(a.build_dir)
    files = [os.path.abspath(f) for f in a.files] or tracked_sources()
    missing = [f for f in files if f not in db]
    if missing:
        sys.exit("lint: not in the compile database (add them to a CMake target): " +
                 " ".join(os.path.relpath(f, ROOT) for f in missing))
    version = subprocess.run([TIDY, "--version"], check=True, capture_output=True).stdout
    with open(os.path.join(ROOT, ".clang-tidy"), "rb") as f:
        salt = version + f.read()

    failed, cached = {}, 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        jobs = [pool.submit(check, db[f], a.build_dir, a.cache_dir, salt) for f in files]
        for j in concurrent.futures.as_completed(jobs):
            name, hit, output = j.result()
            cached += hit
            if output is not None:
                failed[name] = output
    prune(a.cache_dir)
    print(f"lint: {len(files)} files, {cached} unchanged since a clean check, "
          f"{len(files) - cached} checked, {len(failed)} failed")
    if failed:
        # A header's finding shows up once for every file that includes it.
        seen = set()
        for name in sorted(failed):
            for line in failed[name].splitlines():
                if "error:" in line and line not in seen:
                    seen.add(line)
                    print(line)
        sys.exit(1)


if __name__ == "__main__":
    main()
