"""Lint time and peak memory on one large file, against ``ast.parse`` of the same file: generated
files with growing numbers of findings (is the engine linear in them, and how far from ``ast.parse``
is it?) and, with ``--realistic``, one file concatenated from real modeling code with few findings.

    python benchmarks/bench_large_file.py [--findings 0,4000,16000] [--clean-lines 30000] [--fix]
    python benchmarks/bench_large_file.py --realistic ~/.cache/einlint-corpus/transformers --findings ''

Each measurement runs in a fresh process (``einlint --no-cache -j 1``; ``python -c 'ast.parse'``) and
reads the child's CPU time (user + system), wall time and peak resident memory (``ru_maxrss``). The
ratios use CPU time: on a shared machine wall time mostly measures the other processes. The file mixes
clean lines (plain arithmetic, which the prefilter skips) with lines that each give one finding:
EIN003 (no fix), or with ``--fix`` EIN006 (a safe fix) linted by ``einlint --fix`` on a copy.

The linearity check divides the extra CPU time between consecutive finding counts by the extra
findings: a linear engine gives about the same milliseconds per finding at every step.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FINDING_LINE = '    x{index} = torch.einsum("ij,jk->iz", a, b)\n'
FIXABLE_LINE = '    x{index} = torch.einsum("ij,jk->...ik", a, b)\n'
CLEAN_LINE = "    y{index} = a * {index} + b\n"


def generate(path: Path, findings: int, clean_lines: int, finding_line: str = FINDING_LINE) -> int:
    lines = ["import torch\n", "\n", "\n", "def f(a, b):\n"]
    total = findings + clean_lines
    for index in range(total):
        # Spread the findings evenly through the clean lines.
        is_finding = findings and index * findings // total != (index + 1) * findings // total
        lines.append((finding_line if is_finding else CLEAN_LINE).format(index=index))
    lines.append("    return a\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path.stat().st_size


def concatenate_modeling_files(corpus: Path, path: Path, megabytes: float) -> int:
    """Real code with few findings: ``modeling_*.py`` files, in name order, until ``megabytes``; a
    ``from __future__`` import is only legal at the top, so those lines are dropped."""
    pieces: list[str] = []
    size = 0
    for module in sorted(corpus.rglob("modeling_*.py")):
        text = module.read_text(encoding="utf-8")
        text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("from __future__"))
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        pieces.append(text if text.endswith("\n") else text + "\n")
        size += len(pieces[-1].encode("utf-8"))
        if size >= megabytes * 1e6:
            break
    path.write_text("".join(pieces), encoding="utf-8")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", default="0,4000,16000", help="comma-separated finding counts ('' for none)")
    parser.add_argument("--clean-lines", type=int, default=30000)
    parser.add_argument("--fix", action="store_true", help="fixable findings, timed under einlint --fix")
    parser.add_argument("--realistic", type=Path, metavar="CORPUS", help="also time one file concatenated from CORPUS's modeling_*.py")
    parser.add_argument("--realistic-mb", type=float, default=1.4)
    args = parser.parse_args()
    counts = [int(value) for value in args.findings.split(",") if value.strip()]
    print(
        f"{'input':>12} {'findings':>9} {'MB file':>8} {'ast cpu s':>10} {'ast MB':>7} {'einlint cpu s':>14} {'wall s':>7}"
        f" {'einlint MB':>11} {'x ast cpu':>10} {'x ast MB':>9}"
    )
    per_count: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as directory:
        if args.realistic is not None:
            path = Path(directory) / "realistic.py"
            size = concatenate_modeling_files(args.realistic, path, args.realistic_mb)
            _measure("realistic", path, size, fix=args.fix)
        for findings in counts:
            path = Path(directory) / f"large_{findings}.py"
            size = generate(path, findings, args.clean_lines, FIXABLE_LINE if args.fix else FINDING_LINE)
            lint_seconds, found = _measure("generated", path, size, fix=args.fix, findings=findings)
            per_count.append((found, lint_seconds))
    if len(per_count) >= 2:
        print("\nlinearity: extra CPU time per extra finding between consecutive counts")
        for (before, seconds_before), (after, seconds_after) in zip(per_count, per_count[1:]):
            if after > before:
                print(f"  {before:>7} -> {after:>7} findings: {1000 * (seconds_after - seconds_before) / (after - before):.3f} ms per finding")


def _measure(kind: str, path: Path, size: int, fix: bool, findings: int | None = None) -> tuple[float, int]:
    """Time einlint and ``ast.parse`` on ``path`` and print the row; ``findings`` is counted by a
    separate einlint run when not known from how the file was made."""
    ast_command = [sys.executable, "-c", f"import ast; ast.parse(open({str(path)!r}, encoding='utf-8').read())"]
    ast_cpu, _, ast_mb = _isolated(ast_command)
    found = findings if findings is not None else _count_findings(path)
    target = path
    if fix:
        target = path.with_name(path.stem + "_fixed.py")
        shutil.copyfile(path, target)
    lint_command = [sys.executable, "-m", "einlint", "--no-cache", "-j", "1", "-q", *(["--fix"] if fix else []), str(target)]
    lint_cpu, lint_wall, lint_mb = _isolated(lint_command)
    print(
        f"{kind:>12} {found:>9} {size / 1e6:>8.2f} {ast_cpu:>10.2f} {ast_mb:>7.0f} {lint_cpu:>14.2f} {lint_wall:>7.2f}"
        f" {lint_mb:>11.0f} {lint_cpu / ast_cpu:>9.1f}x {lint_mb / ast_mb:>8.1f}x"
    )
    return lint_cpu, found


def _count_findings(path: Path) -> int:
    run = subprocess.run([sys.executable, "-m", "einlint", "--no-cache", "-j", "1", "-q", str(path)], capture_output=True, text=True)
    return sum(1 for line in run.stdout.splitlines() if ": EIN" in line)


def _isolated(command: list[str]) -> tuple[float, float, float]:
    """Run ``command`` under a fresh Python that reports the child's own CPU time, wall time and peak
    memory."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "wall = time.perf_counter() - t; usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)\n"
    )
    output = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, env={**os.environ}).stdout
    cpu, wall, megabytes = output.split()
    return float(cpu), float(wall), float(megabytes)


if __name__ == "__main__":
    main()
