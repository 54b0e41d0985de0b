"""The verifier under hostile input: every case stays within its profile's budget, inputs over budget
are not built, and whatever fails while verifying one fix (allocation, time, an error of the verifier
itself) becomes that fix's "not verifiable" verdict while the run goes on."""

from __future__ import annotations

import math
import string
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")

from einlint.diagnostics import Applicability, Diagnostic, Edit, Fix, FixTarget  # noqa: E402
from einlint.verify import verifier  # noqa: E402
from einlint.verify.equivalence import ResourceExhausted, check_case, compile_pair  # noqa: E402
from einlint.verify.expressions import prepare  # noqa: E402
from einlint.verify.inputs import BUDGETS, MEMORY_BUDGET, InputCase, OverBudget, plan  # noqa: E402
from einlint.verify.verifier import EQUIVALENT, NOT_VERIFIABLE, VerifyOptions, verify_findings, verify_pair  # noqa: E402

TINY = VerifyOptions(profiles=("tiny",), timing=False, use_cache=False)
ALL_PROFILES = VerifyOptions(timing=False, use_cache=False)


def _identity_pair(labels: int) -> tuple[str, str]:
    """EIN006's fix on an einsum of ``labels`` labels: an output ``...`` that stands for nothing."""
    letters = string.ascii_lowercase[:labels]
    return f"torch.einsum('{letters}->...{letters}', x)", f"torch.einsum('{letters}->{letters}', x)"


@pytest.mark.parametrize("labels", [10, 11, 12, 13, 20])
def test_an_einsum_with_too_many_labels_is_over_budget_and_nothing_is_built(labels: int, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("an input over budget was built")

    monkeypatch.setattr(verifier, "check_case", never)
    result = verify_pair(*_identity_pair(labels), options=ALL_PROFILES)
    assert result.verdict == NOT_VERIFIABLE
    assert result.reason.startswith("over budget: tiny:") and "multiply-adds" in result.reason


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param(_identity_pair(9), id="nine-labels"),
        pytest.param(_identity_pair(4), id="four-labels"),
        pytest.param(("torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)"), id="bmm"),
        pytest.param(("(x.unsqueeze(-1) * y.unsqueeze(-2)).sum(0)", "torch.einsum('di,dj->ij', x, y)"), id="outer-sum"),
        pytest.param(("torch.einsum('abcdefg,gh->abcdefh', x, w)", "torch.einsum('abcdefg,gh->abcdefh', x, w)"), id="rank-7"),
        pytest.param(("torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b.transpose(-1, -2))"), id="searched"),
    ],
)
def test_every_planned_case_fits_its_profile_budget(pair: tuple[str, str]) -> None:
    prepared = prepare(*pair)
    case_plan = plan(prepared, ("tiny", "medium", "large"), compile_pair(prepared)[0])
    assert case_plan.cases
    for case in case_plan.cases:
        budget = BUDGETS[case.profile]
        assert all(math.prod(shape) <= budget.tensor_elements for shape in case.shapes), case
    assert MEMORY_BUDGET <= 512 * 2**20  # the figure the README states


def test_nine_labels_are_verified_at_the_tiny_size_and_the_verdict_says_what_was_left_out() -> None:
    result = verify_pair(*_identity_pair(9), options=ALL_PROFILES)
    assert result.verdict == EQUIVALENT, result.reason
    assert {case.case.split("/")[0] for case in result.cases} == {"tiny"}
    skipped = [note for note in result.notes if note.startswith("not tried, over budget:")]
    assert [note.split(":")[1].strip() for note in skipped] == ["medium", "large"]


def test_the_tiny_profile_itself_refuses_what_does_not_fit() -> None:
    with pytest.raises(OverBudget, match="tiny: 11 dimensions"):
        plan(prepare(*_identity_pair(11)), ("tiny",))


@pytest.mark.parametrize("names", [7, 9, 12, 30])
def test_an_expression_that_reads_many_names_gets_a_verdict(names: int) -> None:
    # Shapes are searched for with one size per dimension; seven or more operands of rank 4 once ran
    # past the list of sizes (an IndexError that ended the run).
    operands = [f"n{index}" for index in range(names)]
    original = "(" + " + ".join(operands) + ").contiguous()"
    result = verify_pair(original, " + ".join(operands), options=TINY)
    assert result.verdict in (EQUIVALENT, NOT_VERIFIABLE), result.reason
    assert "internal error" not in result.reason


