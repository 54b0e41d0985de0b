#!/usr/bin/env python3
"""Peak memory and wall time of ``einlint --verify`` on einsums with many labels: the case the
verifier's budgets exist for (``torch.einsum("abcdefghijk->...abcdefghijk", x)``, EIN006's safe fix).

Standalone script, not a test: figures depend on the machine. Each label count runs in its own
``einlint --verify --no-cache --device cpu`` process. Peak RSS: that process's own (VmHWM) and that of
the verifier's worker process it starts (``RUSAGE_CHILDREN``, which counts the worker from its fork),
and their sum, the run's peak on the safe side.

    /path/to/venv/bin/python benchmarks/verify_budget.py            # 4, 9, 10, 11, 12, 13 labels
    /path/to/venv/bin/python benchmarks/verify_budget.py --labels 12
"""

from __future__ import annotations

import argparse
import json
import os
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path


# einlint in a fresh interpreter, reporting its own peak RSS and its worker's, in KiB, on stderr.
PEAKS = """
import resource, sys
from einlint.cli import main
code = main(sys.argv[1:])
own = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]
sys.stderr.write(f"PEAK_KB {own} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
sys.exit(code)
"""


def measure(labels: int, timeout: float) -> tuple[float, float, float, str]:
    """(wall seconds, peak RSS of einlint and of its worker in MiB, the verdict line) for one file
    with one such einsum."""
    letters = string.ascii_lowercase[:labels]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"labels_{labels}.py"
        path.write_text(f'import torch\n\n\ndef f(x):\n    return torch.einsum("{letters}->...{letters}", x)\n', encoding="utf-8")
        command = [sys.executable, "-c", PEAKS, "--verify", "--no-cache", "--device", "cpu", "--format", "json", str(path)]
        env = dict(os.environ, EINLINT_CACHE_DIR=folder)
        started = time.perf_counter()
        try:
            run = subprocess.run(command, capture_output=True, env=env, timeout=timeout)
            output, errors = run.stdout, run.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            output, errors = b"", ""
        wall = time.perf_counter() - started
    try:
        fix = json.loads(output)["fixes"][0]
        verdict = f"{fix['verdict']}: {fix['reason']}"[:90]
    except (ValueError, KeyError, IndexError):
        verdict = "no result (timed out or crashed)"
    try:
        own, worker = (int(value) / 1024 for value in errors.rsplit("PEAK_KB ", 1)[1].split()[:2])
    except (IndexError, ValueError):
        own = worker = float("nan")
    return wall, own, worker, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="*", default=[4, 9, 10, 11, 12, 13])
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    print("| labels | wall (s) | peak RSS, einlint (MiB) | peak RSS, worker (MiB) | sum (MiB) | verdict |")
    print("|---|---|---|---|---|---|")
    for labels in args.labels:
        wall, own, worker, verdict = measure(labels, args.timeout)
        print(f"| {labels} | {wall:.1f} | {own:.0f} | {worker:.0f} | {own + worker:.0f} | {verdict} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
