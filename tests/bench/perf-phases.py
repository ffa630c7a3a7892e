#!/usr/bin/env python3
"""Cuts one `perf` profile of a whole harness run into the harness's phases and says where
the server's samples went in each.

Usage (recipe in docs/BENCHMARKS.md, "Profiling a phase"):

    perf script -i perf.data -F comm,tid,time,ip,sym --no-inline > perf.txt
    python3 tests/bench/perf-phases.py perf.txt run.json [--comm walkaround] [--top 25]

`run.json` is the harness's `--out` file: each phase's `monotonic_s` ([start, end] in
CLOCK_MONOTONIC seconds, the clock `perf record -k CLOCK_MONOTONIC` stamps samples with).
Only samples of the server's threads count: threads of the process named by `--comm`
(tokio's workers are named after it; the group commit's thread is `group-commit`).

For each phase it prints the share of the server's samples in each category below (a
sample counts in the first category one of its frames matches, searching the categories
in order, from the innermost frame out), then the innermost own frames (`--top`).
"""

import argparse
import collections
import json
import re
import sys

# (category, pattern over a frame's symbol); the first category any frame matches wins,
# the categories tried in this order.
CATEGORIES = [
    ("group commit thread", None),  # by thread name, below
    ("judging", re.compile(r"shared::policy::|shared::inspection::")),
    ("automerge apply (sync message)", re.compile(r"receive_sync_message|load_incremental|apply_changes")),
    ("generating sync messages", re.compile(r"generate_sync_message")),
    ("stored_changes / get_changes", re.compile(r"stored_changes|get_changes")),
    ("document copies (fork, compact)", re.compile(r"Automerge as core::clone::Clone|<automerge::automerge::Automerge as core::clone")),
    ("revocation checks and rights reads", re.compile(r"check_revocation|reload_user|user_for_sync|family_active")),
    ("sqlx (SQLite worker)", re.compile(r"sqlx_sqlite|sqlx_core")),
    ("WebSocket and socket writes", re.compile(r"tungstenite|tokio_tungstenite|sock_sendmsg|tcp_sendmsg|tcp_recvmsg")),
    ("CBOR protocol", re.compile(r"shared::protocol|minicbor|ciborium|serde_cbor")),
    ("runtime park / wake", re.compile(r"::park|futex|epoll_wait|^schedule$|finish_task_switch")),
]


def samples(path, comm):
    """Yields (tid, time, thread name, frames innermost first) of the server's samples."""
    header = re.compile(r"^(\S.*?)\s+(\d+)\s+(\d+\.\d+):")
    current = None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if current:
                    yield current
                current = None
                continue
            m = header.match(line)
            if m and not line.startswith(("\t", " ")):
                if current:
                    yield current
                name, tid, time = m.group(1), int(m.group(2)), float(m.group(3))
                current = (tid, time, name, [])
                continue
            if current is not None:
                parts = line.strip().split(None, 1)
                current[3].append(parts[1] if len(parts) > 1 else parts[0])
    if current:
        yield current


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("perf_txt")
    parser.add_argument("run_json")
    parser.add_argument("--comm", default="walkaround")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--run", type=int, default=0, help="which of the JSON's runs (server)")
    args = parser.parse_args()
    with open(args.run_json) as f:
        run = json.load(f)["runs"][args.run]
    phases = [(r["phase"], r["monotonic_s"][0], r["monotonic_s"][1]) for r in run["results"]]
    names = ("group-commit", args.comm, "tokio-rt-worker", "sqlx-sqlite-wor")
    by_phase = {p: collections.Counter() for p, _, _ in phases}
    own = {p: collections.Counter() for p, _, _ in phases}
    totals = collections.Counter()
    for tid, time, name, frames in samples(args.perf_txt, args.comm):
        if not name.startswith(names):
            continue
        phase = next((p for p, a, b in phases if a <= time <= b), None)
        if phase is None:
            continue
        totals[phase] += 1
        if frames:
            own[phase][frames[0]] += 1
        if name.startswith("group-commit"):
            by_phase[phase]["group commit thread"] += 1
            continue
        for category, pattern in CATEGORIES[1:]:
            if any(pattern.search(frame) for frame in frames):
                by_phase[phase][category] += 1
                break
        else:
            by_phase[phase]["other"] += 1
    for phase, _, _ in phases:
        total = totals[phase]
        if not total:
            continue
        print(f"## {phase}: {total} samples")
        for category, count in by_phase[phase].most_common():
            print(f"  {100 * count / total:5.1f} %  {category}")
        print("  innermost frames:")
        for frame, count in own[phase].most_common(args.top):
            print(f"  {100 * count / total:5.1f} %  {frame[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
