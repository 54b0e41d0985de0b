#!/usr/bin/env python3
"""Census of einlint's default rules over source trees: findings per rule per 10,000 lines, and the
share of them with a safe, an unsafe or no fix.

Standalone script, not a test: it runs the installed ``einlint`` (default rules, no cache, unsafe
fixes shown so that their tier is visible) over each tree and prints a Markdown table.

    python benchmarks/default_census.py ~/.cache/einlint-corpus/transformers ~/.cache/einlint-corpus/timm
    python benchmarks/default_census.py --list EIN101 TREE...   # also print that rule's findings
    python benchmarks/default_census.py --verify TREE...        # also the verifier's verdicts per rule

With ``--verify``, the files that have default findings are run through ``einlint --verify
--unsafe-fixes`` (on this machine: CPU unless a GPU is visible) and each rule's fixes are counted by
verdict (equivalent, not equivalent, equivalent without autocast, not verifiable) and by measured speed
(faster, slower, same, unstable: what the verifier calls them, never a guess).
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


VERDICTS = ("equivalent", "equivalent without autocast", "not equivalent", "not verifiable")
SPEEDS = ("faster", "same", "slower", "unstable")


def verdicts(einlint: str, found: list[dict]) -> list[dict]:
    """The verifier's record of every fix in the files that have findings."""
    paths = sorted({finding["path"] for finding in found if finding.get("fix")})
    if not paths:
        return []
    run = subprocess.run([einlint, "--no-cache", "--unsafe-fixes", "--verify", "--format", "json", *paths], capture_output=True, text=True, check=False)
    if run.returncode not in (0, 1, 2) or not run.stdout.strip():
        raise SystemExit(f"einlint --verify failed (exit {run.returncode}): {run.stderr.strip()[:500]}")
    return json.loads(run.stdout)["fixes"]


def verdict_table(verified: list[dict]) -> str:
    by_rule: dict[str, Counter] = defaultdict(Counter)
    for fix in verified:
        counts = by_rule[fix["code"]]
        counts[fix["verdict"]] += 1
        if fix["verdict"] in ("equivalent", "equivalent without autocast"):
            counts[_speed(fix.get("speed"))] += 1
    header = "| rule | fixes | " + " | ".join(VERDICTS) + " | " + " | ".join(SPEEDS) + " |"
    rows = [header, "|---|" + "---:|" * (1 + len(VERDICTS) + len(SPEEDS))]
    for code in sorted(by_rule):
        counts = by_rule[code]
        total = sum(counts[name] for name in VERDICTS)
        rows.append(f"| {code} | {total} | " + " | ".join(str(counts[name]) for name in (*VERDICTS, *SPEEDS)) + " |")
    return "\n".join(rows)


def _speed(label: str | None) -> str:
    """The verifier's overall speed label, folded into the four columns."""
    text = (label or "unstable").lower()
    for name in ("faster", "slower", "unstable"):
        if name in text:
            return name
    return "same"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--einlint-bin", default=None, help="the einlint executable (default: next to this Python, then PATH)")
    parser.add_argument("--list", action="append", default=[], metavar="CODE", help="print every finding of CODE")
    parser.add_argument("--verify", action="store_true", help="also run the verifier over the files with findings and count its verdicts per rule")
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
    if args.verify:
        verified = verdicts(einlint, found)
        flagged = {(finding["path"], finding["line"], finding["code"]) for finding in found}
        verified = [fix for fix in verified if (fix["path"], fix["line"], fix["code"]) in flagged]
        print(f"\nThe verifier's verdicts on {len(verified)} fixes of those findings:\n")
        print(verdict_table(verified))
    for code in args.list:
        print(f"\n{code}:")
        for finding in found:
            if finding["code"] == code:
                print(f"  {finding['path']}:{finding['line']}: [{tier(finding)}] {finding['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
