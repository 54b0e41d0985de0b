"""Long run of the differential soundness fuzzer: generate whole programs around chains, fix them
(safe; safe and unsafe), run original against fixed in context, and report.

    python benchmarks/soundness_fuzz.py --seed 1 --count 100000 --seconds 1200

Stops at ``--count`` programs or after ``--seconds`` of wall time, whichever comes first. Prints how
many programs ran, how many exercised a fix (safe / unsafe), how many mismatched, and one minimal
program (shrunk) per distinct kind of mismatch, with what differed."""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soundness.fuzz import Recorded, build, run_choices, shrink  # noqa: E402
from soundness.harness import check_case  # noqa: E402


def _signature(report) -> str:
    """What kind of mismatch: the tier, the rules, and the first failure with numbers removed."""
    tier = "safe" if any(f.startswith("safe") for f in report.failures) else "unsafe"
    fixed = report.safe if tier == "safe" else report.unsafe
    codes = "+".join(sorted({fix.code for fix in fixed.applied})) or "-"
    first = re.sub(r"\(input[^)]*\)", "", report.failures[0])
    first = re.sub(r"-?\d[\d.e+-]*", "N", first)[:90]
    return f"{tier} {codes}: {first}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--shrink-budget", type=int, default=40, help="re-runs allowed to shrink each new kind of mismatch")
    parser.add_argument("--show", type=int, default=20, help="minimal programs to print")
    options = parser.parse_args(argv)

    rng = random.Random(options.seed)
    started = time.monotonic()
    programs = safe_fixed = unsafe_fixed = any_fixed = mismatches = harness_errors = 0
    kinds: dict[str, list] = {}
    while programs < options.count and time.monotonic() - started < options.seconds:
        recorder = Recorded(rng=rng)
        program = build(recorder, f"fuzz{programs}")
        try:
            report = check_case(program.case)
        except Exception as error:  # noqa: BLE001 - a harness problem is counted, not fatal to the run
            harness_errors += 1
            print(f"harness error on program {programs}: {type(error).__name__}: {error}", file=sys.stderr)
            programs += 1
            continue
        programs += 1
        safe_fixed += bool(report.safe.applied)
        unsafe_fixed += report.unsafe_fixed
        any_fixed += bool(report.safe.applied or report.unsafe.applied)
        if report.failures:
            mismatches += 1
            signature = _signature(report)
            if signature not in kinds:
                kinds[signature] = [0, recorder.choices]
            kinds[signature][0] += 1
    elapsed = time.monotonic() - started
    print(f"seed {options.seed}: {programs} programs in {elapsed:.0f} s ({programs / max(elapsed, 1e-9):.1f}/s)")
    print(f"fixes exercised: {any_fixed} programs ({safe_fixed} with a safe fix, {unsafe_fixed} with an unsafe fix)")
    print(f"mismatches: {mismatches} programs, {len(kinds)} kinds; harness errors: {harness_errors}")
    for index, (signature, (count, choices)) in enumerate(sorted(kinds.items(), key=lambda item: -item[1][0])):
        print(f"\n=== {count} x {signature}")
        if index >= options.show:
            continue
        smallest = shrink(choices, options.shrink_budget, keep=lambda report, wanted=signature: _signature(report) == wanted)
        program, report = run_choices(smallest)
        fixed = report.safe if any(f.startswith("safe") for f in report.failures) else report.unsafe
        print("features:", ", ".join(program.features))
        print(program.source, end="")
        print("--- fixed:")
        print(fixed.text, end="")
        for failure in report.failures[:3]:
            print("!!", failure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
