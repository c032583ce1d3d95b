#!/usr/bin/env python3
"""The log benchmark's corpus: real logs no one here wrote (../shared/testdata/logs), as entries.

Each LogHub file is one system; a line's level comes from the first level word in it (ERROR,
WARN, DEBUG, ... in any case; none: info). Streams are {job="loghub", system, level}. The corpus
is repeated `reps` times to reach a volume, and each system's lines, repetitions in order, are
spread evenly over one UTC day from `day_start_ns`, so repetition k is shifted in time by k
days' share: the same text at new timestamps, as the issue asks ("scaled up by repetition with
shifted timestamps").

As a module: entries(reps, day_start_ns) yields (ts_ns, system, level, line).
As a script: writes them as TSV (ts_ns, system, level, line; lines hold no tabs after
replacing them with spaces) to stdout, and the raw lines alone to --raw FILE.
"""
import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOGS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "testdata", "logs"))
DAY_NS = 86_400 * 10**9
LEVEL_WORDS = re.compile(r"\b(FATAL|CRITICAL|SEVERE|ERROR|ERR|FAILED|FAILURE|WARNING|WARN|DEBUG|TRACE|INFO)\b",
                         re.IGNORECASE)
LEVELS = {"fatal": "error", "critical": "error", "severe": "error", "error": "error", "err": "error",
          "failed": "error", "failure": "error", "warning": "warn", "warn": "warn", "debug": "debug",
          "trace": "debug", "info": "info"}


def level_of(line):
    m = LEVEL_WORDS.search(line)
    return LEVELS[m.group(1).lower()] if m else "info"


def systems():
    """(system, lines) per LogHub file, in name order."""
    out = []
    for name in sorted(os.listdir(LOGS)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(LOGS, name), encoding="utf-8", errors="replace") as f:
            lines = [l.rstrip("\n").replace("\t", " ") for l in f]
        out.append((name[:-4], [l for l in lines if l]))
    return out


def entries(reps, day_start_ns):
    for system, lines in systems():
        levels = [level_of(l) for l in lines]
        total = len(lines) * reps
        step = DAY_NS // total
        for k in range(reps):
            base = day_start_ns + k * len(lines) * step
            for i, line in enumerate(lines):
                yield base + i * step, system, levels[i], line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--day-start-ns", type=int, required=True)
    ap.add_argument("--raw", help="also write the raw lines here")
    args = ap.parse_args()
    raw = open(args.raw, "w", encoding="utf-8") if args.raw else None
    out = sys.stdout
    for ts, system, level, line in entries(args.reps, args.day_start_ns):
        out.write(f"{ts}\t{system}\t{level}\t{line}\n")
        if raw:
            raw.write(line + "\n")
    if raw:
        raw.close()


if __name__ == "__main__":
    main()
