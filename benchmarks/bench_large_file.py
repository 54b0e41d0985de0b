"""Lint time and peak memory on one large generated file, against ``ast.parse`` of the same file, at
growing numbers of findings: the ratio to ``ast.parse`` and the time per finding show whether the
engine stays linear in the size of one file and in the number of its findings.

    python benchmarks/bench_large_file.py [--findings 2000,8000,32000] [--clean-lines 20000]

Each measurement runs in a fresh process (``einlint --no-cache -j 1``; ``python -c 'ast.parse'``) and
reads its wall time and peak resident memory (``ru_maxrss`` of the child). The file mixes clean lines
(plain arithmetic, which the prefilter skips) with lines that each give one EIN003 finding.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

FINDING_LINE = '    x{index} = torch.einsum("ij,jk->iz", a, b)\n'
CLEAN_LINE = "    y{index} = a * {index} + b\n"


def generate(path: Path, findings: int, clean_lines: int) -> int:
    lines = ["import torch\n", "\n", "\n", "def f(a, b):\n"]
    total = findings + clean_lines
    for index in range(total):
        # Spread the findings evenly through the clean lines.
        is_finding = findings and index * findings // total != (index + 1) * findings // total
        lines.append((FINDING_LINE if is_finding else CLEAN_LINE).format(index=index))
    lines.append("    return a\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", default="2000,8000,32000")
    parser.add_argument("--clean-lines", type=int, default=20000)
    args = parser.parse_args()
    counts = [int(value) for value in args.findings.split(",")]
    print(f"{'findings':>9} {'MB file':>8} {'ast s':>7} {'ast MB':>7} {'einlint s':>10} {'einlint MB':>11} {'x ast time':>11} {'ms/finding':>11}")
    with tempfile.TemporaryDirectory() as directory:
        for findings in counts:
            path = Path(directory) / f"large_{findings}.py"
            size = generate(path, findings, args.clean_lines)
            # Each tool in its own interpreter, so ru_maxrss of the child is that tool's peak.
            ast_command = [sys.executable, "-c", f"import ast, sys; ast.parse(open({str(path)!r}).read())"]
            lint_command = [sys.executable, "-m", "einlint", "--no-cache", "-j", "1", "-q", str(path)]
            ast_seconds, ast_mb = _isolated(ast_command)
            lint_seconds, lint_mb = _isolated(lint_command)
            per_finding = 1000 * lint_seconds / findings if findings else 0.0
            print(
                f"{findings:>9} {size / 1e6:>8.2f} {ast_seconds:>7.2f} {ast_mb:>7.0f} {lint_seconds:>10.2f} {lint_mb:>11.0f}"
                f" {lint_seconds / ast_seconds:>10.1f}x {per_finding:>11.3f}"
            )


def _isolated(command: list[str]) -> tuple[float, float]:
    """Run ``command`` under a fresh Python that reports the child's own peak memory."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    output = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, env={**os.environ}).stdout
    seconds, megabytes = output.split()
    return float(seconds), float(megabytes)


if __name__ == "__main__":
    main()
