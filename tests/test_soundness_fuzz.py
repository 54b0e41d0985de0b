"""Differential fuzzing of the fix tiers: hypothesis draws whole programs around a chain (operands from
parameters, annotations, views or factories; temporaries; in-place ops, aliases, ``.data =``,
``nonlocal``, grad-mode changes between a view and its use; nested functions, lambdas,
comprehensions, loops; autocast; callers that ``.view`` or inspect the result), fixes each in-process
(safe; safe and unsafe) and runs original against fixed in every context the harness knows.

A mismatch fails the test unless it belongs to a class of programs known to be mishandled today
(``KNOWN_UNSOUND``: each pinned by strict-xfail cases in the corpus). Each known class also keeps a
representative program that must still mismatch: when einlint is fixed, that test fails until the
class is removed here, so the fuzzer then guards it too. The long run is
``benchmarks/soundness_fuzz.py``."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from soundness.fuzz import Recorded, build, run_choices  # noqa: E402
from soundness.harness import check_case  # noqa: E402


@dataclass(frozen=True)
class KnownUnsound:
    features: frozenset[str]  # a program having all of these is mishandled today
    reason: str
    example: tuple[int, ...]  # choices of a program of this class that mismatches today


# Choice order: chain, provenance of a, of b, temporary, hazard, scope, loop, autocast, use, size-one.
KNOWN_UNSOUND = (
    KnownUnsound(
        frozenset({"size-one"}), "strictness: einsum broadcasts a size-1 label where bmm/mm/@ raise (corpus: strictness/*)", (0, 0, 0, 0, 0, 0, 0, 0, 0, 2)
    ),
    *(
        KnownUnsound(
            frozenset({"bmm_result_transposed", use}),
            f"result-layout: the einsum result's layout differs from bmm().transpose() and the caller uses {use} (corpus: result-layout/*)",
            (4, 0, 0, 0, 0, 0, 0, 0, index, 0),
        )
        for index, use in ((1, "view"), (2, "is_contiguous"), (3, "stride"), (4, "inplace_add"), (5, "helper_view"))
    ),
)


def known_reason(features: tuple[str, ...]) -> str | None:
    present = set(features)
    return next((known.reason for known in KNOWN_UNSOUND if known.features <= present), None)


def _failure_text(program, report) -> str:
    fixed = report.safe if any(f.startswith("safe") for f in report.failures) else report.unsafe
    return "\n".join([program.source, "--- fixed:", fixed.text, *report.failures[:4]])


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(st.data())
def test_fixed_programs_behave_like_the_originals(data) -> None:
    program = build(lambda n: data.draw(st.integers(0, n - 1)))
    report = check_case(program.case)
    if report.failures and known_reason(program.features):
        return
    assert not report.failures, _failure_text(program, report)


@pytest.mark.parametrize("known", KNOWN_UNSOUND, ids=lambda known: "+".join(sorted(known.features)))
def test_known_unsound_class_still_mismatches(known: KnownUnsound) -> None:
    program, report = run_choices(list(known.example))
    assert known.features <= set(program.features), program.features
    assert report.failures, f"no longer mismatches: remove this class from KNOWN_UNSOUND ({known.reason})"


def test_generator_exercises_fixes() -> None:
    """Most drawn programs must give einlint something to fix, or the fuzzer tests nothing."""
    rng = random.Random(0)
    reports = [check_case(build(Recorded(rng=rng)).case) for _ in range(30)]
    fixed = sum(bool(report.safe.applied or report.unsafe.applied) for report in reports)
    assert fixed >= 10, fixed
