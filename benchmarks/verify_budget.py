#!/usr/bin/env python3
"""Peak memory and wall time of ``einlint --verify`` on einsums with many labels: the case the
verifier's budgets exist for (``torch.einsum("abcdefghijk->...abcdefghijk", x)``, EIN006's safe fix).

Standalone script, not a test: figures depend on the machine. Each label count runs in its own
``einlint --verify --no-cache --device cpu`` process; its peak RSS comes from ``os.wait4``.

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
import threading
import time
from pathlib import Path


def measure(labels: int, timeout: float) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, the verdict line) for one file with one such einsum."""
    letters = string.ascii_lowercase[:labels]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"labels_{labels}.py"
        path.write_text(f'import torch\n\n\ndef f(x):\n    return torch.einsum("{letters}->...{letters}", x)\n', encoding="utf-8")
        command = [sys.executable, "-m", "einlint", "--verify", "--no-cache", "--device", "cpu", "--format", "json", str(path)]
        env = dict(os.environ, EINLINT_CACHE_DIR=folder)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        output = process.stdout.read() if process.stdout else b""
        # wait4, not Popen.wait: it reports this child's own peak RSS.
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0  # reaped above
        timer.cancel()
        wall = time.perf_counter() - started
    try:
        fix = json.loads(output)["fixes"][0]
        verdict = f"{fix['verdict']}: {fix['reason']}"[:90]
    except (ValueError, KeyError, IndexError):
        verdict = "no result (timed out or crashed)"
    peak = usage.ru_maxrss / 1024
    return wall, peak, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="*", default=[4, 9, 10, 11, 12, 13])
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    print("| labels | wall (s) | peak RSS (MiB) | verdict |\n|---|---|---|---|")
    for labels in args.labels:
        wall, peak, verdict = measure(labels, args.timeout)
        print(f"| {labels} | {wall:.1f} | {peak:.0f} | {verdict} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