def test_an_error_of_the_verifier_is_that_fix_s_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise IndexError("list index out of range")

    monkeypatch.setattr(verifier, "check_case", broken)
    result = verify_pair("torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)", options=TINY)
    assert (result.verdict, result.reason) == (NOT_VERIFIABLE, "internal error of the verifier (IndexError: list index out of range)")


def test_an_allocation_failure_is_over_budget_not_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    case = InputCase("tiny", "contiguous", ((3, 4),))

    def allocating(a):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")

    # Only the rewrite fails to allocate: that says nothing about what it computes.
    with pytest.raises(ResourceExhausted):
        check_case(lambda a: a * 2, allocating, case, "float64", "cpu", seed=0)

    def exhausted(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(verifier, "check_case", exhausted)
    result = verify_pair("torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)", options=TINY)
    assert result.verdict == NOT_VERIFIABLE and result.reason.startswith("over budget: allocation failed (MemoryError")


def test_the_time_budget_ends_a_fix_s_verification_and_is_not_cached() -> None:
    options = replace(TINY, time_budget=0.0, use_cache=True)
    pair = ("torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)")
    result = verify_pair(*pair, options=options)
    assert result.verdict == NOT_VERIFIABLE
    assert result.reason.startswith("over the time budget of 0 s after 0 of ")
    assert not verify_pair(*pair, options=options).cached


def _finding(text: str, old: str, new: str, line: int) -> Diagnostic:
    """A finding whose fix replaces the whole expression ``old`` by ``new`` (its target is that pair)."""
    start = text.index(old)
    column = start - (text.rfind("\n", 0, start) + 1)
    fix = Fix(Applicability.SAFE, (Edit(start, start + len(old), new),), target=FixTarget("the bmm call", old, new))
    return Diagnostic("f.py", line, column, line, column + len(old), "EIN999", "m", fix)


def test_the_run_goes_on_after_a_fix_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "y = torch.bmm(q, k.transpose(1, 2))\nz = torch.bmm(a, b.transpose(1, 2))\n"
    findings = [
        (_finding(text, "torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)", 1), text),
        (_finding(text, "torch.bmm(a, b.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', a, b)", 2), text),
    ]
    real = verifier.check_case
    calls = []

    def fails_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("division by zero")
        return real(*args, **kwargs)

    monkeypatch.setattr(verifier, "check_case", fails_first)
    first, second = verify_findings(findings, TINY)
    assert first.result.verdict == NOT_VERIFIABLE and "ZeroDivisionError" in first.result.reason
    assert second.result.verdict == EQUIVALENT, second.result.reason


# Runs einlint in a fresh interpreter and reports the peak RSS of the run: that process's own (VmHWM,
# which exec resets; ru_maxrss of a child would include the forked test process's pages) plus that of
# the verifier's worker process (its child; counted from the fork, so the sum is on the safe side).
PEAK_OF_EINLINT = """
import resource, sys
from einlint.cli import main
code = main(sys.argv[1:])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(f"PEAK_KB {peak.split()[1]} {worker} {int('torch' in sys.modules)}\\n")
sys.exit(code)
"""


def peak_of_einlint(arguments: list[str], cache: str) -> tuple[int, str, int, int, bool]:
    """(exit code, stdout, peak RSS of einlint's process and of its worker process in bytes, whether
    einlint's own process imported torch) of ``einlint ARGUMENTS``."""
    import os
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", PEAK_OF_EINLINT, *arguments], capture_output=True, text=True,
        env=dict(os.environ, EINLINT_CACHE_DIR=cache), timeout=600,
    )  # fmt: skip
    own, worker, torch_imported = run.stderr.rsplit("PEAK_KB ", 1)[1].split()[:3]
    return run.returncode, run.stdout, int(own) * 1024, int(worker) * 1024, torch_imported == "1"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_peak_memory_of_verifying_a_12_label_einsum_stays_under_the_stated_budget(tmp_path: Path) -> None:
    path = tmp_path / "labels.py"
    path.write_text('import torch\n\n\ndef f(x):\n    return torch.einsum("abcdefghijkl->...abcdefghijkl", x)\n', encoding="utf-8")
    code, output, own, worker, torch_imported = peak_of_einlint(["--verify", "--device", "cpu", "--format", "json", str(path)], str(tmp_path))
    assert code == 0 and "over budget" in output
    assert not torch_imported  # only the worker imports torch
    assert worker > 100 * 2**20  # torch was loaded there: the verification did run in the worker
    assert own + worker < 700 * 2**20  # the README's figure
