#!/usr/bin/env python3
"""What isolating each verified pair in a child process costs, for the ways of doing it.

Standalone script, not a test: figures depend on the machine. The same pairs (tiny profile, untimed,
no cache) are verified

- in this process (no isolation: the baseline);
- by one worker process reused across pairs (what ``einlint --verify`` does; restarted only after a
  pair kills it);
- by a fresh worker process per pair (``PairWorker`` started anew each time);
- by a fork per pair from a fork server that imported torch once (``multiprocessing``'s
  ``forkserver`` with torch preloaded).

    /path/to/venv/bin/python benchmarks/verify_worker.py            # 12 pairs
    /path/to/venv/bin/python benchmarks/verify_worker.py --pairs 30
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

from einlint.verify.verifier import VerifyOptions, verify_pair
from einlint.verify.worker import PairWorker, WorkerLimits

OPTIONS = VerifyOptions(profiles=("tiny",), timing=False, use_cache=False)
PAIRS = [
    ("torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)"),
    ("torch.matmul(q.transpose(-2, -3), k)", "torch.einsum('...qbd,...bdk->...bqk', q, k)"),
    ("(x.unsqueeze(-1) * y.unsqueeze(-2)).sum(0)", "torch.einsum('di,dj->ij', x, y)"),
    ("torch.einsum('ij,jk->ik', a, b).transpose(0, 1)", "torch.einsum('ij,jk->ki', a, b)"),
]
LIMITS = WorkerLimits.for_time_budget(60.0)


def in_process(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """(seconds to the first verdict, seconds in all), importing torch included."""
    started = time.perf_counter()
    import torch  # noqa: F401 - the import is part of what a run pays

    first = None
    for pair in pairs:
        verify_pair(*pair, options=OPTIONS)
        first = first or time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def reused_worker(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    with PairWorker(LIMITS) as worker:
        for pair in pairs:
            worker.verify(*pair, None, OPTIONS)
            first = first or time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def worker_per_pair(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    for pair in pairs:
        with PairWorker(LIMITS) as worker:
            worker.verify(*pair, None, OPTIONS)
        first = first or time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def _forked(connection, pair: tuple[str, str]) -> None:
    connection.send(verify_pair(*pair, options=OPTIONS).verdict)


def fork_per_pair(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "einlint.verify.verifier"])
    started = time.perf_counter()
    first = None
    for pair in pairs:
        ours, theirs = context.Pipe()
        process = context.Process(target=_forked, args=(theirs, pair))
        process.start()
        ours.recv()
        process.join()
        first = first or time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12)
    args = parser.parse_args()
    pairs = [PAIRS[index % len(PAIRS)] for index in range(args.pairs)]
    rows = [
        ("in this process (no isolation)", in_process),
        ("one worker, reused", reused_worker),
        ("a worker per pair", worker_per_pair),
        ("a fork per pair (fork server, torch preloaded)", fork_per_pair),
    ]
    print(f"| how | first verdict (s) | {len(pairs)} pairs (s) | each later pair (s) |\n|---|---|---|---|")
    for name, run in rows:
        first, seconds = run(pairs)
        later = (seconds - first) / max(len(pairs) - 1, 1)
        print(f"| {name} | {first:.2f} | {seconds:.2f} | {later:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
