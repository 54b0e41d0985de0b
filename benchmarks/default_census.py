#!/usr/bin/env python3
"""Census of einlint's default rules over source trees: findings per rule per 10,000 lines, and the
share of them with a safe, an unsafe or no fix.

Standalone script, not a test: it runs the installed ``einlint`` (default rules, no cache, unsafe
fixes shown so that their tier is visible) over each tree and prints a Markdown table.

    python benchmarks/default_census.py ~/.cache/einlint-corpus/transformers ~/.cache/einlint-corpus/timm
    python benchmarks/default_census.py --list EIN101 TREE...   # also print that rule's findings
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path


def count_lines(tree: Path) -> int:
    """Lines in the tree's ``*.py`` files, as ``find -name '*.py' | xargs cat | wc -l`` counts them."""
    total = 0
    for path in tree.rglob("*.py"):
        if path.is_file():
            with path.open("rb") as handle:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return total


def findings(einlint: str, trees: list[Path]) -> list[dict]:
    run = subprocess.run(
        [einlint, "--no-cache", "--unsafe-fixes", "--format", "json", *map(str, trees)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if run.returncode not in (0, 1, 2) or not run.stdout.strip():
        raise SystemExit(f"einlint failed (exit {run.returncode}): {run.stderr.strip()[:500]}")
    return json.loads(run.stdout)


def tier(finding: dict) -> str:
    fix = finding.get("fix")
    return "no fix" if fix is None else fix["applicability"]


def table(found: list[dict], lines: int) -> str:
    by_rule: dict[str, Counter] = defaultdict(Counter)
    for finding in found:
        by_rule[finding["code"]][tier(finding)] += 1
    rows = [
        "| rule | findings | per 10k lines | safe fix | unsafe fix | no fix |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    total = Counter()
    for code in sorted(by_rule):
        counts = by_rule[code]
        total += counts
        rows.append(_row(code, counts, lines))
    rows.append(_row("**all**", total, lines))
    return "\n".join(rows)


def _row(label: str, counts: Counter, lines: int) -> str:
    count = sum(counts.values())
    share = lambda name: f"{counts[name]} ({100 * counts[name] / count:.0f}%)" if count else "0"  # noqa: E731
    return f"| {label} | {count} | {10_000 * count / lines:.3f} | {share('safe')} | {share('unsafe')} | {share('no fix')} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--einlint-bin", default=None, help="the einlint executable (default: next to this Python, then PATH)")
    parser.add_argument("--list", action="append", default=[], metavar="CODE", help="print every finding of CODE")
    args = parser.parse_args(argv)
    einlint = args.einlint_bin or str(Path(sys.executable).with_name("einlint"))
    if not Path(einlint).exists():
        einlint = shutil.which("einlint") or "einlint"
    missing = [str(tree) for tree in args.trees if not tree.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    lines = sum(count_lines(tree) for tree in args.trees)
    found = findings(einlint, args.trees)
    print(f"{len(args.trees)} trees, {lines:,} lines of Python, {len(found)} default-mode findings\n")
    print(table(found, lines))
    for code in args.list:
        print(f"\n{code}:")
        for finding in found:
            if finding["code"] == code:
                print(f"  {finding['path']}:{finding['line']}: [{tier(finding)}] {finding['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
