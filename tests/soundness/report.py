"""Print the corpus's figures: cases per family, how many exercise a safe fix, an unsafe fix or no fix,
and how many fail today (the xfail cases).

    python tests/soundness/report.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from soundness.cases import all_cases  # noqa: E402
from soundness.harness import check_case  # noqa: E402


def main() -> int:
    rows: dict[str, Counter] = {}
    failing: list[str] = []
    for case in all_cases():
        report = check_case(case)
        row = rows.setdefault(case.family, Counter())
        row["cases"] += 1
        safe = any(fix.applicability == "safe" for fix in report.safe.applied)
        unsafe = report.unsafe_fixed
        row["safe fix"] += safe
        row["unsafe fix"] += unsafe
        row["no fix"] += not (safe or unsafe)
        row["fails"] += bool(report.failures)
        row["xfail"] += case.xfail is not None
        if bool(report.failures) != (case.xfail is not None):
            failing.append(f"{case.family}/{case.name}: {'fails' if report.failures else 'passes'} but is {'' if case.xfail else 'not '}marked xfail")
    columns = ("cases", "safe fix", "unsafe fix", "no fix", "fails", "xfail")
    print(f"{'family':<20}" + "".join(f"{c:>12}" for c in columns))
    total = Counter()
    for family, row in rows.items():
        total.update(row)
        print(f"{family:<20}" + "".join(f"{row[c]:>12}" for c in columns))
    print(f"{'total':<20}" + "".join(f"{total[c]:>12}" for c in columns))
    for line in failing:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
