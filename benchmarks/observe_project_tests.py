#!/usr/bin/env python3
"""``einlint observe`` on a published project's own test suite: what recording costs (CPU and wall,
observed against plain, alternating) and what became of the package's unsafe fixes (observed,
withdrawn, unconfirmed, not observed), with the observation that withdrew each withdrawn one.

Standalone script, not a test. The project is fetched outside this repository, for example:

    mkdir -p /work/ext && cd /work/ext
    pip download --no-binary :all: --no-deps linear_operator==0.6.1 && tar xzf linear_operator-0.6.1.tar.gz
    python benchmarks/observe_project_tests.py --project /work/ext/linear_operator-0.6.1 --package linear_operator \\
        -- test/operators/test_dense_linear_operator.py test/operators/test_diag_linear_operator.py

Everything after ``--`` goes to ``python -m pytest -q -p no:cacheprovider``; it runs in the project's
directory (its package importable from there) with ``OMP_NUM_THREADS=1``. The observations go to a
temporary file, so the project's directory keeps no ``.einlint`` folder. The observed run's time
includes linting the package first and merging the observations after.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], cwd: Path, environment: dict[str, str]) -> tuple[float, float, str]:
    """(CPU seconds of the command and every process it waited for, wall seconds, its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall, run.stdout + run.stderr


def main() -> None:
    if "--" not in sys.argv:
        raise SystemExit("give the pytest arguments after --")
    split = sys.argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="the fetched project's directory")
    parser.add_argument("--package", required=True, help="the package to lint and watch, relative to the project")
    parser.add_argument("--python", default=sys.executable, help="an interpreter with torch, pytest and the project's dependencies")
    parser.add_argument("--rounds", type=int, default=1, help="plain and observed runs, alternating")
    parser.add_argument(
        "--select", help="codes to lint and watch instead of the default rules (e.g. the opt-in EIN103,EIN104): written to the project's "
        "pyproject.toml as [tool.einlint] select for the run, and the file restored after",
    )  # fmt: skip
    args = parser.parse_args(sys.argv[1:split])
    pytest_arguments = sys.argv[split + 1 :]
    project = args.project.expanduser().absolute()
    einlint_root = Path(__file__).resolve().parents[1]
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", EINLINT_CACHE_DIR=tempfile.mkdtemp(prefix="einlint-cache-"))
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), str(einlint_root), os.environ.get("PYTHONPATH")]))
    pytest = [args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_arguments]
    pyproject = project / "pyproject.toml"
    original = pyproject.read_bytes() if pyproject.is_file() else None
    if args.select:
        if original is not None and b"[tool.einlint]" in original:
            raise SystemExit("the project configures einlint already; --select would not replace that")
        listed = ", ".join(f'"{code.strip()}"' for code in args.select.split(","))
        pyproject.write_bytes((original or b"") + f"\n[tool.einlint]\nselect = [{listed}]\n".encode())
    try:
        findings, plain_runs, observed_runs = measure(args, project, pytest, environment)
    finally:
        if original is None:
            pyproject.unlink(missing_ok=True)
        else:
            pyproject.write_bytes(original)
    report(findings, plain_runs, observed_runs)


def measure(args: argparse.Namespace, project: Path, pytest: list[str], environment: dict[str, str]) -> tuple[list[dict], list, list]:
    """Plain and observed runs of the tests, then the package's findings judged against the last
    observed run's observations."""
    with tempfile.TemporaryDirectory() as folder:
        observations = Path(folder) / "observations.json"
        observe = [args.python, "-m", "einlint", "observe", "--observations", str(observations), args.package, "--", *pytest]
        plain_runs, observed_runs = [], []
        for _ in range(args.rounds):
            plain_runs.append(timed(pytest, project, environment))
            observations.unlink(missing_ok=True)  # the counts below are of one run
            observed_runs.append(timed(observe, project, environment))
        print("plain:", plain_runs[-1][2].strip().splitlines()[-1])
        print("observed:", " | ".join(observed_runs[-1][2].strip().splitlines()[-2:]))
        lint = subprocess.run(
            [args.python, "-m", "einlint", "--no-cache", "--observations", str(observations), "--unsafe-fixes", "--format", "json", args.package],
            cwd=project, capture_output=True, text=True, env=environment,
        )  # fmt: skip
    return json.loads(lint.stdout), plain_runs, observed_runs


def report(findings: list[dict], plain_runs: list, observed_runs: list) -> None:
    statuses: collections.Counter[str] = collections.Counter()
    for finding in findings:
        observed = finding.get("observed") or {}
        applicability = (finding["fix"] or {}).get("applicability")
        if applicability == "observed" or observed.get("status") in ("withdrawn", "unconfirmed", "not observed"):
            statuses[observed.get("status", "")] += 1
            if observed.get("status") in ("withdrawn", "unconfirmed"):
                print(f"  {observed['status']}: {finding['path']}:{finding['line']} {finding['code']}: {observed['reason']}")
        elif observed.get("status") == "measured" and finding["fix"] is None and finding["code"] in ("EIN291", "EIN391"):
            print(f"  {finding['code']}: {finding['path']}:{finding['line']}: {finding['message']}")
    for label, runs in (("plain", plain_runs), ("observed", observed_runs)):
        cpu = statistics.median(run[0] for run in runs)
        wall = statistics.median(run[1] for run in runs)
        print(f"{label}: CPU {cpu:.2f} s, wall {wall:.2f} s (runs, CPU/wall: {', '.join(f'{run[0]:.2f}/{run[1]:.2f}' for run in runs)})")
    cpu_ratio = statistics.median(run[0] for run in observed_runs) / statistics.median(run[0] for run in plain_runs)
    wall_ratio = statistics.median(run[1] for run in observed_runs) / statistics.median(run[1] for run in plain_runs)
    print(f"overhead: {cpu_ratio:.2f}x CPU, {wall_ratio:.2f}x wall")
    print(f"unsafe fixes: {sum(statuses.values())}: " + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())))


if __name__ == "__main__":
    main()
